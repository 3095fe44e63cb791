// Package wsconn serves GraphQL operations over long-lived connections: the
// websocket transport (graphql-transport-ws and the legacy graphql-ws
// protocol, on gorilla/websocket), and the parts it shares with the SSE
// transport (internal/sse): closing a connection with a code and a reason
// from inside an operation (a slow subscriber, an expired token), counting a
// connection's subscriptions, and delivering subscription events without a
// goroutine per subscription (see Outbox).
package wsconn

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes used by the server, in the private range of RFC 6455 where the
// graphql-ws protocol puts its own.
const (
	CodeUnauthorized = 4401 // the token in connection_init does not verify (clients do not retry)
	CodeForbidden    = 4403 // the token expired: clients reconnect with a fresh one (and resume)
	CodeTooSlow      = 4008 // the client does not read fast enough; resume with `after`
	CodeGoingAway    = 1001 // the server is shutting down
	CodeBadRequest   = 4400 // a message the protocol does not allow
	CodeInitTimeout  = 4408 // no connection_init in time
	CodeDuplicateID  = 4409 // a subscribe reusing the id of a running operation
	CodeTooManyInits = 4429 // a second connection_init
)

// Conn is a connection that operations can close: a websocket, or an SSE
// response (which ends; the code and reason then only reach the logs).
type Conn interface {
	CloseWith(code int, reason string)
	// OnClose runs f once the connection is closed (at once if it is).
	OnClose(f func())
}

type refKey struct{}

// ref is what an operation's context knows of its connection.
type ref struct {
	conn Conn
	subs atomic.Int32
}

// WithConn returns a context whose operations run on c: CloseConn closes it,
// and CountSubscription counts against it.
func WithConn(ctx context.Context, c Conn) context.Context {
	return context.WithValue(ctx, refKey{}, &ref{conn: c})
}

// CloseConn closes the connection that ctx's operation runs on; it reports
// false when ctx has none (a plain HTTP request).
func CloseConn(ctx context.Context, code int, reason string) bool {
	r, ok := ctx.Value(refKey{}).(*ref)
	if !ok || r.conn == nil {
		return false
	}
	r.conn.CloseWith(code, reason)
	return true
}

// OnClose runs f when ctx's connection closes; it reports false (and does
// not run f) when ctx has none. Cheaper than context.AfterFunc for what
// lives as long as a connection.
func OnClose(ctx context.Context, f func()) bool {
	r, ok := ctx.Value(refKey{}).(*ref)
	if !ok || r.conn == nil {
		return false
	}
	r.conn.OnClose(f)
	return true
}

// CloseAt closes ctx's connection with code and reason at t (a token's
// expiry), or when it closes before; false when ctx has none. A websocket
// does it from the shared clock, without a timer of its own.
func CloseAt(ctx context.Context, t time.Time, code int, reason string) bool {
	r, ok := ctx.Value(refKey{}).(*ref)
	if !ok || r.conn == nil {
		return false
	}
	if s, ok := r.conn.(*socket); ok {
		s.expireAt(t, code, reason)
		return true
	}
	tm := time.AfterFunc(time.Until(t), func() { r.conn.CloseWith(code, reason) })
	r.conn.OnClose(func() { tm.Stop() })
	return true
}

// ErrTooManySubscriptions is returned by CountSubscription past the limit.
var ErrTooManySubscriptions = errors.New("too many subscriptions on this connection")

// CountSubscription counts one more open subscription on ctx's connection and
// returns the function that uncounts it; past max it refuses.
func CountSubscription(ctx context.Context, max int) (func(), error) {
	r, ok := ctx.Value(refKey{}).(*ref)
	if !ok {
		return func() {}, nil
	}
	if int(r.subs.Add(1)) > max {
		r.subs.Add(-1)
		return nil, ErrTooManySubscriptions
	}
	var once sync.Once
	return func() { once.Do(func() { r.subs.Add(-1) }) }, nil
}

// Registry tracks open connections (for shutdown and metrics).
type Registry struct {
	mu    sync.Mutex
	conns map[Conn]struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{conns: map[Conn]struct{}{}} }

// Add tracks c until Drop.
func (g *Registry) Add(c Conn) {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.mu.Unlock()
}

// Drop stops tracking c.
func (g *Registry) Drop(c Conn) {
	if g == nil {
		return
	}
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// Len is the number of open connections.
func (g *Registry) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// CloseAll closes every open connection with code and reason (shutdown: 1001).
func (g *Registry) CloseAll(code int, reason string) {
	g.mu.Lock()
	conns := make([]Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.CloseWith(code, reason)
	}
}

// Detached serves websocket upgrades under a context of their own, which
// keeps net/http's values (the server, the local address) but not the
// connection's and the request's contexts: a socket outlives its request,
// and its context would keep those two cancelable contexts, a set of
// children and a channel alive for the socket's whole life. Put it
// outermost, before the middlewares that add values (client address,
// request id, viewer). The handshake is then not cancelled when the client
// leaves; it has its own timeouts.
func Detached(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			ctx := context.Background()
			for _, k := range []any{http.ServerContextKey, http.LocalAddrContextKey} {
				if v := r.Context().Value(k); v != nil {
					ctx = context.WithValue(ctx, k, v)
				}
			}
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}
