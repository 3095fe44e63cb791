// Package e2e drives the real server binary as its own process, the way it
// runs in production: database outages, SIGTERM under load, poolers.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/embeddedpg"
)

var binary string // the server, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "savvysolve-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "savvysolve")
	build := exec.Command("go", "build", "-o", binary, "../..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const secret = "e2e-secret"

// cluster starts a private PostgreSQL for one test.
func cluster(t *testing.T, port int, dir string) *embeddedpg.Cluster {
	t.Helper()
	if dir == "" {
		dir = shmDir(t)
	}
	c, err := embeddedpg.Start(context.Background(), embeddedpg.Config{DataDir: filepath.Join(dir, "pg"), Port: port, Ephemeral: true})
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("no PostgreSQL: ", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	return c
}

func shmDir(t *testing.T) string {
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	d, err := os.MkdirTemp(base, "e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a running server process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	log  *syncBuffer
	done chan error
}

// run runs a command of the binary to completion.
func run(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// launch starts `serve` with env, without waiting for it.
func launch(t *testing.T, env ...string) *server {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), append([]string{
		fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1", "AUTH_JWT_SECRET=" + secret, "SEED_ON_START=false",
	}, env...)...)
	s := &server{t: t, cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), log: new(syncBuffer), done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	return s
}

// start starts `serve` with env and waits for /readyz.
func start(t *testing.T, env ...string) *server {
	t.Helper()
	s := launch(t, env...)
	deadline := time.Now().Add(30 * time.Second)
	for s.status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("server not ready:\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

var client = &http.Client{Timeout: 10 * time.Second}

func (s *server) status(path string) int {
	resp, err := client.Get(s.base + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

type response struct {
	Data   map[string]any
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
	took       time.Duration
	status     int
	retryAfter string
}

func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// gql posts an operation as clerkID ("" anonymous); a transport error is returned as err.
func (s *server) gql(clerkID, query string, vars map[string]any) (response, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if clerkID != "" {
		req.Header.Set("Authorization", "Bearer "+tokenFor(clerkID))
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return response{took: time.Since(t0)}, err
	}
	defer resp.Body.Close()
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("status %d: body is not JSON: %w", resp.StatusCode, err)
	}
	r.took, r.status, r.retryAfter = time.Since(t0), resp.StatusCode, resp.Header.Get("Retry-After")
	return r, nil
}

func (s *server) must(clerkID, query string, vars map[string]any) map[string]any {
	s.t.Helper()
	r, err := s.gql(clerkID, query, vars)
	if err != nil || len(r.Errors) > 0 {
		s.t.Fatalf("%s: %v %+v", query, err, r.Errors)
	}
	return r.Data
}

func tokenFor(clerkID string) string {
	tok, err := auth.SignHS256([]byte(secret), clerkID, time.Hour)
	if err != nil {
		panic(err)
	}
	return tok
}

// openSession claims and starts the seeded claimed ticket's session as seed_solver_1.
func (s *server) openSession() string {
	d := s.must("seed_solver_1", `mutation { startSession(ticketId: "00000000-0000-4000-8000-000000000203") { id } }`, nil)
	return d["startSession"].(map[string]any)["id"].(string)
}

// subscriber is a graphql-transport-ws client following one session's chat.
type subscriber struct {
	c    *websocket.Conn
	msgs chan string // bodies
	err  chan error
}

// subscribe follows a session's chat as clerkID, from the message after
// (its id; "" for the messages sent from now on). It returns once the server
// has accepted the connection (connection_ack): the socket is registered.
// With after, no message committed after it is missed, however long the
// subscription takes to start.
func (s *server) subscribe(t *testing.T, clerkID, sessionID, after string) *subscriber {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, _, err := d.Dial(strings.Replace(s.base, "http", "ws", 1)+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tokenFor(clerkID)}})
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ack struct{ Type string }
	if err := c.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v %v", ack, err)
	}
	c.SetReadDeadline(time.Time{})
	vars := map[string]any{"id": sessionID}
	if after != "" {
		vars["after"] = after
	}
	c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query":     `subscription($id: ID!, $after: ID) { sessionMessages(sessionId: $id, after: $after) { body } }`,
		"variables": vars,
	}})
	sub := &subscriber{c: c, msgs: make(chan string, 10000), err: make(chan error, 1)}
	go func() {
		for {
			var m struct {
				Type    string
				Payload struct {
					Data map[string]map[string]any
				}
			}
			if err := c.ReadJSON(&m); err != nil {
				sub.err <- err
				return
			}
			if m.Type == "ping" {
				c.WriteJSON(map[string]any{"type": "pong"})
			}
			if m.Type == "next" {
				sub.msgs <- fmt.Sprint(m.Payload.Data["sessionMessages"]["body"])
			}
		}
	}()
	return sub
}

// eventually polls cond every few milliseconds until it holds, failing the
// test after timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// syncBuffer is the server's output: the process writes it while a failing
// test may already read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
