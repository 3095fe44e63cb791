// Package live serves the GraphQL subscriptions. Each replica holds one
// LISTEN connection (see Listen); events announced by any replica's committed
// transactions arrive there, the rows they name are loaded in batches, and
// the hub hands them to this replica's subscribers.
//
// A subscriber never blocks the hub: it has a bounded queue, and one that
// falls behind is disconnected (close code 4008) and can resume with
// `after`. Chat is ordered and gap-free by the per-session sequence number:
// a subscriber that sees a gap, or hears that the listener reconnected, reads
// what it missed from the database.
package live

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/wsconn"
	"github.com/savvysolve/api/models"
)

const (
	// queueLimit is how many undelivered items a subscriber may have before it counts as too slow.
	queueLimit = 256
	// replayPage is how many messages one catch-up read returns.
	replayPage = 200
	// MaxSubscriptionsPerConn limits the open subscriptions of one websocket.
	MaxSubscriptionsPerConn = 100
	// queueKey is the one key of the queue's subscribers.
	queueKey = "queue"
	// batchMax bounds the events delivered with one round of loads.
	batchMax = 500
)

// Hub fans events out to this replica's subscribers.
type Hub struct {
	db     *bun.DB
	log    *slog.Logger
	events chan events.Event

	mu       sync.Mutex
	sessions map[string]map[subscriber]struct{} // by session id
	tickets  map[string]map[subscriber]struct{} // by ticket id
	queue    map[string]map[subscriber]struct{} // all under queueKey
	updates  map[string]map[subscriber]struct{} // sessionUpdated, by session id

	listening chan struct{} // closed once the first LISTEN is in place
	listenOne sync.Once

	watchers []Watcher // see Watch

	// Observe, when set, is told about deliveries and drops (metrics).
	Observe Observer
}

// Observer receives the hub's counters.
type Observer interface {
	Notification()
	Subscribed(kind string, delta int)
	TooSlow()
}

// Watcher keeps rows that user events invalidate (auth.Cache). It hears,
// from the listener's goroutine and in the order they arrive, every
// events.User event, and when the listener connects and loses its
// connection (while it has none, events may be missed).
type Watcher interface {
	Listening(on bool)
	Heard(e events.Event)
}

// Watch adds w to the watchers. Call it before Listen.
func (h *Hub) Watch(w Watcher) { h.watchers = append(h.watchers, w) }

type nopObserver struct{}

func (nopObserver) Notification()          {}
func (nopObserver) Subscribed(string, int) {}
func (nopObserver) TooSlow()               {}

// New returns a hub reading rows from db. Start its listener with Listen.
func New(db *bun.DB, log *slog.Logger) *Hub {
	return &Hub{
		db: db, log: log,
		events:    make(chan events.Event, 4096),
		sessions:  map[string]map[subscriber]struct{}{},
		tickets:   map[string]map[subscriber]struct{}{},
		queue:     map[string]map[subscriber]struct{}{},
		updates:   map[string]map[subscriber]struct{}{},
		listening: make(chan struct{}),
		Observe:   nopObserver{},
	}
}

// Len is the number of subscriptions this replica serves.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range []map[string]map[subscriber]struct{}{h.sessions, h.tickets, h.queue, h.updates} {
		for _, subs := range set {
			n += len(subs)
		}
	}
	return n
}

// Listening is closed once the hub's first LISTEN is in place.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

// item is one thing for a subscriber: a message, a ticket (with the queue
// change, if any), or a session.
type item struct {
	msg     *models.SessionMessage
	ticket  *models.Ticket
	kind    models.QueueEventKind
	session *models.Session
}

// add routes key's events to s until its operation ends; then s stops and
// release runs.
func (h *Hub) add(set map[string]map[subscriber]struct{}, key string, s subscriber, kind string, release func()) {
	h.mu.Lock()
	if set[key] == nil {
		set[key] = map[subscriber]struct{}{}
	}
	set[key][s] = struct{}{}
	h.mu.Unlock()
	h.Observe.Subscribed(kind, 1)
	done := func() {
		s.stop()
		h.remove(set, key, s, kind)
		release()
	}
	if !wsconn.OnEnd(s.context(), done) { // a transport of our own tells; else the context does
		context.AfterFunc(s.context(), done)
	}
}

func (h *Hub) remove(set map[string]map[subscriber]struct{}, key string, s subscriber, kind string) {
	h.mu.Lock()
	delete(set[key], s)
	if len(set[key]) == 0 {
		delete(set, key)
	}
	h.mu.Unlock()
	h.Observe.Subscribed(kind, -1)
}

// tooSlow disconnects a subscriber that fell behind (its stream has ended
// already): its websocket closes with a reason.
func (h *Hub) tooSlow(s subscriber) {
	h.Observe.TooSlow()
	wsconn.CloseConn(s.context(), wsconn.CodeTooSlow, "subscriber too slow: reconnect and resume with after")
}

// dispatch delivers events in batches until ctx ends.
func (h *Hub) dispatch(ctx context.Context) {
	for {
		var batch []events.Event
		select {
		case e := <-h.events:
			batch = append(batch, e)
		case <-ctx.Done():
			return
		}
	drain:
		for len(batch) < batchMax {
			select {
			case e := <-h.events:
				batch = append(batch, e)
			default:
				break drain
			}
		}
		h.deliver(ctx, batch)
	}
}

// deliver loads the rows the batch names (one statement per table at most)
// and hands them to the subscribers, in event order.
func (h *Hub) deliver(ctx context.Context, batch []events.Event) {
	msgIDs, ticketIDs := h.wanted(batch)
	sessionIDs := h.wantedSessions(batch)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, tickets, sessions := map[string]*models.SessionMessage{}, map[string]*models.Ticket{}, map[string]*models.Session{}
	var failed bool
	if len(msgIDs) > 0 {
		rows, err := store.MessagesByIDs(ctx, h.db, msgIDs)
		failed = failed || err != nil
		for _, m := range rows {
			msgs[m.ID] = m
		}
	}
	if len(ticketIDs) > 0 {
		rows, err := store.TicketsByIDs(ctx, h.db, ticketIDs)
		failed = failed || err != nil
		for _, t := range rows {
			tickets[t.ID] = t
		}
	}
	if len(sessionIDs) > 0 {
		rows, err := store.SessionsByIDs(ctx, h.db, sessionIDs)
		failed = failed || err != nil
		for _, s := range rows {
			sessions[s.ID] = s
		}
	}
	if failed {
		// The rows will be read by the subscribers themselves when they catch up.
		h.log.Warn("live: loading event rows failed; subscribers will catch up")
		h.resyncAll(time.Now().Add(-time.Minute))
		return
	}
	var slow []subscriber
	h.mu.Lock()
	for _, e := range batch {
		if e.Kind == events.Session {
			slow = append(slow, h.routeSession(e, sessions)...)
			continue
		}
		slow = append(slow, h.route(e, msgs, tickets)...)
	}
	h.mu.Unlock()
	for _, s := range slow {
		h.tooSlow(s)
	}
}

// wanted lists the rows the batch needs, skipping events nobody here listens to.
func (h *Hub) wanted(batch []events.Event) (msgIDs, ticketIDs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range batch {
		switch e.Kind {
		case events.Message:
			if len(h.sessions[e.SessionID]) > 0 {
				msgIDs = append(msgIDs, e.ID)
			}
		case events.Ticket:
			if len(h.tickets[e.ID]) > 0 || (e.Queue != "" && len(h.queue[queueKey]) > 0) {
				ticketIDs = append(ticketIDs, e.ID)
			}
		}
	}
	return msgIDs, ticketIDs
}

// route hands one event's row to its subscribers (h.mu held) and returns those too slow.
func (h *Hub) route(e events.Event, msgs map[string]*models.SessionMessage, tickets map[string]*models.Ticket) (slow []subscriber) {
	push := func(s subscriber, it item) {
		if !s.push(it) {
			slow = append(slow, s)
		}
	}
	switch e.Kind {
	case events.Message:
		m := msgs[e.ID]
		for s := range h.sessions[e.SessionID] {
			if m == nil { // deleted since: let the subscriber re-read
				s.catchUp(time.Time{})
				continue
			}
			push(s, item{msg: m})
		}
	case events.Ticket:
		t := tickets[e.ID]
		if t == nil {
			return nil
		}
		// The row is read after the event; show the status this event announced.
		snap := *t
		if e.Status != "" {
			snap.Status = models.TicketStatus(e.Status)
		}
		for s := range h.tickets[e.ID] {
			push(s, item{ticket: &snap})
		}
		if e.Queue != "" {
			for s := range h.queue[queueKey] {
				push(s, item{ticket: &snap, kind: models.QueueEventKind(e.Queue)})
			}
		}
	}
	return slow
}

// resyncAll asks every subscriber to catch up on what changed since t.
func (h *Hub) resyncAll(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range []map[string]map[subscriber]struct{}{h.sessions, h.tickets, h.queue, h.updates} {
		for _, subs := range set {
			for s := range subs {
				s.catchUp(t)
			}
		}
	}
}
