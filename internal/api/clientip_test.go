package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/savvysolve/api/internal/api"
)

// lockedBuffer is a bytes.Buffer for a logger that handlers write from
// their goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// accessLog returns the client_ip of every "http request" line.
func (l *lockedBuffer) accessLog(t *testing.T) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var ips []string
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "http request" {
			ip, _ := m["client_ip"].(string)
			ips = append(ips, ip)
		}
	}
	return ips
}

// TestOneClientAddress: the access log names the client the rate limiter
// counts: behind a trusted proxy, the address X-Forwarded-For gives; from
// anyone else, the peer's, whatever header it sends.
func TestOneClientAddress(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	e := newEnvOpts(t, opts{
		log:    slog.New(slog.NewJSONHandler(logs, nil)),
		limits: api.Limits{RateAnon: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	})
	send := func(peer, xff string) int {
		r := req{gql: createTicket, vars: ticketInput, remote: peer}
		if xff != "" {
			r.header = http.Header{"X-Forwarded-For": {xff}}
		}
		return e.send(r).Code
	}
	// One client through two proxies: the second request is over its limit.
	if a, b := send("10.0.0.1:1", "198.51.100.7, 10.0.0.2"), send("10.0.0.3:1", "198.51.100.7"); a != http.StatusOK || b != http.StatusTooManyRequests {
		t.Fatalf("through proxies: %d then %d, want 200 then 429", a, b)
	}
	// A client that is no proxy cannot name another address.
	if a, b := send("198.51.100.9:1", "203.0.113.1"), send("198.51.100.9:2", "203.0.113.2"); a != http.StatusOK || b != http.StatusTooManyRequests {
		t.Fatalf("direct: %d then %d, want 200 then 429", a, b)
	}
	want := []string{"198.51.100.7", "198.51.100.7", "198.51.100.9", "198.51.100.9"}
	if got := logs.accessLog(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("access log client_ip = %v, want %v", got, want)
	}
}
