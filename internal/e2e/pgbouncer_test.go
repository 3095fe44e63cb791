package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// pgbouncer starts a transaction-pooling PgBouncer in front of the database
// at pgPort and returns its port. It skips the test when the binary is missing.
func pgbouncer(t *testing.T, pgPort int) int {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if bin = "/usr/sbin/pgbouncer"; !exists(bin) {
			t.Skip("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
		}
	}
	dir := shmDir(t)
	os.Chmod(dir, 0o755)
	port := freePort(t)
	ini := fmt.Sprintf(`[databases]
app = host=127.0.0.1 port=%d dbname=postgres user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %[3]s/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 10
ignore_startup_parameters = extra_float_digits,statement_timeout
logfile = %[3]s/pgbouncer.log
pidfile = %[3]s/pgbouncer.pid
`, pgPort, port, dir)
	write(t, filepath.Join(dir, "pgbouncer.ini"), ini)
	write(t, filepath.Join(dir, "users.txt"), `"postgres" ""`+"\n")
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 { // PgBouncer refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres account for PgBouncer")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgbouncer: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitPort(t, port)
	return port
}

// TestBehindPgBouncer: queries and mutations go through a transaction-pooling
// PgBouncer (DATABASE_URL, with pgx's statement mode set for it), migrations
// and LISTEN through the direct URL; chat still reaches subscribers.
func TestBehindPgBouncer(t *testing.T) {
	t.Parallel()
	pg := cluster(t, 0, "")
	bouncer := pgbouncer(t, pg.Port())
	direct := pg.URL("postgres")
	pooled := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", bouncer)
	env := []string{"DATABASE_URL=" + pooled, "DATABASE_URL_UNPOOLED=" + direct, "DB_EXEC_MODE=cache_describe"}
	run(t, env, "migrate")
	run(t, []string{"DATABASE_URL=" + pooled, "DB_EXEC_MODE=exec"}, "seed")
	s := start(t, env...)
	sid := s.openSession()
	first := s.must("seed_customer_3", sendMessage, map[string]any{"id": sid, "b": "first"})
	sub := s.subscribe(t, "seed_customer_3", sid, first["sendMessage"].(map[string]any)["id"].(string))
	for i := 0; i < 30; i++ {
		s.must("seed_customer_3", sendMessage, map[string]any{"id": sid, "b": fmt.Sprintf("m%d", i)})
		s.must("seed_admin", `{ tickets(first: 5) { totalCount edges { node { solver { user { name } } sessions { messages(first: 3) { edges { node { body } } } } } } } }`, nil)
	}
	for i := 0; i < 30; i++ {
		select {
		case b := <-sub.msgs:
			if b != fmt.Sprintf("m%d", i) {
				t.Fatalf("got %s, want m%d", b, i)
			}
		case err := <-sub.err:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not delivered", i)
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func write(t *testing.T, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitPort waits until something listens on port.
func waitPort(t *testing.T, port int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %d", port)
}
