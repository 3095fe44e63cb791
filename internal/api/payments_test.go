package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/jobs"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/internal/payments/stripetest"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/webhooks"
	wt "github.com/savvysolve/api/internal/webhooks/webhooktest"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/migrations"
	"github.com/savvysolve/api/models"
)

// payEnv is a server with payments on: the job queue running, the Stripe
// webhook endpoint, and a fake Stripe API (STRIPE_API_BASE) served by the test.
type payEnv struct {
	*env
	stripe     *stripetest.Server
	hookSecret string
}

// quickRetry retries a failed job after 50 ms, so outage tests take no time.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(50 * time.Millisecond)
}

func newPayEnv(t *testing.T) *payEnv {
	t.Helper()
	ctx := context.Background()
	fake := stripetest.New(t)
	url := dbtest.NewURL(t, false)
	db, err := database.Open(ctx, url, database.Options{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pay := payments.New(payments.Config{SecretKey: stripetest.Key, APIBase: fake.URL, Log: testLog()})
	runner, err := jobs.Start(ctx, jobs.Config{
		Options: jobs.Options{Workers: 4}, DB: db, Pool: pool, Log: testLog(), Payments: pay,
		RetryPolicy: quickRetry{}, PollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		runner.Stop(sctx)
	})
	b := make([]byte, 16)
	rand.Read(b)
	hookSecret := "whsec_" + hex.EncodeToString(b)
	hooks, err := webhooks.New(webhooks.Config{Secrets: webhooks.Secrets{StripeSecret: hookSecret}, Pool: pool, Jobs: runner, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(ctx, db, desk.New(db), auth.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := migrations.Dir()
	if err != nil {
		t.Fatal(err)
	}
	hub := live.New(db, testLog())
	hub.Watch(authn.Cache())
	h := api.New(api.Deps{
		DB: db, Auth: authn, Live: hub, Log: testLog(), Migrations: dir, Loaders: loaders.Options{Wait: 2 * time.Millisecond},
		AllowedOrigins: []string{testOrigin}, Webhooks: hooks, Payments: pay, Charges: runner,
	})
	if err := seed.Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	return &payEnv{env: &env{t: t, db: db, url: url, h: h, hub: hub, stmts: new(atomic.Int64)}, stripe: fake, hookSecret: hookSecret}
}

const (
	payQ    = `query($id: ID!) { session(id: $id) { id payment { status amountCents currency clientSecret paidAt refundedAt } } }`
	statsQ  = `query($id: ID!) { solver(id: $id) { stats { completedSessions totalEarningsCents } } }`
	refundQ = `mutation($id: ID!) { refundTicket(ticketId: $id, reason: "bad session") { id status } }`
	endPayQ = `mutation($id: ID!) { endSession(sessionId: $id) { id pricing { totalCents } payment { status amountCents currency clientSecret } } }`
)

// worked is one ended session: its ticket, the guest's token (for a guest's
// ticket), and the session's total.
type worked struct {
	ticket, guest, session string
	total                  int
	ended                  map[string]any // endSession's answer
}

// started opens a ticket (by customer, "" for a guest) and starts its
// session with seed_solver_1.
func (e *env) started(customer string) worked {
	e.t.Helper()
	solver := token(e.t, seed.Solver1)
	var w worked
	w.ticket, w.guest = e.newTicket(customer)
	e.must(solver, claim, map[string]any{"id": w.ticket})
	w.session = str(e.must(solver, start, map[string]any{"id": w.ticket, "tier": "STANDARD"}), "startSession", "id")
	return w
}

// work runs a ticket through a session to its end: opened by customer ("" for
// a guest), worked by seed_solver_1.
func (e *env) work(customer string) worked {
	e.t.Helper()
	w := e.started(customer)
	d := e.must(token(e.t, seed.Solver1), endPayQ, map[string]any{"id": w.session})
	w.ended = get(d, "endSession").(map[string]any)
	w.total, _ = strconv.Atoi(str(w.ended, "pricing", "totalCents"))
	return w
}

// payment reads the session's payment as the holder of tok.
func (e *env) payment(tok, sessionID string) map[string]any {
	e.t.Helper()
	p, _ := get(e.must(tok, payQ, map[string]any{"id": sessionID}), "session", "payment").(map[string]any)
	return p
}

// info reads a session's stored payment.
func (e *env) info(sessionID string) *models.PaymentInfo {
	e.t.Helper()
	s := new(models.Session)
	if err := e.db.NewSelect().Model(s).Where("id = ?", sessionID).Scan(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return s.PaymentInfo
}

func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// charged waits for the charge job to store the session's PaymentIntent.
func (e *payEnv) charged(sessionID string) *models.PaymentInfo {
	e.t.Helper()
	var pi *models.PaymentInfo
	wt.Eventually(e.t, "the payment intent of session "+sessionID, func() bool {
		pi = e.info(sessionID)
		return pi != nil && pi.IntentID != ""
	})
	return pi
}

// deliver posts a Stripe webhook delivery signed at at with secret.
func (e *payEnv) deliverSigned(secret string, payload []byte, at time.Time) (int, string) {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(payload))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Stripe-Signature", stripetest.Sign(secret, payload, at))
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// deliver posts a delivery signed now, which must be acknowledged.
func (e *payEnv) deliver(payload []byte) {
	e.t.Helper()
	if code, body := e.deliverSigned(e.hookSecret, payload, time.Now()); code != http.StatusOK {
		e.t.Fatalf("delivery answered %d: %s", code, body)
	}
}

// applied waits until every stored Stripe delivery was applied.
func (e *payEnv) applied() {
	e.t.Helper()
	wt.Eventually(e.t, "every Stripe delivery applied", func() bool {
		return e.count("SELECT count(*) FROM webhook_events WHERE source = 'stripe' AND processed_at IS NULL") == 0
	})
}

// sessionEvents listens on the events channel and collects the ids of the
// session events published from now on.
func sessionEvents(t *testing.T, url string) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+events.Channel); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			var e events.Event
			if json.Unmarshal([]byte(n.Payload), &e) == nil && e.Kind == events.Session {
				mu.Lock()
				ids = append(ids, e.ID)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close(context.Background())
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

func countOf(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// TestPaymentsOff: without a Stripe key nothing is billed, and the rest works.
func TestPaymentsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	w := e.work("")
	if str(w.ended, "payment", "status") != "UNBILLED" || str(w.ended, "payment", "amountCents") != strconv.Itoa(w.total) ||
		str(w.ended, "payment", "currency") != "USD" || get(w.ended, "payment", "clientSecret") != nil {
		t.Fatalf("endSession's payment without Stripe: %v", w.ended["payment"])
	}
	if p := e.payment(w.guest, w.session); p["status"] != "UNBILLED" || p["clientSecret"] != nil {
		t.Fatalf("customer's view: %v", p)
	}
	if e.info(w.session) != nil {
		t.Fatal("payment_info written without Stripe")
	}
	// A running session is UNBILLED with nothing to pay yet.
	id, guest := e.newTicket("")
	e.must(token(t, seed.Solver1), claim, map[string]any{"id": id})
	sid := str(e.must(token(t, seed.Solver1), start, map[string]any{"id": id}), "startSession", "id")
	if p := e.payment(guest, sid); p["status"] != "UNBILLED" || p["amountCents"] != float64(0) {
		t.Fatalf("running session: %v", p)
	}
	// A refund without Stripe still takes the session out of the solver's stats.
	before := e.must(admin, statsQ, map[string]any{"id": seed.SolverActive})
	e.must(admin, refundQ, map[string]any{"id": w.ticket})
	after := e.must(admin, statsQ, map[string]any{"id": seed.SolverActive})
	wantStats(t, before, after, -1, -earnings(t, e, w.session))

	// Without STRIPE_WEBHOOK_SECRET the endpoint answers 503.
	hooks, err := webhooks.New(webhooks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	hooks.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("unconfigured /webhooks/stripe answered %d", rec.Code)
	}
}

// earnings is the solver's share of an ended session.
func earnings(t *testing.T, e *env, sessionID string) int {
	t.Helper()
	return e.count("SELECT earnings FROM sessions WHERE id = ?", sessionID)
}

// wantStats checks that the solver's stats moved by dSessions and dCents.
func wantStats(t *testing.T, before, after map[string]any, dSessions, dCents int) {
	t.Helper()
	n := func(d map[string]any, k string) int {
		v, _ := strconv.Atoi(str(d, "solver", "stats", k))
		return v
	}
	if n(after, "completedSessions")-n(before, "completedSessions") != dSessions ||
		n(after, "totalEarningsCents")-n(before, "totalEarningsCents") != dCents {
		t.Fatalf("stats went from %v to %v, want %+d sessions and %+d cents", before, after, dSessions, dCents)
	}
}

// TestPaymentCharge: endSession bills the session, the job creates its
// PaymentIntent after the commit (keyed by the session id), only the
// customer sees the client secret, and Stripe's events move the payment, once.
func TestPaymentCharge(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	otherCustomer := token(t, seed.Customer2)
	otherSolver, _, _ := e.newUser("pay_solver_2", models.RoleSolver, models.SolverActive)
	heard := sessionEvents(t, e.url)

	w := e.work("")
	// endSession answers at once: the payment is due, without a client secret yet.
	if str(w.ended, "payment", "status") != "REQUIRES_PAYMENT" || str(w.ended, "payment", "amountCents") != strconv.Itoa(w.total) ||
		get(w.ended, "payment", "clientSecret") != nil {
		t.Fatalf("endSession's payment: %v", w.ended["payment"])
	}
	pi := e.charged(w.session)
	reqs := e.stripe.Succeeded("/v1/payment_intents")
	if len(reqs) != 1 {
		t.Fatalf("%d payment intents created, want 1", len(reqs))
	}
	r := reqs[0]
	if r.IdempotencyKey != w.session || r.Form.Get("amount") != strconv.Itoa(w.total) || r.Form.Get("currency") != "usd" ||
		r.Form.Get("receipt_email") != "pat@example.com" || r.Form.Get("customer") != "" || r.Form.Get("metadata[session_id]") != w.session {
		t.Fatalf("payment intent request: key %q form %v", r.IdempotencyKey, r.Form)
	}
	if n := len(e.stripe.Requests("/v1/customers")); n != 0 {
		t.Fatalf("a guest got %d Stripe customers", n)
	}
	if pi.Status != models.PaymentRequiresPayment || pi.ClientSecret == "" || pi.AmountCents != w.total {
		t.Fatalf("stored payment: %+v", pi)
	}

	// Who sees what.
	if p := e.payment(w.guest, w.session); p["status"] != "REQUIRES_PAYMENT" || p["clientSecret"] != pi.ClientSecret {
		t.Fatalf("the customer's view: %v", p)
	}
	for name, tok := range map[string]string{"solver": solver, "admin": admin} {
		if p := e.payment(tok, w.session); p["status"] != "REQUIRES_PAYMENT" || p["clientSecret"] != nil || p["amountCents"] != float64(w.total) {
			t.Errorf("%s's view: %v", name, p)
		}
	}
	for name, tok := range map[string]string{"another customer": otherCustomer, "another solver": otherSolver} {
		res := e.do(tok, payQ, map[string]any{"id": w.session})
		if get(res.Data, "session") != nil || res.code() != "NOT_FOUND" {
			t.Errorf("%s reads the session: %+v %v", name, res.Errors, res.Data)
		}
	}
	// Through the ticket too, under the same rule.
	d := e.must(w.guest, `query($id: ID!) { ticket(id: $id) { sessions { payment { clientSecret } } } }`, map[string]any{"id": w.ticket})
	if str(d, "ticket", "sessions", 0, "payment", "clientSecret") != pi.ClientSecret {
		t.Fatalf("through the ticket: %v", d)
	}

	// One charge job for the session, done.
	wt.Eventually(t, "the charge job completed", func() bool {
		return e.count("SELECT count(*) FROM river_job WHERE kind = 'charge_session' AND state = 'completed'") == 1
	})

	// Stripe says the payment failed, then (the customer retried) succeeded.
	t0 := time.Now().Add(-time.Minute)
	e.deliver(stripetest.IntentEvent("evt_failed", "payment_intent.payment_failed", pi.IntentID, w.session, t0))
	e.applied()
	if p := e.payment(w.guest, w.session); p["status"] != "FAILED" || p["clientSecret"] != nil {
		t.Fatalf("after payment_failed: %v", p)
	}
	if got := e.info(w.session); got.FailureMessage != "Your card was declined." {
		t.Fatalf("failure message: %+v", got)
	}
	succeeded := stripetest.IntentEvent("evt_paid", "payment_intent.succeeded", pi.IntentID, w.session, t0.Add(10*time.Second))
	e.deliver(succeeded)
	e.applied()
	p := e.payment(w.guest, w.session)
	if p["status"] != "SUCCEEDED" || p["paidAt"] == nil || p["clientSecret"] != nil || p["refundedAt"] != nil {
		t.Fatalf("after payment_intent.succeeded: %v", p)
	}
	// Redelivered (Stripe retries with the same event id): stored and applied once.
	e.deliver(succeeded)
	// A late failure, created before the success, changes nothing.
	e.deliver(stripetest.IntentEvent("evt_late", "payment_intent.payment_failed", pi.IntentID, w.session, t0.Add(5*time.Second)))
	// Not one of our intents: stored, applied as nothing.
	e.deliver(stripetest.IntentEvent("evt_foreign", "payment_intent.succeeded", "pi_someone_else", "", t0))
	e.applied()
	if p := e.payment(w.guest, w.session); p["status"] != "SUCCEEDED" {
		t.Fatalf("after the late failure: %v", p)
	}
	if n := e.count("SELECT count(*) FROM webhook_events WHERE source = 'stripe' AND delivery_id = 'evt_paid'"); n != 1 {
		t.Fatalf("evt_paid stored %d times", n)
	}
	if n := e.count("SELECT count(*) FROM river_job WHERE kind = 'stripe_event'"); n != 4 {
		t.Fatalf("%d stripe jobs, want 4 (failed, paid, late, foreign)", n)
	}
	// Every change of the session was announced: started, ended (and billed,
	// one event), charged, failed, succeeded; the ignored events announce nothing.
	wt.Eventually(t, "the session events", func() bool { return countOf(heard(), w.session) >= 5 })
	if n := countOf(heard(), w.session); n != 5 {
		t.Fatalf("%d session events, want 5", n)
	}
}

// TestPaymentSignedInCustomer: a signed-in customer becomes a Stripe
// customer once, kept on the user, and pays every session as that customer.
func TestPaymentSignedInCustomer(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	customer := token(t, seed.Customer1)
	// Two sessions end together: their charge jobs run at once.
	a, b := e.started(customer), e.started(customer)
	var wg sync.WaitGroup
	ends := make([]result, 2)
	for i, w := range []worked{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ends[i] = e.do(token(t, seed.Solver1), endPayQ, map[string]any{"id": w.session})
		}()
	}
	wg.Wait()
	for _, r := range ends {
		if len(r.Errors) > 0 {
			t.Fatalf("endSession: %+v", r.Errors)
		}
	}
	pa, pb := e.charged(a.session), e.charged(b.session)
	customers := e.stripe.Requests("/v1/customers")
	if len(customers) != 1 {
		t.Fatalf("Stripe asked %d times for a customer, want once", len(customers))
	}
	if c := customers[0]; c.IdempotencyKey != "customer-"+seed.UserCustomer1 || c.Form.Get("email") == "" || c.Form.Get("metadata[user_id]") != seed.UserCustomer1 {
		t.Fatalf("customer request: %q %v", c.IdempotencyKey, c.Form)
	}
	u := new(models.User)
	if err := e.db.NewSelect().Model(u).Where("id = ?", seed.UserCustomer1).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u.StripeCustomerID == nil || !strings.HasPrefix(*u.StripeCustomerID, "cus_") {
		t.Fatalf("stripe_customer_id = %v", u.StripeCustomerID)
	}
	if pa.CustomerID != *u.StripeCustomerID || pb.CustomerID != *u.StripeCustomerID {
		t.Fatalf("payments' customers %q %q, want %q", pa.CustomerID, pb.CustomerID, *u.StripeCustomerID)
	}
	for _, r := range e.stripe.Succeeded("/v1/payment_intents") {
		if r.Form.Get("customer") != *u.StripeCustomerID || r.Form.Get("receipt_email") != "" {
			t.Fatalf("intent request for a signed-in customer: %v", r.Form)
		}
	}
	// The account sees its client secret; its ticket token does too.
	if p := e.payment(customer, a.session); p["clientSecret"] != pa.ClientSecret {
		t.Fatalf("the signed-in customer's view: %v", p)
	}
	if p := e.payment(a.guest, a.session); p["clientSecret"] != pa.ClientSecret {
		t.Fatalf("the ticket token's view: %v", p)
	}
}

// TestPaymentStripeOutage: Stripe answering 500 never fails endSession; the
// charge job retries until Stripe is back.
func TestPaymentStripeOutage(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	e.stripe.Fail("/v1/payment_intents", -1)
	w := e.work("")
	if str(w.ended, "payment", "status") != "REQUIRES_PAYMENT" {
		t.Fatalf("endSession during the outage: %v", w.ended)
	}
	wt.Eventually(t, "three failed attempts", func() bool { return len(e.stripe.Requests("/v1/payment_intents")) >= 3 })
	if p := e.payment(w.guest, w.session); p["status"] != "REQUIRES_PAYMENT" || p["clientSecret"] != nil {
		t.Fatalf("during the outage: %v", p)
	}
	e.stripe.Recover()
	pi := e.charged(w.session)
	if p := e.payment(w.guest, w.session); p["clientSecret"] != pi.ClientSecret {
		t.Fatalf("after the outage: %v", p)
	}
	var attempt int
	if err := e.db.NewRaw("SELECT attempt FROM river_job WHERE kind = 'charge_session'").Scan(context.Background(), &attempt); err != nil {
		t.Fatal(err)
	}
	if attempt < 4 {
		t.Fatalf("the charge succeeded at attempt %d, want after at least 3 failures", attempt)
	}
	// Every attempt used the same idempotency key: one intent however often it ran.
	for _, r := range e.stripe.Requests("/v1/payment_intents") {
		if r.IdempotencyKey != w.session {
			t.Fatalf("attempt with key %q", r.IdempotencyKey)
		}
	}
	if n := len(e.stripe.Succeeded("/v1/payment_intents")); n != 1 {
		t.Fatalf("%d intents created", n)
	}
}

// TestStripeWebhookSignature: deliveries are verified with stripe-go's
// webhook package; refused ones leave nothing behind.
func TestStripeWebhookSignature(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	now := time.Now()
	body := stripetest.IntentEvent("evt_sig", "payment_intent.succeeded", "pi_unknown", "", now)
	tampered := bytes.Replace(body, []byte("pi_unknown"), []byte("pi_unknowm"), 1)
	for name, c := range map[string]struct {
		payload []byte
		header  string
	}{
		"wrong secret": {body, stripetest.Sign("whsec_wrong", body, now)},
		"stale":        {body, stripetest.Sign(e.hookSecret, body, now.Add(-10*time.Minute))},
		"tampered":     {tampered, stripetest.Sign(e.hookSecret, body, now)},
		"unsigned":     {body, ""},
		"garbage":      {body, "t=1,v1=zz"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(c.payload))
		r.Header.Set("Stripe-Signature", c.header)
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", name, rec.Code)
		}
	}
	if n := e.count("SELECT count(*) FROM webhook_events"); n != 0 {
		t.Fatalf("refused deliveries stored: %d", n)
	}
	// Signed, but shaped by another API version (the endpoint's): accepted.
	other := stripetest.Event("evt_acacia", "payment_intent.succeeded", "2024-12-18.acacia", now,
		map[string]any{"id": "pi_unknown", "object": "payment_intent", "metadata": map[string]string{}})
	e.deliver(other)
	// A type with nothing to apply: stored as processed, without a job.
	e.deliver(stripetest.Event("evt_cus", "customer.created", stripetest.APIVersion, now, map[string]any{"id": "cus_1", "object": "customer"}))
	e.deliver(body)
	e.applied()
	if n := e.count("SELECT count(*) FROM webhook_events WHERE source = 'stripe'"); n != 3 {
		t.Fatalf("%d deliveries stored, want 3", n)
	}
	if n := e.count("SELECT count(*) FROM river_job WHERE kind = 'stripe_event'"); n != 2 {
		t.Fatalf("%d stripe jobs, want 2 (customer.created needs none)", n)
	}
	// Signed but not a Stripe event: 400, nothing stored.
	if code, _ := e.deliverSigned(e.hookSecret, []byte(`{"hello": "world"}`), now); code != http.StatusBadRequest {
		t.Fatalf("a signed non-event answered %d", code)
	}
}

// TestPaymentRefund: refundTicket refunds a SUCCEEDED payment through Stripe
// and takes the session out of the solver's stats, in the same transaction
// and in the nightly recompute; a Stripe failure changes nothing.
func TestPaymentRefund(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	admin := token(t, seed.Admin)
	w := e.work("")
	pi := e.charged(w.session)
	e.deliver(stripetest.IntentEvent("evt_paid", "payment_intent.succeeded", pi.IntentID, w.session, time.Now()))
	e.applied()
	before := e.must(admin, statsQ, map[string]any{"id": seed.SolverActive})

	// Stripe down: the refund fails with a clear error and nothing changes.
	e.stripe.Fail("/v1/refunds", 1)
	res := e.wantCode("UNAVAILABLE", admin, refundQ, map[string]any{"id": w.ticket})
	if !strings.Contains(res.Errors[0].Message, "Stripe") || res.Status != http.StatusServiceUnavailable {
		t.Fatalf("refund error: %d %+v", res.Status, res.Errors)
	}
	if p := e.payment(admin, w.session); p["status"] != "SUCCEEDED" {
		t.Fatalf("after the failed refund: %v", p)
	}
	wantStats(t, before, e.must(admin, statsQ, map[string]any{"id": seed.SolverActive}), 0, 0)

	heard := sessionEvents(t, e.url)
	if str(e.must(admin, refundQ, map[string]any{"id": w.ticket}), "refundTicket", "status") != "REFUNDED" {
		t.Fatal("refund failed")
	}
	refunds := e.stripe.Succeeded("/v1/refunds")
	if len(refunds) != 1 || refunds[0].Form.Get("payment_intent") != pi.IntentID || refunds[0].IdempotencyKey != "refund-"+w.session {
		t.Fatalf("refunds: %+v", refunds)
	}
	p := e.payment(admin, w.session)
	if p["status"] != "REFUNDED" || p["refundedAt"] == nil || p["paidAt"] == nil {
		t.Fatalf("after the refund: %v", p)
	}
	after := e.must(admin, statsQ, map[string]any{"id": seed.SolverActive})
	wantStats(t, before, after, -1, -earnings(t, e.env, w.session))
	wt.Eventually(t, "the refund's session event", func() bool { return countOf(heard(), w.session) == 1 })

	// Stripe's charge.refunded for the same refund changes nothing more.
	e.deliver(stripetest.ChargeRefunded("evt_refunded", pi.IntentID, time.Now(), true, w.total))
	e.applied()
	wantStats(t, after, e.must(admin, statsQ, map[string]any{"id": seed.SolverActive}), 0, 0)

	// The nightly recompute agrees: no drift.
	recompute(t, e.db, 0)
	wantStats(t, after, e.must(admin, statsQ, map[string]any{"id": seed.SolverActive}), 0, 0)
}

// recompute runs the nightly stats recompute and checks how many solvers drifted.
func recompute(t *testing.T, db *bun.DB, wantDrifted int) {
	t.Helper()
	var fixed int
	err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) (err error) {
		fixed, err = store.RecomputeSolverStats(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if fixed != wantDrifted {
		t.Fatalf("recompute fixed %d solvers, want %d", fixed, wantDrifted)
	}
}

// TestPaymentRefundedInStripe: a full refund made in Stripe's dashboard
// (charge.refunded) refunds the payment and the ticket and takes the session
// out of the solver's stats; a partial one only records the amount.
func TestPaymentRefundedInStripe(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	admin := token(t, seed.Admin)
	w := e.work("")
	pi := e.charged(w.session)
	t0 := time.Now().Add(-time.Minute)
	e.deliver(stripetest.IntentEvent("evt_paid", "payment_intent.succeeded", pi.IntentID, w.session, t0))
	e.applied()
	before := e.must(admin, statsQ, map[string]any{"id": seed.SolverActive})

	e.deliver(stripetest.ChargeRefunded("evt_partial", pi.IntentID, t0.Add(time.Second), false, 500))
	e.applied()
	if got := e.info(w.session); got.Status != models.PaymentSucceeded || got.RefundedCents != 500 {
		t.Fatalf("after a partial refund: %+v", got)
	}
	e.deliver(stripetest.ChargeRefunded("evt_full", pi.IntentID, t0.Add(2*time.Second), true, w.total))
	e.applied()
	if p := e.payment(admin, w.session); p["status"] != "REFUNDED" || p["refundedAt"] == nil {
		t.Fatalf("after charge.refunded: %v", p)
	}
	d := e.must(admin, `query($id: ID!) { ticket(id: $id) { status } }`, map[string]any{"id": w.ticket})
	if str(d, "ticket", "status") != "REFUNDED" {
		t.Fatalf("ticket after a refund in Stripe: %v", d)
	}
	wantStats(t, before, e.must(admin, statsQ, map[string]any{"id": seed.SolverActive}), -1, -earnings(t, e.env, w.session))
	if n := len(e.stripe.Requests("/v1/refunds")); n != 0 {
		t.Fatalf("the server refunded again (%d)", n)
	}
	recompute(t, e.db, 0)
	// refundTicket now finds nothing to refund.
	e.wantCode("CONFLICT", admin, refundQ, map[string]any{"id": w.ticket})
}

// TestPaymentRefundUnpaid: refunding a session nobody paid cancels its
// PaymentIntent (it can no longer be paid) and waives the payment; before
// the intent exists, the charge job then creates nothing payable.
func TestPaymentRefundUnpaid(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	admin := token(t, seed.Admin)
	w := e.work("")
	pi := e.charged(w.session)
	e.must(admin, refundQ, map[string]any{"id": w.ticket})
	cancels := e.stripe.Succeeded("/v1/payment_intents/" + pi.IntentID + "/cancel")
	if len(cancels) != 1 {
		t.Fatalf("%d cancellations", len(cancels))
	}
	if p := e.payment(w.guest, w.session); p["status"] != "REFUNDED" || p["clientSecret"] != nil || p["paidAt"] != nil {
		t.Fatalf("the customer's view after the waiver: %v", p)
	}
	// A payment still processing cannot be refunded yet.
	x := e.work("")
	px := e.charged(x.session)
	e.deliver(stripetest.IntentEvent("evt_processing", "payment_intent.processing", px.IntentID, x.session, time.Now()))
	e.applied()
	e.wantCode("CONFLICT", admin, refundQ, map[string]any{"id": x.ticket})
	if p := e.payment(admin, x.session); p["status"] != "PROCESSING" {
		t.Fatalf("after the refused refund: %v", p)
	}
	recompute(t, e.db, 0)

	// Refunded before the charge job could create the intent (Stripe down):
	// once Stripe is back, nothing payable is left. Usually the job creates
	// nothing; a retry already under way when the refund committed may still
	// create the intent (the race the next case forces), and must cancel it.
	e.stripe.Fail("/v1/payment_intents", -1)
	y := e.work("")
	wt.Eventually(t, "a failed charge attempt", func() bool { return len(e.stripe.Requests("/v1/payment_intents")) > 2 })
	e.must(admin, refundQ, map[string]any{"id": y.ticket})
	e.stripe.Recover()
	wt.Eventually(t, "the charge job done", func() bool {
		return e.count("SELECT count(*) FROM river_job WHERE kind = 'charge_session' AND args->>'session_id' = ? AND state = 'completed'", y.session) == 1
	})
	py := e.info(y.session)
	if py.Status != models.PaymentRefunded || py.ClientSecret != "" {
		t.Fatalf("payment waived before its intent: %+v", py)
	}
	for _, r := range e.stripe.Succeeded("/v1/payment_intents") {
		if r.IdempotencyKey != y.session {
			continue
		}
		// The intent created is the one kept on the payment, and cancelled.
		if py.IntentID == "" || len(e.stripe.Succeeded("/v1/payment_intents/"+py.IntentID+"/cancel")) != 1 {
			t.Fatalf("an intent was created for a waived payment and not cancelled: %+v", py)
		}
	}
	if py.IntentID != "" && len(e.stripe.Succeeded("/v1/payment_intents/"+py.IntentID+"/cancel")) != 1 {
		t.Fatalf("the waived payment keeps an intent that was not cancelled: %+v", py)
	}

	// Refunded while the job waits for Stripe to create the intent: the
	// new intent is cancelled at once and never shown.
	z := e.charge(admin)
	if pz := e.info(z.session); pz.Status != models.PaymentRefunded || pz.ClientSecret != "" {
		t.Fatalf("payment refunded during its intent's creation: %+v", pz)
	}
	if p := e.payment(z.guest, z.session); p["status"] != "REFUNDED" || p["clientSecret"] != nil {
		t.Fatalf("the customer's view: %v", p)
	}
}

// charge ends a session whose ticket admin refunds while the charge job
// waits for Stripe to create the PaymentIntent; it returns once the job
// stored (and cancelled) the intent.
func (e *payEnv) charge(admin string) worked {
	e.t.Helper()
	refunded := make(chan result, 1)
	var w worked
	var mu sync.Mutex
	e.stripe.Before("/v1/payment_intents", func() {
		mu.Lock()
		ticket := w.ticket
		mu.Unlock()
		refunded <- e.do(admin, refundQ, map[string]any{"id": ticket}) // not must: this is the fake's goroutine
	})
	// The hook needs the ticket id before the job runs: create it first.
	id, guest := e.newTicket("")
	mu.Lock()
	w.ticket, w.guest = id, guest
	mu.Unlock()
	solver := token(e.t, seed.Solver1)
	e.must(solver, claim, map[string]any{"id": id})
	w.session = str(e.must(solver, start, map[string]any{"id": id}), "startSession", "id")
	e.must(solver, endPayQ, map[string]any{"id": w.session})
	select {
	case r := <-refunded:
		if len(r.Errors) > 0 || str(r.Data, "refundTicket", "status") != "REFUNDED" {
			e.t.Fatalf("refund during the intent's creation: %+v %v", r.Errors, r.Data)
		}
	case <-time.After(20 * time.Second):
		e.t.Fatal("the charge job never asked Stripe for the intent")
	}
	pi := e.charged(w.session)
	wt.Eventually(e.t, "the late intent cancelled", func() bool {
		return len(e.stripe.Succeeded("/v1/payment_intents/"+pi.IntentID+"/cancel")) == 1
	})
	return w
}

// TestPaymentRefundRefused: a refund Stripe refuses for good (here: an
// intent Stripe does not know) answers CONFLICT with Stripe's code, and
// changes nothing.
func TestPaymentRefundRefused(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	admin := token(t, seed.Admin)
	w := e.work("")
	pi := e.charged(w.session)
	pi.Status, pi.IntentID = models.PaymentSucceeded, "pi_unknown_to_stripe"
	if err := store.SetPaymentInfo(context.Background(), e.db, w.session, pi); err != nil {
		t.Fatal(err)
	}
	before := e.must(admin, statsQ, map[string]any{"id": seed.SolverActive})
	res := e.wantCode("CONFLICT", admin, refundQ, map[string]any{"id": w.ticket})
	if !strings.Contains(res.Errors[0].Message, "resource_missing") {
		t.Fatalf("refusal: %+v", res.Errors)
	}
	if p := e.payment(admin, w.session); p["status"] != "SUCCEEDED" {
		t.Fatalf("after the refusal: %v", p)
	}
	d := e.must(admin, `query($id: ID!) { ticket(id: $id) { status } }`, map[string]any{"id": w.ticket})
	if str(d, "ticket", "status") != "COMPLETED" {
		t.Fatalf("ticket after the refusal: %v", d)
	}
	wantStats(t, before, e.must(admin, statsQ, map[string]any{"id": seed.SolverActive}), 0, 0)
}

// TestPaymentStatements: Session.payment reads its session's ticket ahead
// with the level, so the statements of a query stay the same whatever the
// number of sessions (over tickets, and over ratings, where the tickets are
// not read otherwise).
func TestPaymentStatements(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		`query($n: Int) { tickets(first: $n) { edges { node { sessions { payment { status amountCents } } } } } }`,
		`query($n: Int) { solver(id: "` + seed.SolverActive + `") { ratings(first: $n) { edges { node { session { payment { status clientSecret } } } } } } }`,
	} {
		counts := map[int]int64{}
		for _, n := range []int{5, 50} {
			e := newEnvOpts(t, opts{wait: time.Microsecond})
			e.manyTickets(n)
			admin := token(t, seed.Admin)
			e.stmts.Store(0)
			d := e.must(admin, q, map[string]any{"n": n})
			if !strings.Contains(fmt.Sprint(d), "UNBILLED") {
				t.Fatalf("payment: %v", d)
			}
			counts[n] = e.stmts.Load()
		}
		if counts[5] != counts[50] {
			t.Fatalf("%s\nstatements: %d for 5 sessions, %d for 50", q, counts[5], counts[50])
		}
	}
}

// TestPaymentSessionUpdated: sessionUpdated announces each change of the
// payment, and shows it under the query's rules: the client secret reaches
// the customer only.
func TestPaymentSessionUpdated(t *testing.T) {
	t.Parallel()
	e := newPayEnv(t)
	srv := e.live()
	const q = `subscription($id: ID!) { sessionUpdated(sessionId: $id) { id payment { status clientSecret } } }`
	w := e.started("")
	cust := connect(t, srv, "graphql-transport-ws", w.guest)
	solv := connect(t, srv, "graphql-transport-ws", token(t, seed.Solver1))
	cust.subscribe("p", q, map[string]any{"id": w.session})
	solv.subscribe("p", q, map[string]any{"id": w.session})
	subscribed(t, e.hub, 2)
	e.must(token(t, seed.Solver1), endPayQ, map[string]any{"id": w.session})
	// until is the first event of c whose payment reads want ("STATUS secret?").
	until := func(c *wsClient, want string) {
		t.Helper()
		for {
			p := get(c.data("p"), "sessionUpdated", "payment")
			got := str(p, "status") + " " + strconv.FormatBool(get(p, "clientSecret") != nil)
			if got == want {
				return
			}
			if strings.HasSuffix(got, "true") && c == solv {
				t.Fatalf("the solver got the client secret: %v", p)
			}
		}
	}
	until(cust, "REQUIRES_PAYMENT true") // the charge job stored the intent
	until(solv, "REQUIRES_PAYMENT false")
	pi := e.charged(w.session)
	e.deliver(stripetest.IntentEvent("evt_paid_live", "payment_intent.succeeded", pi.IntentID, w.session, time.Now()))
	until(cust, "SUCCEEDED false")
	until(solv, "SUCCEEDED false")
}
