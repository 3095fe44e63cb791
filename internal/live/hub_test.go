package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/models"
)

// TestSlowSubscriberDoesNotBlock: a subscriber that stops reading is dropped
// once its queue is full; routing never waits for it (this test would hang),
// and a subscriber that keeps reading gets everything.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	h := New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := auth.WithViewer(context.Background(), auth.Viewer{TicketID: "t"})
	slow, fast := newSub(ctx), newSub(ctx)
	h.add(h.sessions, "s1", slow, "sessionMessages")
	h.add(h.sessions, "s1", fast, "sessionMessages")
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
			if s != slow {
				t.Fatal("the reading subscriber was reported slow")
			}
			dropped++
			h.tooSlow(s)
		}
		if i%(queueLimit/4) == 0 { // the fast one reads now and then
			items, _, _, dead := fast.take()
			if dead {
				t.Fatal("the reading subscriber was dropped")
			}
			got += len(items)
		}
	}
	if got != n {
		t.Fatalf("reading subscriber got %d of %d", got, n)
	}
	if _, _, _, dead := slow.take(); !dead || dropped == 0 {
		t.Fatalf("slow subscriber not dropped (dead %v, reported %d)", dead, dropped)
	}
}
