package live

import (
	"context"
	"time"

	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/wsconn"
	"github.com/savvysolve/api/models"
)

// open checks the common preconditions of a subscription and counts it
// against its connection's limit.
func open(ctx context.Context) (auth.Viewer, func(), error) {
	v := auth.ViewerFrom(ctx)
	if v.Anonymous() {
		return v, nil, apperr.New(apperr.Unauthent, "sign in first")
	}
	release, err := wsconn.CountSubscription(ctx, MaxSubscriptionsPerConn)
	if err != nil {
		return v, nil, apperr.New(apperr.RateLimited, "at most %d subscriptions per connection", MaxSubscriptionsPerConn)
	}
	return v, release, nil
}

// SessionMessages streams a session's chat to a participant (or an admin):
// first every message after the message `after` (all when nil), then new ones,
// in order, without gaps or duplicates.
func (h *Hub) SessionMessages(ctx context.Context, sessionID string, after *string) (<-chan *models.SessionMessage, error) {
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	afterSeq, err := h.checkSession(ctx, v, sessionID, after)
	if err != nil {
		release()
		return nil, err
	}
	s := newSub(ctx)
	// Subscribe before the replay: a message committed while the replay runs
	// is heard, and the sequence numbers drop the copy the replay also read.
	h.add(h.sessions, sessionID, s, "sessionMessages")
	out := make(chan *models.SessionMessage, 1)
	go func() {
		defer release()
		defer h.remove(h.sessions, sessionID, s, "sessionMessages")
		defer close(out)
		h.streamMessages(ctx, s, sessionID, afterSeq, out)
	}()
	return out, nil
}

func (h *Hub) checkSession(ctx context.Context, v auth.Viewer, sessionID string, after *string) (int, error) {
	s, err := store.SessionByID(ctx, h.db, sessionID, false)
	if err != nil {
		return 0, err
	}
	t, err := store.TicketByID(ctx, h.db, s.TicketID, false)
	if err != nil {
		return 0, err
	}
	if !desk.CanSeeSession(v, s, t) {
		return 0, apperr.NotFoundf("session")
	}
	if after == nil {
		return 0, nil
	}
	ms, err := store.MessagesByIDs(ctx, h.db, []string{*after})
	if err != nil {
		return 0, err
	}
	if len(ms) != 1 || ms[0].SessionID != sessionID {
		return 0, apperr.Invalid("after", "after is not a message of this session")
	}
	return ms[0].Seq, nil
}

func (h *Hub) streamMessages(ctx context.Context, s *sub, sessionID string, last int, out chan<- *models.SessionMessage) {
	send := func(m *models.SessionMessage) bool {
		select {
		case out <- m:
			last = m.Seq
			return true
		case <-ctx.Done():
			return false
		}
	}
	// catchUp reads everything after last from the database. On a read error
	// it stops early; the next gap or reconnect brings it back.
	catchUp := func() bool {
		for {
			ms, err := store.MessagesAfter(ctx, h.db, sessionID, last, replayPage)
			if err != nil {
				return ctx.Err() == nil
			}
			for _, m := range ms {
				if !send(m) {
					return false
				}
			}
			if len(ms) < replayPage {
				return true
			}
		}
	}
	if !catchUp() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		items, resync, _, dead := s.take()
		if dead {
			return
		}
		if resync && !catchUp() {
			return
		}
		for _, it := range items {
			switch m := it.msg; {
			case m.Seq <= last: // already delivered by a replay
			case m.Seq == last+1:
				if !send(m) {
					return
				}
			default: // a gap: read the missing ones, in order
				if !catchUp() {
					return
				}
			}
		}
	}
}

// TicketUpdated streams every status change of a ticket to its customer, its
// solver and admins.
func (h *Hub) TicketUpdated(ctx context.Context, ticketID string) (<-chan *models.Ticket, error) {
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	t, err := store.TicketByID(ctx, h.db, ticketID, false)
	if err == nil && !desk.CanSeeContact(v, t) {
		err = apperr.NotFoundf("ticket")
	}
	if err != nil {
		release()
		return nil, err
	}
	s := newSub(ctx)
	h.add(h.tickets, ticketID, s, "ticketUpdated")
	out := make(chan *models.Ticket, 1)
	go func() {
		defer release()
		defer h.remove(h.tickets, ticketID, s, "ticketUpdated")
		defer close(out)
		streamTickets(ctx, s, out, func(since time.Time) []item {
			t, err := store.TicketByID(ctx, h.db, ticketID, false)
			if err != nil || t.UpdatedAt.Before(since) {
				return nil
			}
			return []item{{ticket: t}}
		}, func(it item) *models.Ticket { return it.ticket })
	}()
	return out, nil
}

// Queue streams tickets entering (ADDED) and leaving (REMOVED) the queue to
// active solvers and admins.
func (h *Hub) Queue(ctx context.Context) (<-chan *model.TicketQueueEvent, error) {
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsAdmin() && !v.ActiveSolver() {
		release()
		return nil, apperr.New(apperr.Forbidden, "the queue is for active solvers and admins")
	}
	s := newSub(ctx)
	h.add(h.queue, queueKey, s, "ticketQueue")
	out := make(chan *model.TicketQueueEvent, 1)
	go func() {
		defer release()
		defer h.remove(h.queue, queueKey, s, "ticketQueue")
		defer close(out)
		streamTickets(ctx, s, out, func(since time.Time) []item {
			return h.queueChangesSince(ctx, since)
		}, func(it item) *model.TicketQueueEvent {
			return &model.TicketQueueEvent{Kind: it.kind, Ticket: it.ticket}
		})
	}()
	return out, nil
}

// queueChangesSince rebuilds the queue events of tickets changed since a
// moment: a PENDING ticket was ADDED, a claimed or cancelled one REMOVED.
func (h *Hub) queueChangesSince(ctx context.Context, since time.Time) []item {
	ts, err := store.TicketsUpdatedSince(ctx, h.db, since, 1000)
	if err != nil {
		return nil
	}
	var items []item
	for _, t := range ts {
		switch t.Status {
		case models.TicketPending:
			items = append(items, item{ticket: t, kind: models.QueueAdded})
		case models.TicketClaimed, models.TicketCancelled:
			items = append(items, item{ticket: t, kind: models.QueueRemoved})
		}
	}
	return items
}

// streamTickets delivers ticket items to out until ctx ends; missed returns
// what changed since a moment, for catching up after a lost listener.
func streamTickets[T any](ctx context.Context, s *sub, out chan<- T, missed func(time.Time) []item, wrap func(item) T) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		items, resync, since, dead := s.take()
		if dead {
			return
		}
		if resync {
			items = append(missed(since), items...)
		}
		for _, it := range items {
			select {
			case out <- wrap(it):
			case <-ctx.Done():
				return
			}
		}
	}
}
