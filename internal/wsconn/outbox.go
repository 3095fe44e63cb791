package wsconn

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Delivery without a goroutine per subscription ("wake, then pull").
//
// gqlgen's response handler of a subscription blocks until the resolver's
// channel yields, so its own transports park one goroutine per subscription
// on it. Here the resolver (internal/live) finds a wake function in its
// context (Wake), and calls it once for every item it puts into the
// subscription's channel, and once when it closes the channel. A wake queues
// the subscription on its connection's Outbox; a worker of the shared Pool
// then calls the handler, which finds the item waiting and does not block,
// and writes the result. A connection's writes happen on one worker at a
// time, in wake order; no goroutine exists for an idle subscription or an
// idle connection's writes.

// Pool runs outboxes that have something to deliver, on at most Max
// goroutines that exist only while there is work (they exit when the queue
// is empty). Resolving an event's fields may wait for a dataloader batch, so
// the pool is wide: the subscribers resolving one event run side by side and
// their loads are batched together.
type Pool struct {
	Max int // at most this many workers (0: 256 per CPU)

	mu      sync.Mutex
	queue   []runner
	head    int
	workers int
}

type runner interface{ run() }

type task func()

func (f task) run() { f() }

// Go runs f on the pool.
func (p *Pool) Go(f func()) { p.schedule(task(f)) }

func (p *Pool) schedule(b runner) {
	p.mu.Lock()
	p.queue = append(p.queue, b)
	max := p.Max
	if max <= 0 {
		max = 256 * runtime.GOMAXPROCS(0)
	}
	spawn := p.workers < max
	if spawn {
		p.workers++
	}
	p.mu.Unlock()
	if spawn {
		go p.work()
	}
}

func (p *Pool) work() {
	for {
		p.mu.Lock()
		if p.head == len(p.queue) {
			p.queue, p.head = p.queue[:0], 0
			if cap(p.queue) > 4096 { // a burst is over: do not keep its queue
				p.queue = nil
			}
			p.workers--
			p.mu.Unlock()
			return
		}
		b := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.mu.Unlock()
		b.run()
	}
}

// Writer writes an outbox's results to its connection. Its methods are
// called one at a time per outbox; on a write error the writer closes its
// connection itself (every operation then ends).
type Writer interface {
	// Next writes one result of op; eventID is the id the resolver gave the
	// event ("" when none).
	Next(op *Op, eventID string, resp *graphql.Response)
	// Refused writes the errors of an operation refused before it ran
	// (errors of the protocol kind: parse, validation, limits).
	Refused(op *Op, errs gqlerror.List)
	// Done tells that op ended (it is no longer in the outbox); complete
	// is true when it ended by itself rather than by the client or the
	// connection closing.
	Done(op *Op, complete bool)
}

// Outbox serialises the deliveries of one connection.
type Outbox struct {
	pool *Pool
	w    Writer

	mu        sync.Mutex
	ready     []*Op // operations with pending wakes, in wake order
	scheduled bool  // queued on the pool, or running on a worker
}

// NewOutbox returns the outbox of a connection written by w, run on pool.
func NewOutbox(pool *Pool, w Writer) *Outbox { return &Outbox{pool: pool, w: w} }

// Op is one operation of a connection.
type Op struct {
	ID     string
	box    *Outbox
	ctx    context.Context
	cancel context.CancelFunc

	handler graphql.ResponseHandler // set once a subscription is attached
	pending []string                // the event ids of the wakes not yet pulled
	queued  bool                    // in box.ready
	ended   bool
	stopped bool     // cancelled by the client or the connection: no complete
	onEnd   []func() // run once when the operation is cancelled or ends
	hooked  bool     // onEnd has run
}

// NewOp returns an operation of the outbox's connection under ctx.
func (b *Outbox) NewOp(ctx context.Context, id string) *Op {
	o := &Op{ID: id, box: b}
	o.ctx, o.cancel = context.WithCancel(ctx)
	return o
}

// Stop cancels the operation (the client stopped it, or the connection
// closed); it ends without a complete message.
func (o *Op) Stop() {
	o.box.mu.Lock()
	o.stopped = true
	o.box.mu.Unlock()
	o.cancel()
	o.runHooks()
}

// runHooks runs the OnEnd functions, once.
func (o *Op) runHooks() {
	o.box.mu.Lock()
	hooks := o.onEnd
	o.onEnd, o.hooked = nil, true
	o.box.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// OnEnd runs f once the operation of ctx (a subscription that took its
// Wake) is cancelled or ends, and reports true; false when ctx's operation
// is not one of an Outbox (then use context.AfterFunc). It costs less than
// context.AfterFunc, for what lives as long as a subscription.
func OnEnd(ctx context.Context, f func()) bool {
	w, ok := ctx.Value(wakeKey{}).(*waker)
	if !ok || w.op == nil {
		return false
	}
	o := w.op
	o.box.mu.Lock()
	if !o.hooked {
		o.onEnd = append(o.onEnd, f)
		f = nil
	}
	o.box.mu.Unlock()
	if f != nil {
		f()
	}
	return true
}

// Context is the operation's context.
func (o *Op) Context() context.Context { return o.ctx }

type wakeKey struct{}

// waker is what a subscription's resolver finds in its context.
type waker struct {
	wake  func(id string)
	op    *Op
	taken atomic.Bool
}

// Wake returns the function that the resolver of ctx's subscription calls
// once after each item it puts into the channel it returned (with the
// item's event id, or ""), and once after closing that channel; nil when
// ctx's transport pulls the channel itself. A resolver that takes it must
// call it so.
func Wake(ctx context.Context) func(id string) {
	w, ok := ctx.Value(wakeKey{}).(*waker)
	if !ok {
		return nil
	}
	w.taken.Store(true)
	return w.wake
}

func (o *Op) wake(id string) {
	b := o.box
	b.mu.Lock()
	if o.ended {
		b.mu.Unlock()
		return
	}
	o.pending = append(o.pending, id)
	start := b.enqueue(o)
	b.mu.Unlock()
	if start {
		b.pool.schedule(b)
	}
}

// enqueue (b.mu held) puts o in line if it has work, and reports whether the
// outbox must be scheduled.
func (b *Outbox) enqueue(o *Op) bool {
	if o.handler == nil || o.queued || len(o.pending) == 0 {
		return false
	}
	o.queued = true
	b.ready = append(b.ready, o)
	if b.scheduled {
		return false
	}
	b.scheduled = true
	return true
}

// run delivers until no operation has a pending wake (on a pool worker).
func (b *Outbox) run() {
	for {
		b.mu.Lock()
		if len(b.ready) == 0 {
			b.ready = nil
			b.scheduled = false
			b.mu.Unlock()
			return
		}
		o := b.ready[0]
		b.ready = b.ready[1:]
		if o.ended {
			b.mu.Unlock()
			continue
		}
		id := o.pending[0]
		if o.pending = o.pending[1:]; len(o.pending) == 0 {
			o.pending, o.queued = nil, false
		} else {
			b.ready = append(b.ready, o) // one event at a time per operation: fair
		}
		h, ctx := o.handler, o.ctx
		b.mu.Unlock()
		if resp := h(ctx); resp != nil {
			b.w.Next(o, id, resp)
		} else {
			b.end(o)
		}
	}
}

// end finishes o: it leaves the outbox, and the writer hears of it.
func (b *Outbox) end(o *Op) {
	b.mu.Lock()
	if o.ended {
		b.mu.Unlock()
		return
	}
	o.ended, o.pending, o.handler = true, nil, nil
	complete := !o.stopped
	b.mu.Unlock()
	o.cancel()
	o.runHooks()
	b.w.Done(o, complete)
}

// attach starts delivering o's subscription events through h.
func (b *Outbox) attach(o *Op, h graphql.ResponseHandler, ctx context.Context) {
	b.mu.Lock()
	o.handler, o.ctx = h, ctx
	start := b.enqueue(o)
	b.mu.Unlock()
	if start {
		b.pool.schedule(b)
	}
}

// Run runs an operation with its raw parameters (on the caller's
// goroutine, which returns once a subscription is set up): a query or a
// mutation answers once and ends; a subscription's events are delivered as
// they come, until it ends.
func (b *Outbox) Run(o *Op, exec graphql.GraphExecutor, params *graphql.RawParams) {
	// The trace start only matters to CreateOperationContext (rc.Stats), and
	// DispatchOperation puts rc in the context itself: the context that a
	// subscription keeps for its life carries neither twice.
	start := graphql.StartOperationTrace(o.ctx)
	rc, err := exec.CreateOperationContext(start, params)
	if err != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(start, rc), err)
		if errcode.GetErrorKind(err) == errcode.KindProtocol {
			b.w.Refused(o, resp.Errors)
		} else {
			b.w.Next(o, "", &graphql.Response{Errors: err})
		}
		b.end(o)
		return
	}
	ctx := o.ctx
	sub := rc.Operation != nil && rc.Operation.Operation == ast.Subscription
	var wk *waker
	if sub {
		wk = &waker{wake: o.wake, op: o}
		ctx = context.WithValue(ctx, wakeKey{}, wk)
	}
	h, ctx := exec.DispatchOperation(ctx, rc)
	if sub && wk.taken.Load() {
		b.attach(o, h, ctx)
		return
	}
	// Queries and mutations (which may wait in line for a turn, and run);
	// subscriptions refused by their resolver (their handler answers at
	// once); and resolvers that do not wake, pulled here: on a goroutine of
	// their own, so that Run returns quickly to a pool that calls it.
	go b.answer(o, h, ctx)
}

// answer calls h until it is done, writing each result, then ends o.
func (b *Outbox) answer(o *Op, h graphql.ResponseHandler, ctx context.Context) {
	for {
		resp := h(ctx)
		if resp == nil {
			break
		}
		b.w.Next(o, "", resp)
	}
	b.end(o)
}

// DecodeParams reads an operation's parameters as gqlgen's transports do
// (numbers kept as json.Number).
func DecodeParams(payload []byte) (*graphql.RawParams, error) {
	p := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(p); err != nil {
		return nil, err
	}
	return p, nil
}
