package e2e

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStarting: the HTTP port opens before the database is reached. While the
// server waits for its database it is alive (/healthz 200) but not ready
// (/readyz 503), and every other request gets 503 with Retry-After; a
// database that never answers ends the process with the error.
func TestStarting(t *testing.T) {
	t.Parallel()
	db := silentDatabase(t)
	s := launch(t, "DATABASE_URL=postgres://app@"+db+"/app?sslmode=disable",
		"DB_CONNECT_TIMEOUT=3s", "MIGRATE_ON_START=false", "APP_ENV=production")

	eventually(t, "healthz 200 while starting", 5*time.Second, func() bool { return s.status("/healthz") == http.StatusOK })
	if got := s.status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz while starting: %d, want 503", got)
	}
	resp, err := client.Post(s.base+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("GraphQL while starting: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	select {
	case err := <-s.done:
		if err == nil {
			t.Fatal("the server exited without an error, its database never answered")
		}
		if !strings.Contains(s.log.String(), "database: connect") {
			t.Errorf("the log does not say the database did not answer:\n%s", s.log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server still runs, though its database never answered")
	}
}

// silentDatabase returns the address of a TCP server that accepts connections
// and never answers, like a database host behind a dropping firewall.
func silentDatabase(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestJobQueueUnreachable: the job queue starts in the background, after the
// server is ready; a direct connection (DATABASE_URL_UNPOOLED) that never
// answers still ends the process, with the error.
func TestJobQueueUnreachable(t *testing.T) {
	t.Parallel()
	pg := cluster(t, 0, "")
	url := pg.URL("postgres")
	run(t, []string{"DATABASE_URL=" + url}, "migrate")
	s := launch(t, "DATABASE_URL="+url, "DATABASE_URL_UNPOOLED=postgres://app@"+silentDatabase(t)+"/app?sslmode=disable",
		"DB_CONNECT_TIMEOUT=1s", "MIGRATE_ON_START=false", "APP_ENV=production")
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(s.log.String(), "jobs: start") {
			t.Fatalf("exit %v; want an error that names the job queue's start:\n%s", err, s.log.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the server still runs, though its job queue cannot start:\n%s", s.log.String())
	}
}
