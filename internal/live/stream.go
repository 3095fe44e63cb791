package live

import (
	"context"
	"sync"
	"time"

	"github.com/savvysolve/api/internal/wsconn"
)

// outBuffer is the capacity of a stream's channel: what the hub can hand
// over without waiting. Beyond it items wait in the stream's backlog.
const outBuffer = 16

// rereads bounds the streams that read from the database at once: many
// clients subscribing together (a reconnect after a deploy) wait their turn
// shallowly instead of each growing a deep stack in the driver while it
// waits for one of the pool's connections.
var rereads = make(chan struct{}, 16)

// rereadTimeout bounds one reread.
const rereadTimeout = 10 * time.Second

// subscriber is what the hub routes events to.
type subscriber interface {
	// push hands over one item without blocking (h.mu held); false when the
	// subscriber has fallen too far behind and must be disconnected.
	push(item) bool
	// catchUp asks it to reread what changed since t from the database.
	catchUp(t time.Time)
	// context is the subscription operation's.
	context() context.Context
	// stop ends it (its operation ended).
	stop()
}

// stream feeds one subscription's channel, which the transport reads. No
// goroutine waits per subscription: the hub sends into the channel directly,
// and wakes the transport (wsconn.Wake), which then pulls the item. Only when
// there is a backlog (a full channel, the replay of a chat, a gap, a lost
// listener) does a worker goroutine run, until the backlog is delivered; while
// it runs it alone sends, so the order holds, and so does the order of the
// wakes.
type stream[T any] struct {
	ctx    context.Context
	out    chan T
	wrap   func(item) T
	reread rereader
	chat   bool            // items are chat messages: deliver them by seq, without gaps or repeats
	wake   func(id string) // told after each send (with the item's event id) and after the close

	mu      sync.Mutex
	backlog []item    // items waiting for the worker
	busy    bool      // the worker runs; it alone sends and closes
	again   bool      // the worker must reread from the database first
	since   time.Time // for tickets: reread what changed since then
	last    int       // for chat: the seq delivered last
	dead    bool      // ended, or too slow
	closed  bool
}

// rereader reads what a subscriber may have missed: chat messages after seq
// last, or tickets changed since a moment. more is true when another call
// would find more (a page was full); a failed read returns what it has.
type rereader func(ctx context.Context, last int, since time.Time) (items []item, more bool)

// newStream returns a stream that sends wrap(item) for each item and rereads
// what it missed with reread. A chat stream is then set up by holdForReplay.
func newStream[T any](ctx context.Context, wrap func(item) T, reread rereader) *stream[T] {
	wake := wsconn.Wake(ctx)
	if wake == nil { // the transport pulls the channel itself
		wake = func(string) {}
	}
	return &stream[T]{ctx: ctx, out: make(chan T, outBuffer), wrap: wrap, reread: reread, wake: wake}
}

// eventID is an item's id for transports that label events (SSE's `id:`):
// a chat message's id, from which a subscription can resume.
func eventID(it item) string {
	if it.msg != nil {
		return it.msg.ID
	}
	return ""
}

func (s *stream[T]) context() context.Context { return s.ctx }

// holdForReplay makes s a chat stream that first replays the messages after
// seq last: routed messages wait in the backlog until the worker, which the
// caller starts (go s.work()) once the hub routes to s, has replayed.
func (s *stream[T]) holdForReplay(last int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chat, s.last, s.again, s.busy = true, last, true, true
}

// stop ends the stream (its operation ended).
func (s *stream[T]) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end()
}

func (s *stream[T]) push(it item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.dead:
		return true
	case s.busy:
		if len(s.backlog) >= queueLimit {
			s.end()
			return false
		}
		s.backlog = append(s.backlog, it)
		return true
	}
	if s.chat {
		switch seq := it.msg.Seq; {
		case seq <= s.last: // already delivered by a reread
			return true
		case seq > s.last+1: // a gap: the worker rereads, in order
			s.startWorker(true)
			return true
		}
	}
	select {
	case s.out <- s.wrap(it):
		if s.chat {
			s.last = it.msg.Seq
		}
		s.wake(eventID(it))
	default: // the channel is full: the worker waits for room
		s.backlog = append(s.backlog, it)
		s.startWorker(false)
	}
	return true
}

func (s *stream[T]) catchUp(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return
	}
	if !s.again || t.Before(s.since) {
		s.since = t
	}
	s.startWorker(true)
}

// startWorker (s.mu held) makes sure the worker runs; reread asks it to read
// from the database before the backlog.
func (s *stream[T]) startWorker(reread bool) {
	s.again = s.again || reread
	if !s.busy {
		s.busy = true
		go s.work()
	}
}

// end (s.mu held) stops the stream; the channel closes now, or when the
// worker, which may be sending, stops.
func (s *stream[T]) end() {
	s.dead = true
	s.backlog = nil
	if !s.busy && !s.closed {
		s.closed = true
		close(s.out)
		s.wake("")
	}
}

// work delivers the backlog, rereading first when asked, until none is left.
func (s *stream[T]) work() {
	for {
		items, reread, ok := s.next()
		if !ok {
			return
		}
		for _, it := range items {
			if !s.deliver(it, reread) {
				break
			}
		}
	}
}

// next returns the worker's next items, and whether they were reread from
// the database; false when it is done (and then no longer busy).
func (s *stream[T]) next() (items []item, reread, ok bool) {
	s.mu.Lock()
	if s.dead || (!s.again && len(s.backlog) == 0) {
		s.busy = false
		if s.dead {
			s.end()
		}
		s.mu.Unlock()
		return nil, false, false
	}
	if !s.again {
		items, s.backlog = s.backlog, nil
		s.mu.Unlock()
		return items, false, true
	}
	s.again = false
	last, since := s.last, s.since
	s.mu.Unlock()
	rereads <- struct{}{}
	// Not under the subscription's context itself: a query there leaves its
	// cancelable context with a set of children (the driver's watch) and a
	// channel for the subscription's whole life. One that ends meanwhile
	// stops at the next delivery.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), rereadTimeout)
	items, more := s.reread(ctx, last, since)
	cancel()
	<-rereads
	if more {
		s.mu.Lock()
		s.again = true
		s.mu.Unlock()
	}
	return items, true, true
}

// deliver sends one item, waiting for room; false when the rest of the items
// in hand must not be sent (the stream ended, or a gap calls for a reread).
// What the database returned has no gap to look for: a message deleted since
// it was announced leaves a hole for good.
func (s *stream[T]) deliver(it item, reread bool) bool {
	if s.chat {
		s.mu.Lock()
		seq, last := it.msg.Seq, s.last
		gap := seq > last+1 && !reread
		s.again = s.again || gap
		s.mu.Unlock()
		if seq <= last || gap {
			return !gap
		}
	}
	v := s.wrap(it)
	select {
	case s.out <- v:
	default: // full: wait for room (asking for Done only now, as it makes a channel the context keeps)
		select {
		case s.out <- v:
		case <-s.ctx.Done():
			return false
		}
	}
	s.wake(eventID(it))
	if s.chat {
		s.mu.Lock()
		s.last = it.msg.Seq
		s.mu.Unlock()
	}
	return true
}
