package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/jobs"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/webhooks"
	wt "github.com/savvysolve/api/internal/webhooks/webhooktest"
	"github.com/savvysolve/api/models"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// clerk delivers a signed Clerk event, which must be acknowledged.
func clerk(t *testing.T, e *wt.Env, msgID string, body []byte) {
	t.Helper()
	if status, resp := e.Clerk(t, msgID, body); status != 200 {
		t.Fatalf("delivery answered %d: %s", status, resp)
	}
}

// telnyx delivers a signed Telnyx event, which must be acknowledged.
func telnyx(t *testing.T, e *wt.Env, body []byte) {
	t.Helper()
	if status, resp := e.Telnyx(t, body); status != 200 {
		t.Errorf("delivery answered %d: %s", status, resp)
	}
}

func user(t *testing.T, e *wt.Env, clerkID string) *models.User {
	t.Helper()
	u := new(models.User)
	if err := e.DB.NewSelect().Model(u).Where("clerk_id = ?", clerkID).Scan(context.Background()); err != nil {
		t.Fatalf("user %s: %v", clerkID, err)
	}
	return u
}

func TestClerkUserSync(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{Workers: 4})
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute)

	// created, then updated.
	clerk(t, e, "msg_created", wt.ClerkUser(t, "user.created", "user_pat", "pat@example.com", "Pat", "Lee", "+15550100001", t0))
	e.WaitProcessed(t)
	u := user(t, e, "user_pat")
	if u.Email != "pat@example.com" || u.Name == nil || *u.Name != "Pat Lee" || u.Phone == nil || *u.Phone != "+15550100001" || u.Role != models.RoleCustomer {
		t.Fatalf("created user = %+v", u)
	}
	clerk(t, e, "msg_updated", wt.ClerkUser(t, "user.updated", "user_pat", "pat@new.example", "Patricia", "Lee", "", t0.Add(10*time.Second)))
	e.WaitProcessed(t)

	// The first delivery again (a Svix retry, same svix-id): stored once, applied once,
	// so it does not undo the update.
	clerk(t, e, "msg_created", wt.ClerkUser(t, "user.created", "user_pat", "pat@example.com", "Pat", "Lee", "+15550100001", t0))
	// An older update under a new id (delivered late, out of order): skipped.
	clerk(t, e, "msg_late", wt.ClerkUser(t, "user.updated", "user_pat", "stale@example.com", "Stale", "", "", t0.Add(5*time.Second)))
	e.WaitProcessed(t)
	u = user(t, e, "user_pat")
	if u.Email != "pat@new.example" || *u.Name != "Patricia Lee" || u.Phone != nil {
		t.Fatalf("after the duplicate and the late update, user = %+v (name %v)", u, u.Name)
	}
	if n := e.Count(t, "SELECT count(*) FROM webhook_events WHERE delivery_id = 'msg_created'"); n != 1 {
		t.Errorf("msg_created stored %d times", n)
	}
	if n := e.Count(t, "SELECT count(*) FROM river_job WHERE kind = 'clerk_event'"); n != 3 {
		t.Errorf("%d clerk jobs, want 3 (created, updated, late)", n)
	}

	// The user opens a ticket, then deletes the account.
	ticket := &models.Ticket{CustomerID: &u.ID, Description: "help", DeviceType: models.DevicePhone,
		CustomerInfo: models.CustomerInfo{Name: "Patricia Lee", Email: &u.Email}}
	if _, err := e.DB.NewInsert().Model(ticket).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	clerk(t, e, "msg_deleted", wt.ClerkUser(t, "user.deleted", "user_pat", "", "", "", "", t0.Add(20*time.Second)))
	e.WaitProcessed(t)
	// A late update after the deletion changes nothing.
	clerk(t, e, "msg_after", wt.ClerkUser(t, "user.updated", "user_pat", "back@example.com", "Back", "", "", t0.Add(15*time.Second)))
	e.WaitProcessed(t)

	u = user(t, e, "user_pat")
	if u.Email != "deleted+user_pat@invalid" || u.Name != nil || u.Phone != nil {
		t.Errorf("deleted user = %+v", u)
	}
	if err := e.DB.NewSelect().Model(ticket).WherePK().Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if ticket.CustomerID == nil || *ticket.CustomerID != u.ID || ticket.CustomerInfo.Email != nil || ticket.CustomerInfo.Name == "Patricia Lee" {
		t.Errorf("the deleted user's ticket = %+v, want it kept, without contact details", ticket.CustomerInfo)
	}
	if n := e.Count(t, `SELECT count(*) FROM webhook_events WHERE subject_id = 'user_pat' AND payload::text LIKE '%example%'`); n != 0 {
		t.Errorf("%d stored payloads still hold the deleted user's data", n)
	}
}

// callEvents are the events of one call, as Telnyx sends them.
func callEvents(t *testing.T, callID string, clientState string, t0 time.Time) map[string][]byte {
	t.Helper()
	payload := func(extra map[string]any) map[string]any {
		p := map[string]any{"call_control_id": callID, "call_session_id": "sess-" + callID, "direction": "incoming",
			"from": "+15550100001", "to": "+15550109999", "client_state": clientState}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	return map[string][]byte{
		"initiated": wt.TelnyxEvent(t, "call.initiated", callID+"-1", t0, payload(nil)),
		"answered":  wt.TelnyxEvent(t, "call.answered", callID+"-2", t0.Add(5*time.Second), payload(nil)),
		"hangup": wt.TelnyxEvent(t, "call.hangup", callID+"-3", t0.Add(95*time.Second), payload(map[string]any{
			"end_time": t0.Add(95 * time.Second).UTC().Format(time.RFC3339Nano), "hangup_cause": "normal_clearing"})),
		"recording": wt.TelnyxEvent(t, "call.recording.saved", callID+"-4", t0.Add(97*time.Second), payload(map[string]any{
			"recording_urls": map[string]any{"mp3": "https://recordings.example/" + callID + ".mp3"}})),
	}
}

func callLog(t *testing.T, e *wt.Env, providerID string) *models.CallLog {
	t.Helper()
	l := new(models.CallLog)
	if err := e.DB.NewSelect().Model(l).Where("provider_id = ?", providerID).Scan(context.Background()); err != nil {
		t.Fatalf("call log %s: %v", providerID, err)
	}
	return l
}

// TestCallEventsInAnyOrder delivers the events of a call in every kind of
// order, all at once to concurrent workers: the row ends in its latest state.
func TestCallEventsInAnyOrder(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{Workers: 8})
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	session := seed.SessionCompleted
	state := webhooks.EncodeClientState(webhooks.ClientState{SessionID: session})
	if err := seed.Run(context.Background(), e.DB); err != nil {
		t.Fatal(err)
	}

	orders := [][]string{
		{"hangup", "answered", "initiated", "recording"}, // hangup before the answer
		{"recording", "hangup", "initiated", "answered"},
		{"initiated", "answered", "hangup", "recording"},
	}
	for range 5 {
		o := []string{"initiated", "answered", "hangup", "recording"}
		rand.Shuffle(len(o), func(a, b int) { o[a], o[b] = o[b], o[a] })
		orders = append(orders, o)
	}
	for i, order := range orders {
		callID := fmt.Sprintf("v3:call-%d", i)
		events := callEvents(t, callID, state, t0)
		var wg sync.WaitGroup
		for _, name := range order {
			wg.Add(1)
			go func() {
				defer wg.Done()
				telnyx(t, e, events[name])
			}()
		}
		wg.Wait()
	}
	// And one strictly in the worst order, each applied before the next arrives.
	events := callEvents(t, "v3:call-seq", state, t0)
	for _, name := range []string{"hangup", "recording", "answered", "initiated"} {
		telnyx(t, e, events[name])
		e.WaitProcessed(t)
		if l := callLog(t, e, "v3:call-seq"); l.Status != "hangup" || l.EndedAt == nil {
			t.Fatalf("after %s: status %q, ended %v: a hung-up call was un-ended", name, l.Status, l.EndedAt)
		}
	}
	e.WaitProcessed(t)

	for i := range len(orders) + 1 {
		id := fmt.Sprintf("v3:call-%d", i)
		if i == len(orders) {
			id = "v3:call-seq"
		}
		l := callLog(t, e, id)
		got := fmt.Sprintf("%s %v %v %v %v", l.Status, deref(l.Duration), deref(l.RecordingURL), deref(l.SessionID), deref(l.TicketID))
		want := fmt.Sprintf("hangup 90 https://recordings.example/%s.mp3 %s %s", id, session, seed.TicketCompleted)
		if got != want {
			t.Errorf("call %s: %s, want %s", id, got, want)
		}
		if l.StartedAt == nil || !l.StartedAt.Equal(t0.Add(5*time.Second)) || l.EndedAt == nil || !l.EndedAt.Equal(t0.Add(95*time.Second)) {
			t.Errorf("call %s: started %v, ended %v", id, l.StartedAt, l.EndedAt)
		}
		if l.Direction != models.Inbound || l.FromNumber != "+15550100001" {
			t.Errorf("call %s: %s from %s", id, l.Direction, l.FromNumber)
		}
	}
	if n := e.Count(t, "SELECT count(*) FROM call_logs"); n != len(orders)+1 {
		t.Errorf("%d call logs, want %d", n, len(orders)+1)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func smsLog(t *testing.T, e *wt.Env, providerID string) *models.SmsLog {
	t.Helper()
	l := new(models.SmsLog)
	if err := e.DB.NewSelect().Model(l).Where("provider_id = ?", providerID).Scan(context.Background()); err != nil {
		t.Fatalf("sms log %s: %v", providerID, err)
	}
	return l
}

func message(t *testing.T, eventType, eventID, msgID, direction, from, to, status, clientState string, at time.Time) []byte {
	t.Helper()
	p := map[string]any{"id": msgID, "record_type": "message", "direction": direction, "type": "SMS",
		"text": "Is my laptop fixed?", "from": map[string]any{"phone_number": from},
		"to": []any{map[string]any{"phone_number": to, "status": status}}}
	if clientState != "" {
		p["client_state"] = clientState
	}
	return wt.TelnyxEvent(t, eventType, eventID, at, p)
}

// TestFailingJobRetriesThenSucceeds: a text names (in its client_state) a
// ticket that does not exist yet. The job fails, is logged and retried with
// backoff; once the ticket exists the retry succeeds and links the text.
func TestFailingJobRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	// Attempts enough that the last one (which would keep the text unlinked)
	// cannot come before the test creates the ticket.
	e := wt.New(t, wt.Options{Workers: 2, MaxAttempts: 100})
	ctx := context.Background()
	const ticketID = "00000000-0000-4000-8000-00000000abcd"
	state := webhooks.EncodeClientState(webhooks.ClientState{TicketID: ticketID})
	telnyx(t, e, message(t, "message.received", "evt-m1", "msg-1", "inbound", "+15550100007", "+15550109999", "webhook_delivered", state, time.Now()))

	wt.Eventually(t, "a failed attempt", func() bool {
		return e.Count(t, "SELECT count(*) FROM river_job WHERE kind = 'telnyx_event' AND cardinality(errors) > 0") > 0
	})
	if n := e.Count(t, "SELECT count(*) FROM sms_logs"); n != 0 {
		t.Fatalf("%d sms logs before the ticket exists", n)
	}
	if len(e.Logs.Find(slog.LevelWarn, "job attempt failed, will retry")) == 0 {
		t.Error("the failed attempt was not logged")
	}
	ticket := &models.Ticket{ID: ticketID, Description: "laptop", DeviceType: models.DeviceComputer,
		CustomerInfo: models.CustomerInfo{Name: "Sam"}}
	if _, err := e.DB.NewInsert().Model(ticket).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	e.WaitProcessed(t)

	l := smsLog(t, e, "msg-1")
	if l.TicketID == nil || *l.TicketID != ticketID || l.Status != "received" || l.Direction != models.Inbound || l.Body != "Is my laptop fixed?" {
		t.Errorf("sms log = %+v", l)
	}
	wt.Eventually(t, "the job completed", func() bool {
		return e.Count(t, "SELECT count(*) FROM river_job WHERE kind = 'telnyx_event' AND state = 'completed' AND attempt >= 2") == 1
	})
	wt.Eventually(t, "the counters", func() bool {
		c := e.Counts.Of("telnyx_event")
		return c.Failed >= 1 && c.Completed == 1 && c.Discarded == 0
	})
}

// TestJobThatKeepsFailingStaysVisible: a delivery that cannot be stored (an
// email too long for users.email) fails every attempt; after the last one the
// job is discarded, logged as an error and counted, and the delivery stays
// unprocessed.
func TestJobThatKeepsFailingStaysVisible(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{Workers: 2, MaxAttempts: 3})
	long := strings.Repeat("a", 300) + "@example.com"
	clerk(t, e, "msg_long", wt.ClerkUser(t, "user.created", "user_long", long, "Al", "", "", time.Now()))

	wt.Eventually(t, "the job discarded", func() bool {
		return e.Count(t, "SELECT count(*) FROM river_job WHERE kind = 'clerk_event' AND state = 'discarded' AND attempt = 3") == 1
	})
	if n := e.Count(t, "SELECT count(*) FROM webhook_events WHERE delivery_id = 'msg_long' AND processed_at IS NULL"); n != 1 {
		t.Error("the delivery of the discarded job is not kept unprocessed")
	}
	if c := e.Counts.Of("clerk_event"); c.Failed != 3 || c.Discarded != 1 || c.Completed != 0 {
		t.Errorf("counts = %+v, want 3 failed, 1 discarded", c)
	}
	if got := e.Logs.Find(slog.LevelError, "job discarded after its last attempt"); len(got) != 1 {
		t.Errorf("discard logged %d times at error level", len(got))
	}
	if got := e.Logs.Find(slog.LevelWarn, "job attempt failed, will retry"); len(got) != 2 {
		t.Errorf("%d failed attempts logged, want 2", len(got))
	}
}

// TestTextsLinkByPhoneOrStayUnlinked: without a client_state, a text links to
// the open ticket of the customer's number (and its session); a text from an
// unknown number is kept unlinked. Message states only move forward.
func TestTextsLinkByPhoneOrStayUnlinked(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{Workers: 4})
	ctx := context.Background()
	phone := "+1 (555) 010-0042"
	ticket := &models.Ticket{Description: "router", DeviceType: models.DeviceNetwork, Status: models.TicketPending,
		CustomerInfo: models.CustomerInfo{Name: "Kim", Phone: &phone}}
	closed := &models.Ticket{Description: "old", DeviceType: models.DeviceNetwork, Status: models.TicketCompleted,
		CustomerInfo: models.CustomerInfo{Name: "Kim", Phone: &phone}}
	for _, tk := range []*models.Ticket{closed, ticket} {
		if _, err := e.DB.NewInsert().Model(tk).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Minute)
	// An outbound text to the customer: finalized arrives before sent.
	telnyx(t, e, message(t, "message.finalized", "evt-o2", "msg-out", "outbound", "+15550109999", "+15550100042", "delivered", "", t0.Add(2*time.Second)))
	telnyx(t, e, message(t, "message.sent", "evt-o1", "msg-out", "outbound", "+15550109999", "+15550100042", "sent", "", t0.Add(time.Second)))
	// A text from a number no open ticket has.
	telnyx(t, e, message(t, "message.received", "evt-u", "msg-unknown", "inbound", "+15550100099", "+15550109999", "webhook_delivered", "", t0))
	// A client_state that is not an id of ours: linked by phone instead, without waiting.
	bogus := webhooks.EncodeClientState(webhooks.ClientState{TicketID: "not-an-id"})
	telnyx(t, e, message(t, "message.received", "evt-b", "msg-bogus", "inbound", "15550100042", "+15550109999", "webhook_delivered", bogus, t0))
	e.WaitProcessed(t)

	out := smsLog(t, e, "msg-out")
	if out.TicketID == nil || *out.TicketID != ticket.ID || out.Status != "delivered" || out.Direction != models.Outbound {
		t.Errorf("outbound text = %+v (ticket %v)", out, deref(out.TicketID))
	}
	if l := smsLog(t, e, "msg-unknown"); l.TicketID != nil || l.SessionID != nil {
		t.Errorf("text from an unknown number linked to %v / %v", deref(l.TicketID), deref(l.SessionID))
	}
	if l := smsLog(t, e, "msg-bogus"); l.TicketID == nil || *l.TicketID != ticket.ID {
		t.Errorf("text with a bogus client_state linked to %v, want the open ticket", deref(l.TicketID))
	}
}

func TestUpkeep(t *testing.T) {
	t.Parallel()
	e := wt.New(t, wt.Options{Workers: 2})
	ctx := context.Background()
	if err := seed.Run(ctx, e.DB); err != nil {
		t.Fatal(err)
	}

	t.Run("solver stats recomputed from scratch", func(t *testing.T) {
		stats := func() models.SolverStats {
			s := &models.Solver{ID: seed.SolverActive}
			if err := e.DB.NewSelect().Model(s).WherePK().Scan(ctx); err != nil {
				t.Fatal(err)
			}
			return s.Stats
		}
		want := stats()
		if _, err := e.DB.NewRaw(`UPDATE solvers SET stats = '{"averageRating": 1.0, "totalRatings": 99, "completedSessions": 42, "totalEarningsCents": 7}' WHERE id = ?`, seed.SolverActive).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Jobs.Enqueue(ctx, jobs.SolverStatsArgs{}); err != nil {
			t.Fatal(err)
		}
		wt.Eventually(t, "stats recomputed", func() bool {
			return e.Count(t, `SELECT count(*) FROM solvers WHERE id = ? AND (stats->>'totalRatings')::int = ?`, seed.SolverActive, want.TotalRatings) == 1
		})
		got := stats()
		if fmt.Sprint(deref(got.AverageRating), got.TotalRatings, got.CompletedSessions, got.TotalEarningsCents) !=
			fmt.Sprint(deref(want.AverageRating), want.TotalRatings, want.CompletedSessions, want.TotalEarningsCents) {
			t.Errorf("stats = %+v, want the seed's %+v", got, want)
		}
		if want.CompletedSessions == 0 || want.TotalRatings == 0 {
			t.Errorf("the seed's stats %+v prove nothing", want)
		}
	})

	t.Run("retention", func(t *testing.T) {
		old := time.Now().Add(-31 * 24 * time.Hour)
		for _, row := range []struct {
			id        string
			at        time.Time
			processed bool
		}{{"old-done", old, true}, {"old-never-applied", old, false}, {"new-done", time.Now(), true}} {
			if _, err := e.DB.NewRaw(`INSERT INTO webhook_events (source, delivery_id, event_type, payload, received_at, processed_at)
				VALUES ('telnyx', ?, 'call.initiated', '{}', ?, CASE WHEN ? THEN now() END)`, row.id, row.at, row.processed).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.DB.NewRaw(`INSERT INTO river_job (kind, args, state, attempt, max_attempts, queue, priority, finalized_at, created_at, scheduled_at)
			VALUES ('retention', '{}', 'completed', 1, 5, 'default', 1, ?, ?, ?), ('retention', '{}', 'discarded', 5, 5, 'default', 1, ?, ?, ?)`,
			old, old, old, old, old, old).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Jobs.Enqueue(ctx, jobs.RetentionArgs{}); err != nil {
			t.Fatal(err)
		}
		wt.Eventually(t, "old rows deleted", func() bool {
			return e.Count(t, `SELECT count(*) FROM river_job WHERE finalized_at < now() - interval '30 days'`) == 0
		})
		var left []string
		if err := e.DB.NewRaw(`SELECT delivery_id FROM webhook_events WHERE delivery_id IN ('old-done', 'old-never-applied', 'new-done') ORDER BY 1`).Scan(ctx, &left); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(left) != "[new-done old-never-applied]" {
			t.Errorf("deliveries left: %v", left)
		}
	})
}
