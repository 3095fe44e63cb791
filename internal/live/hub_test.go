package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/models"
)

// TestSlowSubscriberDoesNotBlock: a subscriber that stops reading is dropped
// once its backlog is full; routing never waits for it (this test would
// hang), and a subscriber that keeps reading gets everything, in order.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	h := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(auth.WithViewer(context.Background(), auth.Viewer{TicketID: "t"}))
	defer cancel()
	msg := func(it item) *models.SessionMessage { return it.msg }
	slow, fast := newStream(ctx, msg, nil), newStream(ctx, msg, nil)
	slow.chat, fast.chat = true, true
	h.add(h.sessions, "s1", slow, "sessionMessages", func() {})
	h.add(h.sessions, "s1", fast, "sessionMessages", func() {})
	got, dropped := 0, 0
	msgs := map[string]*models.SessionMessage{}
	const n = 4 * queueLimit
	for i := 1; i <= n; i++ {
		id := fmt.Sprint(i)
		msgs[id] = &models.SessionMessage{ID: id, SessionID: "s1", Seq: i}
		h.mu.Lock()
		slowSubs := h.route(events.Event{Kind: events.Message, ID: id, SessionID: "s1", Seq: i}, msgs, nil)
		h.mu.Unlock()
		for _, s := range slowSubs {
			if s != subscriber(slow) {
				t.Fatal("the reading subscriber was reported slow")
			}
			dropped++
			h.tooSlow(s)
		}
		for i%(queueLimit/4) == 0 && got < i { // the fast one reads now and then
			select {
			case m, ok := <-fast.out:
				if !ok {
					t.Fatal("the reading subscriber was dropped")
				}
				if got++; m.Seq != got {
					t.Fatalf("reading subscriber got seq %d, want %d", m.Seq, got)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("reading subscriber stuck at %d of %d", got, i)
			}
		}
	}
	if got != n {
		t.Fatalf("reading subscriber got %d of %d", got, n)
	}
	if dropped != 1 {
		t.Fatalf("slow subscriber reported %d times, want once", dropped)
	}
	// Its stream ends once its worker gives up (the operation's end).
	cancel()
	for range slow.out {
	}
}
