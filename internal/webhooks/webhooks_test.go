package webhooks_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/webhooks"
	wt "github.com/savvysolve/api/internal/webhooks/webhooktest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// stored counts the deliveries and the jobs on e's database.
func stored(t *testing.T, e *wt.Env) (events, jobs int) {
	t.Helper()
	return e.Count(t, "SELECT count(*) FROM webhook_events"), e.Count(t, "SELECT count(*) FROM river_job")
}

func TestClerkDeliveries(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{}) // no workers: the jobs stay queued, for counting
	body := wt.ClerkUser(t, "user.created", "user_1", "pat@example.com", "Pat", "Lee", "", time.Now())
	other := wt.NewClerkSecret(t)

	tests := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantEvents int // stored deliveries after the request
		wantJobs   int
	}{
		{"unsigned", func() *http.Request {
			r := wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now(), body)
			r.Header.Del("svix-signature")
			return r
		}, 401, 0, 0},
		{"signed with another secret", func() *http.Request {
			return wt.ClerkRequest(t, other, "msg_1", time.Now(), body)
		}, 401, 0, 0},
		{"tampered body", func() *http.Request {
			r := wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now(), body)
			r2, _ := http.NewRequest(http.MethodPost, "/webhooks/clerk", bytes.NewReader(bytes.Replace(body, []byte("Pat"), []byte("Eve"), 1)))
			r2.Header = r.Header
			return r2
		}, 401, 0, 0},
		{"signature of another delivery id", func() *http.Request {
			r := wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now(), body)
			r.Header.Set("svix-id", "msg_other")
			return r
		}, 401, 0, 0},
		{"stale: signed six minutes ago", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now().Add(-6*time.Minute), body)
		}, 401, 0, 0},
		{"from the future", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now().Add(6*time.Minute), body)
		}, 401, 0, 0},
		{"valid", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now(), body)
		}, 200, 1, 1},
		{"replayed as sent", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now().Add(-time.Minute), body)
		}, 200, 1, 1},
		{"redelivered (Svix retry, new timestamp)", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_1", time.Now(), body)
		}, 200, 1, 1},
		{"another event type: stored, nothing to apply", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_2", time.Now(), []byte(`{"type":"session.created","timestamp":1,"data":{"id":"sess_1"}}`))
		}, 200, 2, 1},
		{"signed but not an event", func() *http.Request {
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_3", time.Now(), []byte(`[1, 2]`))
		}, 400, 2, 1},
		{"signed, with a NUL character in a name", func() *http.Request {
			nul := wt.ClerkUser(t, "user.updated", "user_1", "pat@example.com", "P\x00t", "Lee", "", time.Now())
			return wt.ClerkRequest(t, e.ClerkSecret, "msg_4", time.Now(), nul)
		}, 400, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := e.Do(tc.req())
			if status != tc.wantStatus {
				t.Errorf("status %d (%s), want %d", status, strings.TrimSpace(resp), tc.wantStatus)
			}
			if events, jobs := stored(t, e); events != tc.wantEvents || jobs != tc.wantJobs {
				t.Errorf("%d events and %d jobs stored, want %d and %d", events, jobs, tc.wantEvents, tc.wantJobs)
			}
		})
	}
	if n := e.Count(t, `SELECT count(*) FROM webhook_events WHERE source = 'clerk' AND delivery_id = 'msg_2' AND processed_at IS NOT NULL`); n != 1 {
		t.Errorf("the event with nothing to apply is not stored as processed")
	}
	if n := e.Count(t, `SELECT count(*) FROM river_job j JOIN webhook_events w ON w.id::text = j.args->>'event_id'
		WHERE j.kind = 'clerk_event' AND w.delivery_id = 'msg_1' AND w.event_type = 'user.created' AND w.subject_id = 'user_1'`); n != 1 {
		t.Errorf("the job does not name the stored delivery")
	}
	if len(e.Logs.Find(0, "webhook refused")) != 7 { // six signatures, one NUL
		t.Errorf("refusals logged: %v", e.Logs.Find(0, "webhook refused"))
	}
}

func TestTelnyxDeliveries(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{})
	body := wt.TelnyxEvent(t, "call.initiated", "evt-1", time.Now(), map[string]any{
		"call_control_id": "v3:call-1", "direction": "incoming", "from": "+15550100001", "to": "+15550109999",
	})
	_, otherKey := wt.NewTelnyxKey(t)

	tests := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantEvents int
		wantJobs   int
	}{
		{"unsigned", func() *http.Request {
			r := wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), body)
			r.Header.Del("telnyx-signature-ed25519")
			return r
		}, 401, 0, 0},
		{"signed with another key", func() *http.Request {
			return wt.TelnyxRequest(t, otherKey, time.Now(), body)
		}, 401, 0, 0},
		{"tampered body", func() *http.Request {
			r := wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), body)
			r2, _ := http.NewRequest(http.MethodPost, "/webhooks/telnyx", bytes.NewReader(bytes.Replace(body, []byte("incoming"), []byte("outgoing"), 1)))
			r2.Header = r.Header
			return r2
		}, 401, 0, 0},
		{"timestamp header changed", func() *http.Request {
			r := wt.TelnyxRequest(t, e.TelnyxKey, time.Now().Add(-time.Minute), body)
			r.Header.Set("telnyx-timestamp", time.Now().Format("20060102")) // a number, not the signed one
			return r
		}, 401, 0, 0},
		{"signature not base64", func() *http.Request {
			r := wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), body)
			r.Header.Set("telnyx-signature-ed25519", "not base64!")
			return r
		}, 401, 0, 0},
		{"stale: signed six minutes ago", func() *http.Request {
			return wt.TelnyxRequest(t, e.TelnyxKey, time.Now().Add(-6*time.Minute), body)
		}, 401, 0, 0},
		{"valid", func() *http.Request {
			return wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), body)
		}, 200, 1, 1},
		{"replayed as sent", func() *http.Request {
			return wt.TelnyxRequest(t, e.TelnyxKey, time.Now().Add(-2*time.Minute), body)
		}, 200, 1, 1},
		{"redelivered by Telnyx (same event id)", func() *http.Request {
			return wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), body)
		}, 200, 1, 1},
		{"another event type: stored, nothing to apply", func() *http.Request {
			return wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), wt.TelnyxEvent(t, "call.bridged", "evt-2", time.Now(), map[string]any{"call_control_id": "v3:call-1"}))
		}, 200, 2, 1},
		{"signed but not an event", func() *http.Request {
			return wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), []byte(`{"data": {}}`))
		}, 400, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := e.Do(tc.req())
			if status != tc.wantStatus {
				t.Errorf("status %d (%s), want %d", status, strings.TrimSpace(resp), tc.wantStatus)
			}
			if events, jobs := stored(t, e); events != tc.wantEvents || jobs != tc.wantJobs {
				t.Errorf("%d events and %d jobs stored, want %d and %d", events, jobs, tc.wantEvents, tc.wantJobs)
			}
		})
	}
	if n := e.Count(t, `SELECT count(*) FROM webhook_events WHERE source = 'telnyx' AND delivery_id = 'evt-1'
		AND subject_id = 'v3:call-1' AND event_type = 'call.initiated' AND occurred_at IS NOT NULL AND processed_at IS NULL`); n != 1 {
		t.Errorf("the call event is not stored with its subject and time")
	}
}

// TestNotConfigured: without a secret or key, nothing is accepted.
func TestNotConfigured(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{NoClerk: true, NoTelnyx: true})
	secret := wt.NewClerkSecret(t)
	_, key := wt.NewTelnyxKey(t)
	body := wt.ClerkUser(t, "user.created", "user_1", "pat@example.com", "Pat", "Lee", "", time.Now())
	if status, _ := e.Do(wt.ClerkRequest(t, secret, "msg_1", time.Now(), body)); status != http.StatusServiceUnavailable {
		t.Errorf("clerk: status %d, want 503", status)
	}
	if status, _ := e.Do(wt.TelnyxRequest(t, key, time.Now(), body)); status != http.StatusServiceUnavailable {
		t.Errorf("telnyx: status %d, want 503", status)
	}
	if events, jobs := stored(t, e); events != 0 || jobs != 0 {
		t.Errorf("%d events, %d jobs stored", events, jobs)
	}
}

func TestNewRefusesMalformedSecrets(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]webhooks.Config{
		"clerk secret without whsec_": {Secrets: webhooks.Secrets{ClerkSecret: "c2VjcmV0"}},
		"clerk secret not base64":     {Secrets: webhooks.Secrets{ClerkSecret: "whsec_!!!"}},
		"telnyx key not base64":       {Secrets: webhooks.Secrets{TelnyxPublicKey: "!!!"}},
		"telnyx key of 16 bytes":      {Secrets: webhooks.Secrets{TelnyxPublicKey: "AAAAAAAAAAAAAAAAAAAAAA=="}},
	} {
		if _, err := webhooks.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	// Nothing configured is fine: both endpoints answer 503.
	if _, err := webhooks.New(webhooks.Config{}); err != nil {
		t.Errorf("New without secrets: %v", err)
	}
}

func TestOnlyPOST(t *testing.T) {
	t.Parallel()
	h, err := webhooks.New(webhooks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/webhooks/clerk", "/webhooks/telnyx"} {
		e := &wt.Env{Handler: h}
		if status, _ := e.Do(newRequest(http.MethodGet, path)); status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: status %d, want 405", path, status)
		}
	}
}

func newRequest(method, path string) *http.Request {
	r, _ := http.NewRequest(method, path, nil)
	return r
}

func TestClientState(t *testing.T) {
	t.Parallel()
	id := "00000000-0000-4000-8000-000000000204"
	tests := []struct {
		in     string
		want   webhooks.ClientState
		wantOK bool
	}{
		{webhooks.EncodeClientState(webhooks.ClientState{TicketID: id}), webhooks.ClientState{TicketID: id}, true},
		{webhooks.EncodeClientState(webhooks.ClientState{SessionID: id}), webhooks.ClientState{SessionID: id}, true},
		{"", webhooks.ClientState{}, false},
		{"aGVsbG8=", webhooks.ClientState{}, false}, // "hello"
		{"not base64 at all", webhooks.ClientState{}, false},
	}
	for _, tc := range tests {
		got, ok := webhooks.ParseClientState(tc.in)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseClientState(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

// TestConcurrentDuplicates: the same delivery arriving many times at once is
// stored once, with one job, and every copy is acknowledged.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{})
	clerkBody := wt.ClerkUser(t, "user.updated", "user_1", "pat@example.com", "Pat", "Lee", "", time.Now())
	telnyxBody := wt.TelnyxEvent(t, "message.received", "evt-dup", time.Now(), map[string]any{"id": "msg-dup", "direction": "inbound"})
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			status, _ := e.Do(wt.ClerkRequest(t, e.ClerkSecret, "msg_dup", time.Now(), clerkBody))
			statuses <- status
		}()
		go func() {
			defer wg.Done()
			status, _ := e.Do(wt.TelnyxRequest(t, e.TelnyxKey, time.Now(), telnyxBody))
			statuses <- status
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Errorf("a copy answered %d", s)
		}
	}
	if events, jobs := stored(t, e); events != 2 || jobs != 2 {
		t.Errorf("%d events and %d jobs stored, want 2 and 2", events, jobs)
	}
}
