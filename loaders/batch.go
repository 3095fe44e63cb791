package loaders

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Result is the outcome of loading one key.
type Result[V any] struct {
	Data  V
	Error error
}

// BatchFunc loads many keys at once. It returns exactly one result per key,
// in key order.
type BatchFunc[K comparable, V any] func(ctx context.Context, keys []K) []*Result[V]

// Loader collects the keys that resolvers load while a window is open and
// loads them with one call of its batch function (one SQL statement), then
// keeps each key's result for the rest of the operation (unless NoCache).
//
// The window opens at the first key and lasts Wait; then it stays open as
// long as keys keep coming in: the collector yields the processor, and every
// resolver that was ready to run meanwhile (the siblings of the first one,
// still queued behind other work on a busy server) adds its key to this
// batch instead of starting the next one. A plain timer closes the batch as
// soon as the timer fires, and on a loaded server a level of a query then
// splits into several statements (measured by bench/: 9 statements became
// 10 to 15 under load). The window never exceeds twice Wait.
type Loader[K comparable, V any] struct {
	name    string
	fetch   BatchFunc[K, V]
	wait    time.Duration
	cache   bool
	single  bool // Options.Disabled: each key alone, at once
	observe func(loader string, size int)

	mu   sync.Mutex
	done map[K]*call[V] // the operation's cache (nil without cache)
	open *batch[K, V]   // the batch collecting keys, if any
}

type call[V any] struct {
	ready chan struct{}
	res   Result[V]
}

func (c *call[V]) get() (V, error) {
	<-c.ready
	return c.res.Data, c.res.Error
}

type batch[K comparable, V any] struct {
	ctx    context.Context // the first caller's: batch functions never authorize
	opened time.Time
	keys   []K
	calls  []*call[V]
}

func newBatchLoader[K comparable, V any](o Options, name string, f BatchFunc[K, V]) *Loader[K, V] {
	l := &Loader[K, V]{name: name, fetch: f, wait: o.Wait, cache: !o.NoCache && !o.Disabled, single: o.Disabled, observe: o.Observe}
	if l.cache {
		l.done = map[K]*call[V]{}
	}
	return l
}

// Load asks for key and returns a function that waits for its result.
func (l *Loader[K, V]) Load(ctx context.Context, key K) func() (V, error) {
	l.mu.Lock()
	if c, ok := l.done[key]; ok {
		l.mu.Unlock()
		return c.get
	}
	c := &call[V]{ready: make(chan struct{})}
	if l.cache {
		l.done[key] = c
	}
	if l.single {
		l.mu.Unlock()
		go l.run(&batch[K, V]{ctx: ctx, keys: []K{key}, calls: []*call[V]{c}})
		return c.get
	}
	b := l.open
	if b == nil {
		b = &batch[K, V]{ctx: ctx, opened: time.Now()}
		l.open = b
		go l.collect(b)
	}
	b.keys = append(b.keys, key)
	b.calls = append(b.calls, c)
	l.mu.Unlock()
	return c.get
}

// Prime stores the value of a key read by other means (a list query), unless
// the key is known already.
func (l *Loader[K, V]) Prime(_ context.Context, key K, v V) {
	if !l.cache {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.done[key]; ok {
		return
	}
	c := &call[V]{ready: make(chan struct{}), res: Result[V]{Data: v}}
	close(c.ready)
	l.done[key] = c
}

// collect closes b when its window is over and runs it.
func (l *Loader[K, V]) collect(b *batch[K, V]) {
	time.Sleep(l.wait)
	limit := b.opened.Add(2 * l.wait)
	for {
		l.mu.Lock()
		n := len(b.keys)
		l.mu.Unlock()
		// Let the resolvers that are ready to run (and may load a key) run first.
		runtime.Gosched()
		l.mu.Lock()
		if len(b.keys) == n || time.Now().After(limit) {
			l.open = nil
			l.mu.Unlock()
			break
		}
		l.mu.Unlock()
	}
	l.run(b)
}

// run calls the batch function and hands every key its result.
func (l *Loader[K, V]) run(b *batch[K, V]) {
	if l.observe != nil {
		l.observe(l.name, len(b.keys))
	}
	results := l.call(b)
	for i, c := range b.calls {
		c.res = *results[i]
		close(c.ready)
	}
}

// call runs the batch function, turning a panic or a wrong number of results
// into an error for every key.
func (l *Loader[K, V]) call(b *batch[K, V]) (results []*Result[V]) {
	fail := func(err error) []*Result[V] {
		out := make([]*Result[V], len(b.keys))
		for i := range out {
			out[i] = &Result[V]{Error: err}
		}
		return out
	}
	defer func() {
		if p := recover(); p != nil {
			results = fail(fmt.Errorf("loader %s: panic: %v", l.name, p))
		}
	}()
	results = l.fetch(b.ctx, b.keys)
	if len(results) != len(b.keys) {
		return fail(fmt.Errorf("loader %s: %d results for %d keys", l.name, len(results), len(b.keys)))
	}
	return results
}
