package live

import (
	"context"
	"time"

	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/models"
)

// SessionUpdated streams every change of a session (events.Session: started,
// ended, a screen share started or ended, the payment's status changed,
// rated) to those desk.AuthorizeSessionUpdates allows: its customer, its solver and
// admins. Each event carries the session as read when the event is
// delivered. After a lost listener the subscriber rereads the session and
// gets it when it changed meanwhile (sessions.updated_at), like ticketUpdated.
func (h *Hub) SessionUpdated(ctx context.Context, sessionID string) (<-chan *models.Session, error) {
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	l := loaders.From(ctx)
	s, err := l.SessionByID.Load(ctx, sessionID)()
	var t *models.Ticket
	if err == nil {
		t, err = l.TicketByID.Load(ctx, s.TicketID)()
	}
	if err == nil {
		err = desk.AuthorizeSessionUpdates(v, s, t)
	}
	if err != nil {
		release()
		return nil, err
	}
	st := newStream(ctx, func(it item) *models.Session { return it.session },
		func(ctx context.Context, _ int, since time.Time) ([]item, bool) {
			s, err := store.SessionByID(ctx, h.db, sessionID, false)
			if err != nil || s.UpdatedAt.Before(since) {
				return nil, false
			}
			return []item{{session: s}}, false
		})
	h.add(h.updates, sessionID, st, "sessionUpdated", release)
	return st.out, nil
}

// wantedSessions lists the sessions whose events someone here follows.
func (h *Hub) wantedSessions(batch []events.Event) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, e := range batch {
		if e.Kind == events.Session && len(h.updates[e.ID]) > 0 {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// routeSession hands one session event's row to its followers (h.mu held)
// and returns those too slow.
func (h *Hub) routeSession(e events.Event, sessions map[string]*models.Session) (slow []subscriber) {
	s := sessions[e.ID]
	if s == nil {
		return nil
	}
	for sub := range h.updates[e.ID] {
		if !sub.push(item{session: s}) {
			slow = append(slow, sub)
		}
	}
	return slow
}
