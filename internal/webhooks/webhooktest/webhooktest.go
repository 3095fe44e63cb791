// Package webhooktest signs webhook deliveries the way Clerk (through Svix's
// own library) and Telnyx (Ed25519) do, and runs the webhook endpoints with
// the job queue on a test database, for the tests of webhooks and jobs.
package webhooktest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	svix "github.com/svix/svix-webhooks/go"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/jobs"
	"github.com/savvysolve/api/internal/webhooks"
)

// NewClerkSecret returns a signing secret in Clerk's whsec_ form.
func NewClerkSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// NewTelnyxKey returns an Ed25519 key pair, the public half base64 as Telnyx shows it.
func NewTelnyxKey(t testing.TB) (public string, private ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub), priv
}

// ClerkRequest is a delivery of body signed with secret by Svix's library.
func ClerkRequest(t testing.TB, secret, msgID string, at time.Time, body []byte) *http.Request {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(msgID, at, body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/webhooks/clerk", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("svix-id", msgID)
	r.Header.Set("svix-timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("svix-signature", sig)
	return r
}

// TelnyxRequest is a delivery of body signed as Telnyx signs: Ed25519 over "timestamp|body".
func TelnyxRequest(t testing.TB, key ed25519.PrivateKey, at time.Time, body []byte) *http.Request {
	t.Helper()
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := ed25519.Sign(key, append([]byte(ts+"|"), body...))
	r := httptest.NewRequest(http.MethodPost, "/webhooks/telnyx", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("telnyx-timestamp", ts)
	r.Header.Set("telnyx-signature-ed25519", base64.StdEncoding.EncodeToString(sig))
	return r
}

// ClerkUser is a Clerk user event payload.
func ClerkUser(t testing.TB, eventType, clerkID, email, first, last, phone string, at time.Time) []byte {
	t.Helper()
	data := map[string]any{"id": clerkID, "object": "user"}
	if eventType == webhooks.ClerkUserDeleted {
		data["deleted"] = true
	} else {
		data["first_name"], data["last_name"] = first, last
		data["email_addresses"] = []any{
			map[string]any{"id": "idn_other", "email_address": "old-" + email},
			map[string]any{"id": "idn_primary", "email_address": email},
		}
		data["primary_email_address_id"] = "idn_primary"
		data["phone_numbers"], data["primary_phone_number_id"] = []any{}, nil
		if phone != "" {
			data["phone_numbers"] = []any{map[string]any{"id": "idn_phone", "phone_number": phone}}
			data["primary_phone_number_id"] = "idn_phone"
		}
		data["updated_at"] = at.UnixMilli()
	}
	return mustJSON(t, map[string]any{"object": "event", "type": eventType, "timestamp": at.UnixMilli(), "data": data})
}

// TelnyxEvent is a Telnyx v2 event payload.
func TelnyxEvent(t testing.TB, eventType, id string, at time.Time, payload map[string]any) []byte {
	t.Helper()
	return mustJSON(t, map[string]any{
		"data": map[string]any{
			"record_type": "event", "event_type": eventType, "id": id,
			"occurred_at": at.UTC().Format(time.RFC3339Nano), "payload": payload,
		},
		"meta": map[string]any{"attempt": 1, "delivered_to": "https://example.test/webhooks/telnyx"},
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Options tune an Env.
type Options struct {
	Workers     int // 0: the queue only enqueues
	MaxAttempts int
	// NoClerk, NoTelnyx leave the endpoint unconfigured.
	NoClerk, NoTelnyx bool
	// URL is the database to use (a test's own, shared with its server);
	// empty: a fresh one.
	URL string
}

// Env is the webhook endpoints and the job queue on a fresh migrated database.
type Env struct {
	DB   *bun.DB
	Pool *pgxpool.Pool
	Jobs *jobs.Runner
	// Counts are what the queue told its Metrics hook.
	Counts      *JobCounts
	Handler     http.Handler
	ClerkSecret string
	TelnyxKey   ed25519.PrivateKey
	Logs        *Logs
}

// New starts an Env for t; it stops when t ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	url := o.URL
	if url == "" {
		url = dbtest.NewURL(t, false)
	}
	db, err := database.Open(ctx, url, database.Options{MaxConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &Logs{}
	log := slog.New(logs)
	counts := &JobCounts{}
	runner, err := jobs.Start(ctx, jobs.Config{
		Options: jobs.Options{Workers: o.Workers}, DB: db, Pool: pool, Log: log, MaxAttempts: o.MaxAttempts,
		RetryPolicy: fastRetry{}, PollInterval: 200 * time.Millisecond, Metrics: counts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runner.Stop(sctx); err != nil {
			t.Errorf("stop jobs: %v", err)
		}
	})
	e := &Env{DB: db, Pool: pool, Jobs: runner, Logs: logs, Counts: counts}
	cfg := webhooks.Config{Pool: pool, Jobs: runner, Log: log}
	if !o.NoClerk {
		e.ClerkSecret = NewClerkSecret(t)
		cfg.ClerkSecret = e.ClerkSecret
	}
	if !o.NoTelnyx {
		cfg.TelnyxPublicKey, e.TelnyxKey = NewTelnyxKey(t)
	}
	if e.Handler, err = webhooks.New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// Do serves r and returns the status and body.
func (e *Env) Do(r *http.Request) (int, string) {
	w := httptest.NewRecorder()
	e.Handler.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// Clerk delivers body, signed now, as Clerk delivery msgID.
func (e *Env) Clerk(t testing.TB, msgID string, body []byte) (int, string) {
	t.Helper()
	return e.Do(ClerkRequest(t, e.ClerkSecret, msgID, time.Now(), body))
}

// Telnyx delivers body, signed now.
func (e *Env) Telnyx(t testing.TB, body []byte) (int, string) {
	t.Helper()
	return e.Do(TelnyxRequest(t, e.TelnyxKey, time.Now(), body))
}

// Count runs a SELECT count(*) ... query.
func (e *Env) Count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Eventually polls cond until it holds or 20 seconds pass.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitProcessed waits until every stored webhook event was applied.
func (e *Env) WaitProcessed(t testing.TB) {
	t.Helper()
	Eventually(t, "every webhook event processed", func() bool {
		return e.Count(t, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL") == 0
	})
}

// fastRetry retries after 100 ms, so retry tests take no time.
type fastRetry struct{}

func (fastRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(100 * time.Millisecond)
}

var _ river.ClientRetryPolicy = fastRetry{}

// Logs is a slog handler that keeps the records, for tests that check what was logged.
type Logs struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *Logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *Logs) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *Logs) WithGroup(string) slog.Handler            { return l }

func (l *Logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// Find returns the messages of the records at level or above whose message contains sub.
func (l *Logs) Find(level slog.Level, sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= level && bytes.Contains([]byte(r.Message), []byte(sub)) {
			out = append(out, r.Message)
		}
	}
	return out
}

// Counts are the totals of one job kind.
type Counts struct {
	Completed int64 // jobs that succeeded
	Failed    int64 // failed attempts (each retry counts)
	Discarded int64 // jobs given up: after their last attempt, or cancelled by their worker
}

// JobCounts is a jobs.Metrics that keeps totals per job kind.
type JobCounts struct {
	mu sync.Mutex
	m  map[string]Counts
}

var _ jobs.Metrics = (*JobCounts)(nil)

// JobCompleted counts a completed job.
func (c *JobCounts) JobCompleted(kind string, _ time.Duration) {
	c.add(kind, func(n *Counts) { n.Completed++ })
}

// JobFailed counts a failed attempt, and a discarded job.
func (c *JobCounts) JobFailed(kind string, _ int, discarded bool) {
	c.add(kind, func(n *Counts) {
		n.Failed++
		if discarded {
			n.Discarded++
		}
	})
}

func (c *JobCounts) add(kind string, f func(*Counts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]Counts{}
	}
	n := c.m[kind]
	f(&n)
	c.m[kind] = n
}

// Of returns the totals of a job kind.
func (c *JobCounts) Of(kind string) Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[kind]
}
