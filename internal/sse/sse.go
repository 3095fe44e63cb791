// Package sse serves GraphQL over Server-Sent Events in the graphql-sse
// protocol's distinct-connections mode: POST a GraphQL request with
// Accept: text/event-stream, and each result comes back as an `event: next`
// (a subscription's events as they happen), then `event: complete`.
//
// Unlike gqlgen's transport.SSE, an event that has an id (a chat message)
// carries it in an `id:` line, so a client that reconnects can send it back
// as Last-Event-ID (what the server does with it is the Init hook's
// business), and subscription events are delivered by wsconn's shared pool,
// without a goroutine per subscription besides the request's own.
package sse

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/wsconn"
)

// Transport is a graphql.Transport for graphql-sse's distinct connections.
// It overlaps gqlgen's POST transport: add it before that one.
type Transport struct {
	// Init prepares a stream's context (authentication is the HTTP
	// middleware's; this is for what the stream adds: a resume point, a
	// token's expiry). An error answers 401 with it.
	Init func(ctx context.Context, r *http.Request) (context.Context, error)
	// Open, when set, tracks the open streams (shutdown, metrics).
	Open *wsconn.Registry
	// Pool delivers subscription events (nil: a pool of its own).
	Pool *wsconn.Pool
	// KeepAlive is how often an idle stream gets a comment line, so
	// proxies do not time it out (0: 15 s).
	KeepAlive time.Duration

	once sync.Once
}

var _ graphql.Transport = (*Transport)(nil)

// AcceptsEvents reports whether r asks for an event stream.
func AcceptsEvents(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// Supports accepts POSTs that ask for an event stream.
func (t *Transport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && AcceptsEvents(r)
}

// Do runs the operation and streams its results until it completes, the
// client goes away, or the stream is closed (CloseWith).
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.once.Do(func() {
		if t.Pool == nil {
			t.Pool = &wsconn.Pool{}
		}
	})
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "the request body could not be read", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := &stream{w: w, rc: http.NewResponseController(w), cancel: cancel, done: make(chan struct{})}
	ctx = wsconn.WithConn(ctx, st)
	if t.Init != nil {
		if ctx, err = t.Init(ctx, r); err != nil {
			writeJSONError(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	st.send(":\n\n")
	t.Open.Add(st)
	defer t.Open.Drop(st)
	every := t.KeepAlive
	if every <= 0 {
		every = 15 * time.Second
	}
	st.keepAlive = time.AfterFunc(every, func() { st.ping(every) })
	defer st.stop()

	box := wsconn.NewOutbox(t.Pool, st)
	op := box.NewOp(ctx, "")
	params, err := wsconn.DecodeParams(body)
	if err != nil {
		// Errors before execution come as a next event (graphql-sse).
		st.Refused(op, gqlerror.List{{Message: "the request body is not a GraphQL request in JSON",
			Extensions: map[string]any{"code": "BAD_USER_INPUT"}}})
		st.Done(op, true)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	box.Run(op, exec, params)
	select {
	case <-st.done:
	case <-ctx.Done():
	}
	op.Stop() // ends the subscription, if the stream ended first
}

// stream is one SSE response.
type stream struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	cancel    context.CancelFunc
	done      chan struct{}
	keepAlive *time.Timer

	mu      sync.Mutex
	ended   bool // the handler returned or is about to: no more writes
	closed  bool // done is closed
	wrote   time.Time
	onClose []func()
}

// OnClose runs f once the stream has ended.
func (st *stream) OnClose(f func()) {
	st.mu.Lock()
	if !st.closed {
		st.onClose = append(st.onClose, f)
		f = nil
	}
	st.mu.Unlock()
	if f != nil {
		f()
	}
}

// send writes and flushes; false when the stream can no longer be written.
func (st *stream) send(s string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return false
	}
	_, err := io.WriteString(st.w, s)
	if err == nil {
		err = st.rc.Flush()
	}
	st.wrote = time.Now()
	if err != nil {
		st.finish()
		return false
	}
	return true
}

// finish (st.mu held) ends the stream: the handler returns.
func (st *stream) finish() {
	if !st.closed {
		st.closed = true
		close(st.done)
		for _, f := range st.onClose {
			go f() // not under st.mu
		}
		st.onClose = nil
	}
	st.cancel()
}

func (st *stream) stop() {
	st.mu.Lock()
	st.ended = true
	st.finish()
	st.mu.Unlock()
	st.keepAlive.Stop()
}

func (st *stream) ping(every time.Duration) {
	st.mu.Lock()
	idle := time.Since(st.wrote)
	st.mu.Unlock()
	if idle < every || st.send(": ping\n\n") {
		st.keepAlive.Reset(every)
	}
}

// Next writes a next event, with the event's id when it has one.
func (st *stream) Next(_ *wsconn.Op, id string, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"errors":[{"message":"the result could not be encoded"}]}`)
	}
	var sb strings.Builder
	if id != "" && !strings.ContainsAny(id, "\r\n") {
		sb.WriteString("id: ")
		sb.WriteString(id)
		sb.WriteByte('\n')
	}
	sb.WriteString("event: next\ndata: ")
	sb.Write(b) // JSON never contains a raw newline
	sb.WriteString("\n\n")
	st.send(sb.String())
}

// Refused writes the errors of a refused operation as a next event.
func (st *stream) Refused(op *wsconn.Op, errs gqlerror.List) {
	st.Next(op, "", &graphql.Response{Errors: errs})
}

// Done ends the stream; complete writes the complete event first.
func (st *stream) Done(_ *wsconn.Op, complete bool) {
	if complete {
		st.send("event: complete\ndata:\n\n")
	}
	st.mu.Lock()
	st.finish()
	st.mu.Unlock()
}

// CloseWith ends the stream without a complete event, so clients reconnect
// (with Last-Event-ID); the code and reason go in a comment line.
func (st *stream) CloseWith(code int, reason string) {
	st.send(fmt.Sprintf(": closed %d %s\n\n", code, strings.NewReplacer("\r", " ", "\n", " ").Replace(reason)))
	st.mu.Lock()
	st.ended = true // nothing after this: no complete event
	st.finish()
	st.mu.Unlock()
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": "UNAUTHENTICATED"}}},
	})
}
