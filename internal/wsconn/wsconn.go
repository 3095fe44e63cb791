// Package wsconn adapts gorilla/websocket to gqlgen's websocket transport, and
// lets code running inside a websocket operation close its connection with a
// code and a reason (a slow subscriber, an expired token), which gqlgen's
// transport alone cannot do.
package wsconn

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// Close codes used by the server, in the private range of RFC 6455 (the
// graphql-ws protocol uses 4401 and 4403 the same way).
const (
	CodeUnauthorized = 4401 // bad or expired token
	CodeTooSlow      = 4008 // the client does not read fast enough; resume with `after`
	CodeGoingAway    = 1001 // the server is shutting down
)

// Implementation is a transport.WebsocketImplementation on gorilla/websocket.
type Implementation struct {
	// Allowed reports whether a browser page from origin may open a socket.
	Allowed func(origin string, r *http.Request) bool
	// PingInterval is how often the server sends websocket pings; a peer that
	// misses two is disconnected (half-open connections).
	PingInterval time.Duration
	// Open, when set, tracks the open connections (for shutdown and metrics).
	Open *Registry
}

// Registry tracks open connections.
type Registry struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{conns: map[*Conn]struct{}{}} }

func (g *Registry) add(c *Conn) {
	g.mu.Lock()
	g.conns[c] = struct{}{}
	g.mu.Unlock()
}

func (g *Registry) drop(c *Conn) {
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
	conns := make([]*Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.CloseWith(code, reason)
	}
}

// Accept upgrades r, negotiating one of gqlgen's subprotocols.
func (im Implementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := websocket.Upgrader{
		Subprotocols:      o.Subprotocols,
		HandshakeTimeout:  10 * time.Second,
		EnableCompression: false,
		// No buffers of its own: net/http keeps the hijacked connection's
		// 4 KiB reader and writer alive while the handler runs (as long as
		// the socket is open), so gorilla reads and writes through them.
		ReadBufferSize:  0,
		WriteBufferSize: 0,
		CheckOrigin: func(r *http.Request) bool {
			origin := r.Header.Get("Origin")
			return origin == "" || sameOrigin(origin, r) || (im.Allowed != nil && im.Allowed(origin, r))
		},
	}
	c, err := up.Upgrade(w, r, o.ResponseHeader)
	if err != nil {
		return nil, err
	}
	cn := &Conn{c: c, done: make(chan struct{}), open: im.Open}
	if im.Open != nil {
		im.Open.add(cn)
	}
	if ref, ok := r.Context().Value(refKey{}).(*ref); ok {
		ref.set(cn)
	}
	if im.PingInterval > 0 {
		cn.startPings(im.PingInterval)
	}
	return cn, nil
}

func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// Conn is one websocket connection.
type Conn struct {
	c        *websocket.Conn
	wmu      sync.Mutex // gorilla allows one concurrent writer
	lastPong atomic.Int64
	done     chan struct{}
	once     sync.Once
	open     *Registry
	pinger   *time.Timer
}

var _ interface {
	transport.WebsocketConn
	transport.WebsocketReadLimiter
	transport.WebsocketReadDeadliner
} = (*Conn)(nil)

// NextReader returns the next message, or transport.ErrWebsocketClosed after a normal close.
func (cn *Conn) NextReader() (int, io.Reader, error) {
	t, r, err := cn.c.NextReader()
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return t, r, transport.ErrWebsocketClosed
	}
	return t, r, err
}

// WriteJSON sends v as a text message.
func (cn *Conn) WriteJSON(v any) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return cn.c.WriteJSON(v)
}

// WriteClose sends a close frame with code and reason.
func (cn *Conn) WriteClose(code int, reason string) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if len(reason) > 120 { // a close frame's payload is limited to 125 bytes
		reason = reason[:120]
	}
	return cn.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

// Subprotocol is the negotiated subprotocol.
func (cn *Conn) Subprotocol() string { return cn.c.Subprotocol() }

// Close closes the connection.
func (cn *Conn) Close() error {
	cn.once.Do(func() {
		close(cn.done)
		if cn.pinger != nil {
			cn.pinger.Stop()
		}
		if cn.open != nil {
			cn.open.drop(cn)
		}
	})
	return cn.c.Close()
}

// SetReadLimit bounds the size of a message from the client.
func (cn *Conn) SetReadLimit(n int64) { cn.c.SetReadLimit(n) }

// SetReadDeadline sets the read deadline (gqlgen's pong timeout).
func (cn *Conn) SetReadDeadline(t time.Time) error { return cn.c.SetReadDeadline(t) }

// CloseWith sends a close frame and closes the connection; gqlgen's read loop
// then ends and cancels every operation of the connection.
func (cn *Conn) CloseWith(code int, reason string) {
	cn.WriteClose(code, reason)
	cn.Close()
}

// startPings sends websocket pings (browsers answer them without any code)
// and closes a connection whose peer stopped answering, so half-open sockets
// do not hold subscriptions forever. A timer, not a goroutine per connection:
// ten thousand idle sockets should not cost ten thousand stacks.
func (cn *Conn) startPings(every time.Duration) {
	cn.lastPong.Store(time.Now().UnixNano())
	cn.c.SetPongHandler(func(string) error { cn.lastPong.Store(time.Now().UnixNano()); return nil })
	var tick func()
	tick = func() {
		select {
		case <-cn.done:
			return
		default:
		}
		if time.Since(time.Unix(0, cn.lastPong.Load())) > 2*every+every/2 {
			cn.CloseWith(websocket.CloseGoingAway, "no pong: connection considered dead")
			return
		}
		cn.wmu.Lock()
		err := cn.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
		cn.wmu.Unlock()
		if err == nil {
			cn.pinger.Reset(every)
		}
	}
	cn.pinger = time.AfterFunc(every, tick)
}

type refKey struct{}

// ref lets an operation find its connection.
type ref struct {
	mu   sync.Mutex
	conn *Conn
	subs atomic.Int32
}

func (r *ref) set(c *Conn) { r.mu.Lock(); r.conn = c; r.mu.Unlock() }

// Middleware prepares websocket upgrade requests so their operations can use
// CloseConn and CountSubscription.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			r = r.WithContext(context.WithValue(r.Context(), refKey{}, &ref{}))
		}
		next.ServeHTTP(w, r)
	})
}

// CloseConn closes the websocket that ctx's operation runs on; it reports
// false when ctx has none (a plain HTTP request).
func CloseConn(ctx context.Context, code int, reason string) bool {
	r, ok := ctx.Value(refKey{}).(*ref)
	if !ok {
		return false
	}
	r.mu.Lock()
	c := r.conn
	r.mu.Unlock()
	if c == nil {
		return false
	}
	c.CloseWith(code, reason)
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
