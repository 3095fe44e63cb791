package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/seed"
)

// jsClients returns the folder of the JavaScript driver with its packages
// installed (npm ci, once), or skips the test where Node.js or the npm
// registry is not available.
func jsClients(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "jsclient"))
	if err != nil {
		t.Fatal(err)
	}
	jsInstall.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "graphql-ws")); err == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			jsInstallErr = fmt.Errorf("npm ci: %v\n%s", err, out)
		}
	})
	if jsInstallErr != nil {
		t.Skipf("the JavaScript clients could not be installed: %v", jsInstallErr)
	}
	return dir
}

var (
	jsInstall    sync.Once
	jsInstallErr error
)

// TestRealClients: the npm graphql-ws and graphql-sse clients, written as
// the README shows (a fresh token and the resume point in connectionParams
// or headers, default retries), follow a chat across several token expiries
// (tokens live 2 s) while a sender posts steadily: every message arrives
// exactly once, in order.
//
// Not parallel with the other tests (its two clients run beside each other):
// Node beside timing-sensitive tests would slow them, as for the HTTP audit.
func TestRealClients(t *testing.T) {
	dir := jsClients(t)
	for _, mode := range []string{"ws", "sse"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv := e.live()
			sid, guest := e.openSession()
			url := srv.URL + "/graphql"
			if mode == "ws" {
				url = wsURL(srv)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "chat.mjs")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "URL="+url, "SECRET="+secret, "CLERK_ID="+seed.Solver1,
				"SESSION="+sid, "MODE="+mode, "TOKEN_TTL=2")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var (
				mu       sync.Mutex
				bodies   []string
				expiries int // 4403 closes (ws), reconnects (sse)
				lines    []string
			)
			read := make(chan struct{})
			go func() {
				defer close(read)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					var l struct {
						Body         *string
						Closed       int
						Reason       string
						Reconnecting bool
					}
					json.Unmarshal(sc.Bytes(), &l)
					mu.Lock()
					lines = append(lines, sc.Text())
					switch {
					case l.Body != nil && *l.Body != "END":
						bodies = append(bodies, *l.Body)
					case l.Closed == 4403 && l.Reason == "token expired", l.Reconnecting:
						expiries++
					}
					mu.Unlock()
				}
			}()
			subscribed(t, e.hub, 1)
			n := 0
			for start := time.Now(); time.Since(start) < 40*time.Second; n++ {
				mu.Lock()
				enough := expiries >= 3
				mu.Unlock()
				if enough && time.Since(start) > 5*time.Second {
					break
				}
				e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("0-%03d", n)})
				time.Sleep(50 * time.Millisecond)
			}
			e.must(guest, send, map[string]any{"id": sid, "body": "END"})
			<-read
			err = cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Fatalf("node: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(lines, "\n"), stderr.String())
			}
			if len(bodies) != n {
				t.Fatalf("received %d of %d messages:\n%s", len(bodies), n, strings.Join(lines, "\n"))
			}
			checkOrder(t, bodies, 1, n)
			if expiries < 3 {
				t.Fatalf("only %d expiries:\n%s", expiries, strings.Join(lines, "\n"))
			}
			t.Logf("%s: %d messages across %d token expiries", mode, n, expiries)
		})
	}
}
