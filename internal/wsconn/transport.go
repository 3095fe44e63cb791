package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The subprotocols, in the order of preference (a client that names none
// gets the legacy one, as with gqlgen's transport).
const (
	protoLegacy    = "graphql-ws"           // subscriptions-transport-ws (Apollo's legacy protocol)
	protoTransport = "graphql-transport-ws" // the graphql-ws npm client
)

const (
	writeBufferSize = 4096    // borrowed from writeBuffers for one message at a time
	defaultMaxRead  = 1 << 20 // the largest message a client may send
	writeWait       = 10 * time.Second
)

// writeBuffers lend write buffers to sockets while they write, so an idle
// socket holds none.
var writeBuffers = &sync.Pool{}

// readBuffers hold a client message while it is decoded.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// InitFunc authenticates a socket from its connection_init payload and
// returns the context its operations run under. An error refuses the
// socket: it closes with the Refusal's code (4401 for any other error) and
// the error's text as the reason.
type InitFunc func(ctx context.Context, payload map[string]any) (context.Context, error)

// Refusal is an InitFunc error with its close code.
type Refusal struct {
	Code   int
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// Transport serves GraphQL over websockets (graphql-transport-ws and the
// legacy graphql-ws protocol) on gorilla/websocket. An idle socket holds
// no goroutine on Linux (it waits in a shared poller; elsewhere its read
// loop waits on a small stack, see idle.go) and a 288-byte read buffer;
// writes borrow a pooled buffer, and subscription events are delivered by
// the shared Pool (see Outbox). Operations run on a goroutine of their own
// while they start (queries and mutations until they answer).
type Transport struct {
	// Allowed reports whether a browser page from origin may open a socket
	// (same-origin pages always may).
	Allowed func(origin string, r *http.Request) bool
	// PingInterval is how often the server pings (and, on the legacy
	// protocol, sends "ka"); a peer silent for 2.5 intervals is
	// disconnected (half-open connections). 0: no pings.
	PingInterval time.Duration
	// InitTimeout is how long the server waits for connection_init (0: 10 s).
	InitTimeout time.Duration
	// Init authenticates the socket (nil: every socket is accepted).
	Init InitFunc
	// Open, when set, tracks the open sockets (shutdown, metrics).
	Open *Registry
	// Pool delivers subscription events (nil: a pool of its own).
	Pool *Pool
	// Starts runs the start of operations (parsing, validation, the
	// subscription resolvers' checks): a few reused goroutines, so that many
	// clients subscribing at once (a reconnect after a deploy) do not each
	// grow a stack of their own (nil: 64 workers).
	Starts *Pool
	// MaxMessage bounds a client message (0: 1 MiB).
	MaxMessage int64

	once sync.Once
}

var _ graphql.Transport = (*Transport)(nil)

// Supports accepts websocket upgrades.
func (t *Transport) Supports(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// Do upgrades the request, runs the connection_init handshake on the
// request's goroutine, then hands the socket to its read loop and returns.
func (t *Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.once.Do(func() {
		if t.Pool == nil {
			t.Pool = &Pool{}
		}
		if t.Starts == nil {
			t.Starts = &Pool{Max: 64}
		}
	})
	up := websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// ReadBufferSize 0: gorilla reads through the hijacker's reader.
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: writeBuffers,
		Subprotocols:    []string{protoLegacy, protoTransport},
		CheckOrigin: func(r *http.Request) bool {
			origin := r.Header.Get("Origin")
			return origin == "" || SameOrigin(origin, r) || (t.Allowed != nil && t.Allowed(origin, r))
		},
	}
	hj := &hijacker{ResponseWriter: w}
	c, err := up.Upgrade(hj, r, nil)
	if err != nil {
		return // gorilla has answered (403 for a foreign origin)
	}
	s := &socket{t: t, c: c, br: hj.br, raw: rawConn(c.NetConn()), legacy: c.Subprotocol() != protoTransport, exec: exec, headers: traceHeaders(r.Header), slot: -1}
	s.box = NewOutbox(t.Pool, s)
	// The socket outlives the request: keep its values (viewer, client
	// address, request id), not its cancellation. Its context is never
	// cancelled: closing stops each operation itself (CloseWith), and a
	// cancelable parent would keep a set of its children and a channel.
	s.ctx = WithConn(context.WithoutCancel(r.Context()), s)
	t.Open.Add(s)
	max := t.MaxMessage
	if max <= 0 {
		max = defaultMaxRead
	}
	c.SetReadLimit(max)
	if !s.init() {
		return
	}
	if t.PingInterval > 0 {
		s.startPings(t.PingInterval)
	}
	go s.readLoop(false)
}

// traceHeaders keeps what operations need of the upgrade request's
// headers (trace context, for their spans): a socket holds it for its
// lifetime.
func traceHeaders(h http.Header) http.Header {
	var out http.Header
	for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v := h.Values(k); len(v) > 0 {
			if out == nil {
				out = http.Header{}
			}
			out[k] = v
		}
	}
	return out
}

// SameOrigin reports whether a page's origin is the server's own.
func SameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// socket is one websocket connection.
type socket struct {
	t       *Transport
	c       *websocket.Conn
	br      *bufio.Reader   // what gorilla reads frames from (see ready)
	raw     syscall.RawConn // to wait for readability (see ready)
	legacy  bool
	exec    graphql.GraphExecutor
	headers http.Header
	box     *Outbox
	ctx     context.Context
	dead    atomic.Bool // closed: nothing more is written

	wmu      sync.Mutex // one writer of data messages at a time
	mu       sync.Mutex
	ops      []*Op // running; a slice, not a map: a map of one costs 200 bytes, and there are at most a hundred
	closed   bool
	onClose  []func()
	lastPong atomic.Int64
	once     sync.Once

	// Timed work, run by the clock (Unix nanoseconds, 0: none); under mu.
	nextPing    int64
	closeAt     int64 // close with closeCode and closeReason then (a token's expiry)
	closeCode   int
	closeReason string
	// The socket's place in the clock; under sockets.mu.
	due  int64
	slot int // -1: not in the clock
	// Its key in the poller (0: none yet); under idlePoller.mu.
	pollKey uint64
}

// message is a protocol message (both protocols share the envelope).
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

var errBadMessage = errors.New("the message is not a JSON protocol message")

// read returns the next message from the client.
func (s *socket) read() (message, error) {
	_, r, err := s.c.NextReader()
	if err != nil {
		return message{}, err
	}
	buf := readBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			readBuffers.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(r); err != nil {
		return message{}, err
	}
	var m message
	if json.Unmarshal(buf.Bytes(), &m) != nil || m.Type == "" {
		return message{}, errBadMessage
	}
	return m, nil
}

// init waits for connection_init and authenticates the socket.
func (s *socket) init() bool {
	timeout := s.t.InitTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	s.c.SetReadDeadline(time.Now().Add(timeout))
	m, err := s.read()
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		s.CloseWith(CodeInitTimeout, "Connection initialisation timeout")
		return false
	case errors.Is(err, errBadMessage):
		s.refuse(CodeBadRequest, "invalid message")
		return false
	case err != nil:
		s.CloseWith(0, "")
		return false
	}
	s.c.SetReadDeadline(time.Time{})
	switch {
	case m.Type == "connection_init":
	case s.legacy && m.Type == "connection_terminate":
		s.CloseWith(websocket.CloseNormalClosure, "terminated")
		return false
	case !s.legacy && m.Type == "subscribe":
		s.CloseWith(CodeUnauthorized, "Unauthorized")
		return false
	default:
		s.refuse(CodeBadRequest, "expected connection_init, got "+m.Type)
		return false
	}
	payload := map[string]any{}
	if len(m.Payload) > 0 && string(m.Payload) != "null" {
		if json.Unmarshal(m.Payload, &payload) != nil {
			s.refuse(CodeBadRequest, "the connection_init payload must be an object")
			return false
		}
	}
	if s.t.Init != nil {
		ctx, err := s.t.Init(s.ctx, payload)
		if err != nil {
			code := CodeUnauthorized
			var r *Refusal
			if errors.As(err, &r) {
				code = r.Code
			}
			s.refuse(code, err.Error())
			return false
		}
		s.ctx = ctx
	}
	s.write("connection_ack", "", nil)
	if s.legacy {
		s.write("ka", "", nil)
	}
	return true
}

// refuse closes the socket for a bad handshake; the legacy protocol hears
// why in a connection_error message first.
func (s *socket) refuse(code int, reason string) {
	if s.legacy {
		b, _ := json.Marshal(&gqlerror.Error{Message: reason})
		s.write("connection_error", "", b)
	}
	s.CloseWith(code, reason)
}

// readLoop handles the client's next message, once ready says there is one,
// then continues on a fresh goroutine, whose stack is small again (the
// decoding and handling grew this one's; see idle.go), until the socket
// closes. It ends, leaving no goroutine, while the socket waits in the
// poller.
func (s *socket) readLoop(woken bool) {
	if !s.ready(woken) {
		return
	}
	m, err := s.read()
	if err != nil {
		if errors.Is(err, errBadMessage) {
			s.refuse(CodeBadRequest, "invalid message")
		} else {
			s.CloseWith(0, "") // the peer left, or the socket was closed
		}
		return
	}
	if s.handle(m) {
		go s.readLoop(false)
	}
}

// handle handles one message; false when the socket is closed.
func (s *socket) handle(m message) bool {
	switch {
	case m.Type == "subscribe" && !s.legacy, m.Type == "start" && s.legacy:
		if m.ID == "" {
			s.refuse(CodeBadRequest, "an operation needs an id")
			return false
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return false
		}
		if s.op(m.ID) >= 0 {
			s.mu.Unlock()
			if !s.legacy {
				s.CloseWith(CodeDuplicateID, "Subscriber for "+m.ID+" already exists")
				return false
			}
			s.error(m.ID, "an operation with this id is running")
			return true
		}
		o := s.box.NewOp(s.ctx, m.ID)
		s.ops = append(s.ops, o)
		s.mu.Unlock()
		payload := m.Payload
		s.t.Starts.Go(func() { s.start(o, payload) })
	case m.Type == "complete" && !s.legacy, m.Type == "stop" && s.legacy:
		s.mu.Lock()
		var o *Op
		if i := s.op(m.ID); i >= 0 {
			o = s.ops[i]
			s.dropOp(i)
		}
		s.mu.Unlock()
		if o != nil {
			o.Stop()
		}
	case m.Type == "ping" && !s.legacy:
		s.write("pong", "", m.Payload)
	case m.Type == "pong" && !s.legacy:
	case m.Type == "connection_init":
		if !s.legacy {
			s.CloseWith(CodeTooManyInits, "Too many initialisation requests")
			return false
		}
	case m.Type == "connection_terminate" && s.legacy:
		s.CloseWith(websocket.CloseNormalClosure, "terminated")
		return false
	default:
		s.refuse(CodeBadRequest, "unexpected message "+m.Type)
		return false
	}
	return true
}

// start runs one operation (on its own goroutine, which returns once a
// subscription is set up or a query has answered).
func (s *socket) start(o *Op, payload json.RawMessage) {
	start := graphql.Now()
	params, err := DecodeParams(payload)
	if err != nil {
		s.Refused(o, gqlerror.List{{Message: "invalid json"}})
		s.box.end(o)
		return
	}
	params.Headers = s.headers
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	s.box.Run(o, s.exec, params)
}

// op (s.mu held) is the index of the running operation id in s.ops, or -1.
func (s *socket) op(id string) int {
	for i, o := range s.ops {
		if o.ID == id {
			return i
		}
	}
	return -1
}

// dropOp (s.mu held) forgets s.ops[i].
func (s *socket) dropOp(i int) {
	last := len(s.ops) - 1
	s.ops[i], s.ops[last] = s.ops[last], nil
	s.ops = s.ops[:last]
	if last == 0 {
		s.ops = nil
	}
}

// Next writes a result ("next", or "data" on the legacy protocol).
func (s *socket) Next(o *Op, _ string, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		s.error(o.ID, "the result could not be encoded")
		return
	}
	typ := "next"
	if s.legacy {
		typ = "data"
	}
	s.write(typ, o.ID, b)
}

// Refused writes an "error" message.
func (s *socket) Refused(o *Op, errs gqlerror.List) {
	b, _ := json.Marshal(errs)
	s.write("error", o.ID, b)
}

func (s *socket) error(id, msg string) {
	s.Refused(&Op{ID: id}, gqlerror.List{{Message: msg}})
}

// Done forgets an ended operation and, when it ended by itself, says so.
func (s *socket) Done(o *Op, complete bool) {
	s.mu.Lock()
	if i := s.op(o.ID); i >= 0 && s.ops[i] == o {
		s.dropOp(i)
	}
	s.mu.Unlock()
	if complete {
		s.write("complete", o.ID, nil)
	}
}

// write sends one message; a failed write closes the socket.
func (s *socket) write(typ, id string, payload []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.dead.Load() {
		return
	}
	s.c.SetWriteDeadline(time.Now().Add(writeWait))
	w, err := s.c.NextWriter(websocket.TextMessage)
	if err == nil {
		b := make([]byte, 0, 64+len(id))
		b = append(b, `{"type":"`...)
		b = append(b, typ...)
		b = append(b, '"')
		if id != "" {
			b = append(b, `,"id":`...)
			idj, _ := json.Marshal(id)
			b = append(b, idj...)
		}
		if len(payload) > 0 {
			b = append(b, `,"payload":`...)
			if _, err = w.Write(b); err == nil {
				_, err = w.Write(payload)
			}
			b = b[:0]
		}
		b = append(b, '}')
		if err == nil {
			_, err = w.Write(b)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		go s.CloseWith(0, "") // not under wmu: closing stops the operations, which write
	}
}

// CloseWith sends a close frame (unless code is 0) and closes the socket;
// every operation on it stops.
func (s *socket) CloseWith(code int, reason string) {
	s.once.Do(func() {
		if code != 0 {
			if len(reason) > 120 { // a close frame's payload is limited to 125 bytes
				reason = reason[:120]
			}
			s.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		}
		s.dead.Store(true)
		s.c.Close()
		s.t.Open.Drop(s)
		s.mu.Lock()
		ops, hooks := s.ops, s.onClose
		s.ops, s.onClose, s.closed = nil, nil, true
		s.mu.Unlock()
		sockets.set(s, 0)
		idlePoller.forget(s)
		for _, o := range ops {
			o.Stop()
		}
		for _, f := range hooks {
			f()
		}
	})
}

// OnClose runs f once the socket is closed.
func (s *socket) OnClose(f func()) {
	s.mu.Lock()
	if !s.closed {
		s.onClose = append(s.onClose, f)
		f = nil
	}
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

// startPings sends websocket pings (browsers answer them without any code)
// and closes a socket whose peer stopped answering, so half-open sockets do
// not hold subscriptions forever. The shared clock runs them, not a timer
// or a goroutine per socket.
func (s *socket) startPings(every time.Duration) {
	now := time.Now().UnixNano()
	s.lastPong.Store(now)
	s.c.SetPongHandler(func(string) error { s.lastPong.Store(time.Now().UnixNano()); return nil })
	s.mu.Lock()
	s.nextPing = now + int64(every)
	s.mu.Unlock()
	s.schedule()
}

// expireAt closes the socket with code and reason at t (a token's expiry).
func (s *socket) expireAt(t time.Time, code int, reason string) {
	s.mu.Lock()
	s.closeAt, s.closeCode, s.closeReason = t.UnixNano(), code, reason
	s.mu.Unlock()
	s.schedule()
}

// schedule puts the socket on the clock for its next timed work.
func (s *socket) schedule() {
	s.mu.Lock()
	due := s.nextPing
	if s.closeAt != 0 && (due == 0 || s.closeAt < due) {
		due = s.closeAt
	}
	if s.closed {
		due = 0
	}
	s.mu.Unlock()
	sockets.set(s, due)
}

// tick does the socket's due work (on a goroutine of its own).
func (s *socket) tick() {
	now := time.Now().UnixNano()
	s.mu.Lock()
	expired := s.closeAt != 0 && now >= s.closeAt
	code, reason := s.closeCode, s.closeReason
	ping := s.nextPing != 0 && now >= s.nextPing
	s.mu.Unlock()
	switch {
	case expired:
		s.CloseWith(code, reason)
		return
	case ping:
		s.ping(s.t.PingInterval)
	}
	s.schedule()
}

// ping checks that the peer answered lately, and pings it again.
func (s *socket) ping(every time.Duration) {
	if s.dead.Load() {
		return
	}
	if time.Since(time.Unix(0, s.lastPong.Load())) > 2*every+every/2 {
		s.CloseWith(websocket.CloseGoingAway, "no pong: connection considered dead")
		return
	}
	err := s.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
	if s.legacy {
		s.write("ka", "", nil)
	}
	s.mu.Lock()
	if err == nil {
		s.nextPing = time.Now().UnixNano() + int64(every)
	} else {
		s.nextPing = 0 // the socket is failing: its reader will close it
	}
	s.mu.Unlock()
}
