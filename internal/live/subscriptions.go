package live

import (
	"context"
	"time"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/wsconn"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/models"
)

// open checks that a subscription may start at all and counts it against
// its connection's limit.
func open(ctx context.Context) (auth.Viewer, func(), error) {
	v := auth.ViewerFrom(ctx)
	if err := desk.AuthorizeSubscription(v); err != nil {
		return v, nil, err
	}
	release, err := wsconn.CountSubscription(ctx, MaxSubscriptionsPerConn)
	if err != nil {
		return v, nil, apperr.New(apperr.RateLimited, "at most %d subscriptions per connection", MaxSubscriptionsPerConn)
	}
	return v, release, nil
}

// SessionMessages streams a session's chat to a participant (or an admin):
// first every message after the message `after` (all when nil), then new ones,
// in order, without gaps or duplicates. Without `after`, the connection's
// resume point for the session, if any, counts as `after` (see WithResume).
func (h *Hub) SessionMessages(ctx context.Context, sessionID string, after *string) (<-chan *models.SessionMessage, error) {
	if after == nil {
		after = resumeAfter(ctx, sessionID)
	}
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	afterSeq, err := h.checkSession(ctx, v, sessionID, after)
	if err != nil {
		release()
		return nil, err
	}
	s := newStream(ctx, func(it item) *models.SessionMessage { return it.msg }, h.rereadChat(sessionID))
	// Route to it before the replay reads: a message committed meanwhile
	// waits in the backlog, and the sequence numbers drop the copy the replay
	// also read.
	s.holdForReplay(afterSeq)
	h.add(h.sessions, sessionID, s, "sessionMessages", release)
	go s.work()
	return s.out, nil
}

// checkSession reads through the operation's loaders: subscriptions share
// them, so the reads of many clients subscribing at once (a reconnect after a
// deploy) are batched.
func (h *Hub) checkSession(ctx context.Context, v auth.Viewer, sessionID string, after *string) (int, error) {
	l := loaders.From(ctx)
	s, err := l.SessionByID.Load(ctx, sessionID)()
	if err != nil {
		return 0, err
	}
	t, err := l.TicketByID.Load(ctx, s.TicketID)()
	if err != nil {
		return 0, err
	}
	if err := desk.AuthorizeChat(v, s, t); err != nil {
		return 0, err
	}
	if after == nil {
		return 0, nil
	}
	m, err := l.MessageByID.Load(ctx, *after)()
	if apperr.CodeOf(err) == apperr.NotFound || (err == nil && m.SessionID != sessionID) {
		return 0, apperr.Invalid("after", "after is not a message of this session")
	}
	if err != nil {
		return 0, err
	}
	return m.Seq, nil
}

// rereadChat reads a page of a session's messages after a seq.
func (h *Hub) rereadChat(sessionID string) rereader {
	return func(ctx context.Context, last int, _ time.Time) ([]item, bool) {
		ms, err := store.MessagesAfter(ctx, h.db, sessionID, last, replayPage)
		if err != nil { // the next gap or reconnect brings it back
			return nil, false
		}
		items := make([]item, len(ms))
		for i, m := range ms {
			items[i] = item{msg: m}
		}
		return items, len(ms) == replayPage
	}
}

// TicketUpdated streams every status change of a ticket to its customer, its
// solver and admins.
func (h *Hub) TicketUpdated(ctx context.Context, ticketID string) (<-chan *models.Ticket, error) {
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	t, err := loaders.From(ctx).TicketByID.Load(ctx, ticketID)()
	if err == nil {
		err = desk.AuthorizeTicketUpdates(v, t)
	}
	if err != nil {
		release()
		return nil, err
	}
	s := newStream(ctx, func(it item) *models.Ticket { return it.ticket },
		func(ctx context.Context, _ int, since time.Time) ([]item, bool) {
			t, err := store.TicketByID(ctx, h.db, ticketID, false)
			if err != nil || t.UpdatedAt.Before(since) {
				return nil, false
			}
			return []item{{ticket: t}}, false
		})
	h.add(h.tickets, ticketID, s, "ticketUpdated", release)
	return s.out, nil
}

// Queue streams tickets entering (ADDED) and leaving (REMOVED) the queue to
// active solvers and admins.
func (h *Hub) Queue(ctx context.Context) (<-chan *models.TicketQueueEvent, error) {
	v, release, err := open(ctx)
	if err != nil {
		return nil, err
	}
	if err := desk.AuthorizeQueue(v); err != nil {
		release()
		return nil, err
	}
	s := newStream(ctx, func(it item) *models.TicketQueueEvent {
		return &models.TicketQueueEvent{Kind: it.kind, Ticket: it.ticket}
	}, func(ctx context.Context, _ int, since time.Time) ([]item, bool) {
		return h.queueChangesSince(ctx, since), false
	})
	h.add(h.queue, queueKey, s, "ticketQueue", release)
	return s.out, nil
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
