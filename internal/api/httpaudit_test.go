package api_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// auditDir holds the audit script and its npm dependencies (package-lock.json
// committed; node_modules installed by `npm ci`, by .ci/run or on first use).
const auditDir = "testdata/httpaudit"

// TestGraphQLOverHTTPAudit runs graphql-http's auditServer, the
// GraphQL-over-HTTP spec's own audit, against the real handler on a real
// database: every audit must pass, warnings and notices included.
//
// Not parallel: it runs before the parallel tests start, so that a Node
// process and its bursts of requests do not steal the CPU from the tests
// that measure batching windows and deadlines.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	node := needTool(t, "node")
	installAudit(t)
	e := newEnv(t)
	srv := httptest.NewServer(e.h) // 127.0.0.1
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "audit.mjs", srv.URL+"/graphql")
	cmd.Dir = auditDir
	out, err := cmd.CombinedOutput()
	t.Logf("graphql-http audit:\n%s", out)
	if err != nil {
		t.Fatalf("the audit did not pass (%v)", err)
	}
	if !strings.Contains(string(out), "errors: 0, warnings: 0, notices: 0") {
		t.Fatal("the audit printed no clean summary")
	}
}

// needTool returns the path of a command the test needs. Without it the test
// fails under CI=true and skips (saying how to install it) elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI (Debian: apt-get install -y nodejs npm): %v", name, err)
		}
		t.Skipf("%s not found (Debian: apt-get install -y nodejs npm); CI=true makes this a failure", name)
	}
	return p
}

// installAudit runs `npm ci` in auditDir when its node_modules is missing or
// older than package-lock.json.
func installAudit(t *testing.T) {
	t.Helper()
	lock, err := os.Stat(filepath.Join(auditDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if installed, err := os.Stat(filepath.Join(auditDir, "node_modules", ".package-lock.json")); err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	npm := needTool(t, "npm")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = auditDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", auditDir, err, out)
	}
}
