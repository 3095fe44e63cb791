package live

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/savvysolve/api/internal/events"
)

// Listen holds this replica's LISTEN connection on url (a direct connection:
// notifications do not pass through a transaction pooler) and delivers events
// until ctx ends. When the connection drops it reconnects with backoff, and
// then every subscriber catches up from the database on what it may have
// missed, so nothing is lost. Watchers hear when the connection comes and
// goes, and user events as soon as they arrive.
func (h *Hub) Listen(ctx context.Context, url string) {
	go h.dispatch(ctx)
	backoff := 100 * time.Millisecond
	lost := time.Now()
	for ctx.Err() == nil {
		connected, err := h.listenOnce(ctx, url, lost)
		if ctx.Err() != nil {
			return
		}
		if connected {
			lost, backoff = time.Now(), 100*time.Millisecond
		}
		h.log.Warn("live: listener connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listenOnce runs one connection; it returns when the connection fails,
// saying whether it had been listening.
func (h *Hub) listenOnce(ctx context.Context, url string, lost time.Time) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(cctx, url)
	cancel()
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+events.Channel); err != nil {
		return false, err
	}
	h.watchListening(true)
	defer h.watchListening(false) // from the first missed event on
	h.listenOne.Do(func() { close(h.listening) })
	// Anything committed before LISTEN took effect was not heard: catch up.
	// (The margin covers clock skew between this host and the database.)
	h.resyncAll(lost.Add(-5 * time.Second))
	h.log.Info("live: listening for events")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		h.Observe.Notification()
		var e events.Event
		if err := json.Unmarshal([]byte(n.Payload), &e); err != nil {
			h.log.Warn("live: bad event payload", "err", err)
			continue
		}
		if e.Kind == events.User { // no subscription follows users: only the watchers
			for _, w := range h.watchers {
				w.Heard(e)
			}
			continue
		}
		select {
		case h.events <- e:
		case <-ctx.Done():
			return true, ctx.Err()
		}
	}
}

func (h *Hub) watchListening(on bool) {
	for _, w := range h.watchers {
		w.Listening(on)
	}
}
