// Package embeddedpg runs a private PostgreSQL cluster as a child process,
// using the PostgreSQL server binaries already installed on the machine.
//
// It exists for two callers: the server, whose default database (when no
// DATABASE_URL is configured) is such a cluster kept in a persistent data
// directory, and the test harness, which starts a throwaway cluster on tmpfs
// with durability turned off. Nothing is downloaded: the binaries are found
// with [FindBinDir], and their absence is reported as [ErrNoBinaries].
//
// initdb and postgres refuse to run as root, so when the calling process is
// root they run as the "postgres" account (or "nobody"), with the data
// directory chowned to it. The postmaster gets SIGKILL when the process that
// started it dies, so a killed server or test binary leaves nothing running;
// [Cluster.Stop] shuts it down cleanly and should always be called.
//
// The package supports Unix-like systems only; the parent-death signal is
// set where the platform has one (Linux, FreeBSD).
package embeddedpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoBinaries reports that no directory holding the PostgreSQL server
// binaries (initdb and postgres) was found. Errors returned by [FindBinDir]
// and [Start] for that reason match it with [errors.Is].
var ErrNoBinaries = errors.New("embeddedpg: PostgreSQL server binaries (initdb, postgres) not found: " +
	"install PostgreSQL server binaries, e.g. `apt-get install -y postgresql-15` (Debian), " +
	"or set PG_BINDIR to the directory that holds initdb and postgres")

const (
	// startTimeout bounds the wait for the postmaster to report "ready".
	startTimeout = 30 * time.Second
	// stopTimeout bounds the wait for a fast shutdown before SIGKILL.
	stopTimeout = 30 * time.Second
	// pollInterval is how often postmaster.pid is read while starting.
	pollInterval = 5 * time.Millisecond
	// maxSocketPath is the longest unix socket path used; the kernel limit
	// is about 107 bytes.
	maxSocketPath = 99
	// logName is the file, inside the data directory, that receives the
	// postmaster's stdout and stderr.
	logName = "postgres.log"
)

// Config describes the cluster to start.
type Config struct {
	// DataDir is the cluster's data directory. It is created (mode 0700)
	// if missing, along with its parents, and initialized with initdb only
	// when DataDir/PG_VERSION is missing. Existing data is never removed.
	DataDir string
	// Port is the TCP port postgres listens on at 127.0.0.1. Zero picks a
	// free port.
	Port int
	// BinDir is the directory that holds initdb and postgres. Empty means
	// discover it with FindBinDir.
	BinDir string
	// Ephemeral turns off fsync, full_page_writes and synchronous_commit:
	// much faster, but a crash of the machine can corrupt the data. For
	// tests only.
	Ephemeral bool
	// Logger receives progress messages. Nil discards them.
	Logger *slog.Logger
}

// Cluster is a running postmaster started by Start.
type Cluster struct {
	dataDir    string
	sockDir    string
	ownSockDir bool // sockDir was created by Start and is removed by Stop
	port       int
	log        *slog.Logger

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed when the postmaster has exited
	waitErr error         // the postmaster's exit status, set before done closes

	stopOnce sync.Once
	stopErr  error
}

// account is the user the server processes run as when the caller is root.
type account struct {
	name     string
	uid, gid uint32
}

// Start starts a PostgreSQL cluster in cfg.DataDir, running initdb first if
// the directory holds no cluster yet, and returns once the server accepts
// connections. ctx bounds initdb and the wait for readiness; cancelling it
// later does not affect the running server. The caller must call Stop.
//
// Start refuses, without changing anything, a data directory created by
// another major version of PostgreSQL, and a data directory in use by a
// running postmaster.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("embeddedpg: Config.DataDir is required")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("embeddedpg: invalid port %d", cfg.Port)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embeddedpg: data directory: %w", err)
	}

	binDir := cfg.BinDir
	if binDir == "" {
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if !hasBinaries(binDir) {
		return nil, fmt.Errorf("%w (Config.BinDir %s lacks them)", ErrNoBinaries, binDir)
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return nil, fmt.Errorf("embeddedpg: binary directory: %w", err)
	}
	major, err := binaryMajor(filepath.Join(binDir, "postgres"))
	if err != nil {
		return nil, err
	}

	// Refuse a cluster of another major version before touching anything.
	needInit := false
	switch v, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION")); {
	case errors.Is(err, fs.ErrNotExist):
		needInit = true
	case err != nil:
		return nil, fmt.Errorf("embeddedpg: %w", err)
	default:
		if have := strings.TrimSpace(string(v)); have != major {
			return nil, fmt.Errorf("embeddedpg: data directory %s holds a PostgreSQL %s cluster (PG_VERSION) "+
				"but the binaries in %s are PostgreSQL %s; the directory was left untouched: "+
				"use PostgreSQL %s binaries (PG_BINDIR), upgrade the cluster with pg_upgrade, "+
				"or choose another data directory", dataDir, have, binDir, major, have)
		}
	}

	var acct *account
	if os.Geteuid() == 0 {
		if acct, err = serverAccount(); err != nil {
			return nil, err
		}
	}
	if err := prepareDataDir(dataDir, acct, log); err != nil {
		return nil, err
	}

	if needInit {
		t0 := time.Now()
		log.Info("initializing PostgreSQL data directory", "dir", dataDir, "version", major)
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
			"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions", "-D", dataDir)
		cmd.Dir = filepath.Dir(dataDir)
		cmd.Env = childEnv()
		cmd.SysProcAttr = sysProcAttr(acct)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("embeddedpg: initdb %s: %w\n%s", dataDir, err, bytes.TrimSpace(out))
		}
		log.Info("initialized PostgreSQL data directory", "dir", dataDir, "took", time.Since(t0))
	}

	logFile, err := os.OpenFile(filepath.Join(dataDir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embeddedpg: %w", err)
	}
	if acct != nil {
		if err := logFile.Chown(int(acct.uid), int(acct.gid)); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("embeddedpg: %w", err)
		}
	}

	c := &Cluster{dataDir: dataDir, log: log, logFile: logFile}
	if err := c.chooseSocketDir(acct); err != nil {
		logFile.Close()
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		port := cfg.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				c.cleanup()
				return nil, err
			}
		}
		err := c.start(ctx, binDir, port, cfg.Ephemeral, acct)
		if err == nil {
			return c, nil
		}
		if cfg.Port == 0 && attempt == 1 && errors.As(err, new(bindError)) {
			log.Info("port taken before postgres bound it; retrying with another", "port", port)
			continue
		}
		c.cleanup()
		return nil, err
	}
}

// bindError marks a start that failed because the port was taken.
type bindError struct{ error }

func (e bindError) Unwrap() error { return e.error }

// start runs the postmaster on port and waits until it is ready. On failure
// the postmaster is gone when start returns.
func (c *Cluster) start(ctx context.Context, binDir string, port int, ephemeral bool, acct *account) error {
	t0 := time.Now()
	logStart, err := c.logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("embeddedpg: %w", err)
	}
	args := []string{
		"-D", c.dataDir,
		"-p", strconv.Itoa(port),
		"-k", c.sockDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200",
		// The cluster's files are on local disk or tmpfs, where a random read
		// costs little more than a sequential one (the usual SSD setting).
		// At the default of 4 a batch read of 50 keys scans a table of
		// 5,000 sessions whole instead of probing its index (0.8 ms against 0.4).
		"-c", "random_page_cost=1.1",
	}
	if ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = c.dataDir
	cmd.Env = childEnv()
	cmd.Stdout = c.logFile
	cmd.Stderr = c.logFile
	cmd.SysProcAttr = sysProcAttr(acct)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("embeddedpg: start postgres: %w", err)
	}
	c.cmd, c.port, c.done, c.waitErr = cmd, port, make(chan struct{}), nil
	go func(done chan struct{}) {
		c.waitErr = cmd.Wait()
		close(done)
	}(c.done)

	fail := func(format string, a ...any) error {
		c.kill()
		tail := c.logTail(logStart)
		err := fmt.Errorf("embeddedpg: postgres in %s: "+format+"; last lines of %s:\n%s",
			append(append([]any{c.dataDir}, a...), filepath.Join(c.dataDir, logName), tail)...)
		if strings.Contains(tail, "could not bind") {
			err = bindError{err}
		}
		return err
	}

	pidFile := filepath.Join(c.dataDir, "postmaster.pid")
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if pid, status, ok := readPidFile(pidFile); ok && pid == cmd.Process.Pid && status == "ready" {
			c.log.Info("PostgreSQL ready", "port", port, "dir", c.dataDir, "took", time.Since(t0))
			return nil
		}
		select {
		case <-c.done:
			return fail("exited while starting (%v)", c.waitErr)
		case <-ctx.Done():
			return fail("start cancelled: %w", ctx.Err())
		case <-deadline.C:
			return fail("not ready after %s", startTimeout)
		case <-tick.C:
		}
	}
}

// URL returns a connection URL for database dbname, as the superuser
// "postgres" over TCP without TLS (authentication is trust).
func (c *Cluster) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, url.PathEscape(dbname))
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down with a fast shutdown (SIGINT: sessions are
// ended, open transactions rolled back, a checkpoint written) and waits for
// it to exit, killing it if it has not within 30 seconds. It is safe to call
// more than once; later calls return the first call's result.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	defer c.cleanup()
	select {
	case <-c.done:
		return fmt.Errorf("embeddedpg: postgres in %s had already exited: %v", c.dataDir, c.waitErr)
	default:
	}
	t0 := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		c.kill()
		return fmt.Errorf("embeddedpg: stop postgres: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		c.kill()
		return fmt.Errorf("embeddedpg: postgres in %s did not stop within %s; killed", c.dataDir, stopTimeout)
	}
	if c.waitErr != nil {
		return fmt.Errorf("embeddedpg: postgres in %s: %w", c.dataDir, c.waitErr)
	}
	c.log.Info("PostgreSQL stopped", "dir", c.dataDir, "took", time.Since(t0))
	return nil
}

// kill sends SIGKILL to the postmaster's process group (its backends too)
// and waits for the postmaster to exit.
func (c *Cluster) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	if err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = c.cmd.Process.Kill()
	}
	<-c.done
}

// cleanup releases what Start acquired besides the process.
func (c *Cluster) cleanup() {
	if c.logFile != nil {
		c.logFile.Close()
	}
	if c.ownSockDir {
		os.RemoveAll(c.sockDir)
	}
}

// logTail returns the last lines the postmaster logged since offset from.
func (c *Cluster) logTail(from int64) string {
	f, err := os.Open(filepath.Join(c.dataDir, logName))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	const maxBytes = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size()-from > maxBytes {
		from = fi.Size() - maxBytes
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, from, maxBytes))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// chooseSocketDir puts the unix socket in the data directory when the
// socket's path is short enough, else in a new directory under the
// temporary directory (or /tmp).
func (c *Cluster) chooseSocketDir(acct *account) error {
	fits := func(dir string) bool { return len(dir)+len("/.s.PGSQL.65535") <= maxSocketPath }
	if fits(c.dataDir) {
		c.sockDir = c.dataDir
		return nil
	}
	base := os.TempDir()
	if !fits(filepath.Join(base, "pgsock-0123456789")) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgsock-")
	if err != nil {
		return fmt.Errorf("embeddedpg: socket directory: %w", err)
	}
	c.sockDir, c.ownSockDir = dir, true
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("embeddedpg: socket directory: %w", err)
	}
	if acct != nil {
		if err := os.Chown(dir, int(acct.uid), int(acct.gid)); err != nil {
			return fmt.Errorf("embeddedpg: socket directory: %w", err)
		}
	}
	return nil
}

// prepareDataDir creates the data directory if missing, refuses one in use
// by a live postmaster, removes a stale postmaster.pid and, when acct is
// set, hands the directory to acct and makes its parents traversable.
func prepareDataDir(dataDir string, acct *account, log *slog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("embeddedpg: %w", err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("embeddedpg: %w", err)
	}

	pidFile := filepath.Join(dataDir, "postmaster.pid")
	if pid, _, ok := readPidFile(pidFile); ok {
		if processAlive(pid) {
			return fmt.Errorf("embeddedpg: data directory %s is in use by another postmaster (pid %d); "+
				"stop it first", dataDir, pid)
		}
		log.Info("removing stale postmaster.pid", "dir", dataDir, "pid", pid)
		if err := os.Remove(pidFile); err != nil {
			return fmt.Errorf("embeddedpg: remove stale %s: %w", pidFile, err)
		}
	}

	if acct == nil {
		return nil
	}
	for dir := filepath.Dir(dataDir); ; dir = filepath.Dir(dir) {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil {
			return fmt.Errorf("embeddedpg: %s: %w", dir, err)
		}
		if !traversable(&st, acct) {
			mode := uint32(st.Mode)&0o7777 | 0o001
			log.Info("making directory traversable by the server account", "dir", dir,
				"account", acct.name, "mode", fmt.Sprintf("%04o", mode))
			if err := syscall.Chmod(dir, mode); err != nil {
				return fmt.Errorf("embeddedpg: make %s traversable for %s: %w", dir, acct.name, err)
			}
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == acct.uid && st.Gid == acct.gid {
			return nil
		}
		return os.Lchown(path, int(acct.uid), int(acct.gid))
	})
	if err != nil {
		return fmt.Errorf("embeddedpg: hand %s to %s: %w", dataDir, acct.name, err)
	}
	return nil
}

// traversable reports whether acct may search the directory described by st
// (supplementary groups are not considered).
func traversable(st *syscall.Stat_t, acct *account) bool {
	switch {
	case st.Uid == acct.uid:
		return st.Mode&0o100 != 0
	case st.Gid == acct.gid:
		return st.Mode&0o010 != 0
	default:
		return st.Mode&0o001 != 0
	}
}

// readPidFile returns the pid (line 1) and status (line 8) recorded in a
// postmaster.pid file.
func readPidFile(path string) (pid int, status string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", false
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	if len(lines) >= 8 {
		status = strings.TrimSpace(lines[7])
	}
	return pid, status, true
}

// processAlive reports whether pid is a live process that may be a
// postmaster. Where /proc exists, a live process whose command line does
// not mention postgres is a reused pid, not a postmaster.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil {
		return bytes.Contains(cmdline, []byte("postgres"))
	}
	return true
}

// serverAccount returns the account the server runs as under root:
// "postgres", else "nobody".
func serverAccount() (*account, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, errors.New("embeddedpg: running as root, but neither a \"postgres\" nor a \"nobody\" account " +
		"exists to run PostgreSQL as (it refuses root); create one, e.g. `useradd --system postgres`")
}

// sysProcAttr puts the child in its own process group (a terminal's Ctrl-C
// reaches only the Go process, which then stops the server itself), has it
// killed when its parent dies, and runs it as acct when set.
func sysProcAttr(acct *account) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if acct != nil {
		attr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid}
	}
	// Pdeathsig exists only on some platforms (Linux, FreeBSD); set it by
	// name so the package still builds elsewhere.
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() &&
		f.Type() == reflect.TypeFor[syscall.Signal]() {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
	return attr
}

// childEnv is the environment of initdb and postgres: the caller's, with
// messages in the C locale so that failures read the same everywhere.
func childEnv() []string {
	return append(os.Environ(), "LC_ALL=C", "LANG=C")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("embeddedpg: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// binaryMajor returns the major version of a postgres binary in the form
// PG_VERSION files use: "15", or "9.6" before version 10.
func binaryMajor(postgres string) (string, error) {
	out, err := exec.Command(postgres, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("embeddedpg: %s --version: %w", postgres, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("embeddedpg: %s --version: unexpected output %q", postgres, bytes.TrimSpace(out))
	}
	major := string(m[1])
	if n, _ := strconv.Atoi(major); n < 10 && len(m[2]) > 0 {
		major += "." + string(m[2])
	}
	return major, nil
}

// FindBinDir returns the directory holding the PostgreSQL server binaries
// initdb and postgres. It tries, in order: the PG_BINDIR environment
// variable (which, when set, must be right), the directory of initdb found
// on PATH (symlinks resolved), `pg_config --bindir`, and
// /usr/lib/postgresql/*/bin, highest version first. When none holds both
// binaries the error matches ErrNoBinaries.
func FindBinDir() (string, error) {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		if hasBinaries(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w (PG_BINDIR=%s lacks them)", ErrNoBinaries, dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil && hasBinaries(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	if p, err := exec.LookPath("pg_config"); err == nil {
		if out, err := exec.Command(p, "--bindir").Output(); err == nil {
			if dir := strings.TrimSpace(string(out)); dir != "" && hasBinaries(dir) {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, dir := range dirs {
		if hasBinaries(dir) {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

// compareVersions compares dotted numeric versions ("9.6" < "15").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// hasBinaries reports whether dir holds executable initdb and postgres files.
func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}
