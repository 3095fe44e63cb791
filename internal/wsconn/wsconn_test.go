package wsconn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/savvysolve/api/internal/wsconn"
)

// serve serves sockets with t (no operations: the handshake, pings and
// closing are what is tested here; internal/api tests the operations).
func serve(tb testing.TB, t *wsconn.Transport) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Do(w, r, nil)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func dial(t *testing.T, srv *httptest.Server, h http.Header) (*websocket.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// handshake dials and completes connection_init.
func handshake(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	c, err := dial(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteJSON(map[string]any{"type": "connection_init"}); err != nil {
		t.Fatal(err)
	}
	var m struct{ Type string }
	if err := c.ReadJSON(&m); err != nil || m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %v %v", m, err)
	}
	return c
}

// closeCode reads until the server closes c and returns its close frame.
func closeCode(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("closed without a close frame: %v", err)
		}
		return ce
	}
}

// waitLen waits until reg holds n connections.
func waitLen(t *testing.T, reg *wsconn.Registry, n int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); reg.Len() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections registered, want %d", reg.Len(), n)
		}
	}
}

// TestHalfOpenDropped: a peer that stops answering pings is disconnected.
func TestHalfOpenDropped(t *testing.T) {
	t.Parallel()
	reg := wsconn.NewRegistry()
	srv := serve(t, &wsconn.Transport{PingInterval: 50 * time.Millisecond, Open: reg})
	handshake(t, srv) // then never reads: never answers a ping
	waitLen(t, reg, 1)
	waitLen(t, reg, 0)
}

// TestLivePeerKept: a peer that reads (and so answers pings) stays
// connected: it is still there after answering five pings, well past the
// two missed pings that would end it.
func TestLivePeerKept(t *testing.T) {
	t.Parallel()
	reg := wsconn.NewRegistry()
	// Not shorter: the pong deadline follows the interval, and a peer
	// starved of CPU (the race detector on two busy cores) must still make it.
	srv := serve(t, &wsconn.Transport{PingInterval: 250 * time.Millisecond, Open: reg})
	c := handshake(t, srv)
	pings := make(chan struct{}, 16)
	c.SetPingHandler(func(data string) error {
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		pings <- struct{}{}
		return err
	})
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.NextReader(); err != nil {
				ended <- err
				return
			}
		}
	}()
	for i := range 5 {
		select {
		case <-pings:
		case err := <-ended:
			t.Fatalf("a live peer was disconnected after %d pings: %v", i, err)
		case <-time.After(3 * time.Second):
			t.Fatalf("ping %d never came", i+1)
		}
	}
	if reg.Len() != 1 {
		t.Fatalf("%d connections registered", reg.Len())
	}
}

// TestOrigins: same-origin and allowed origins pass the handshake; others do not.
func TestOrigins(t *testing.T) {
	t.Parallel()
	srv := serve(t, &wsconn.Transport{Allowed: func(o string, _ *http.Request) bool { return o == "https://app.example" }})
	for origin, ok := range map[string]bool{
		"": true, srv.URL: true, "https://app.example": true, "https://evil.example": false,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		if _, err := dial(t, srv, h); (err == nil) != ok {
			t.Errorf("origin %q: err %v, want allowed=%v", origin, err, ok)
		}
	}
}

// TestInitTimeout: a socket without connection_init is closed with 4408.
func TestInitTimeout(t *testing.T) {
	t.Parallel()
	reg := wsconn.NewRegistry()
	srv := serve(t, &wsconn.Transport{InitTimeout: 100 * time.Millisecond, Open: reg})
	c, err := dial(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ce := closeCode(t, c); ce.Code != wsconn.CodeInitTimeout {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
	waitLen(t, reg, 0)
}

// TestRefused: Init's Refusal closes the socket with its code and reason.
func TestRefused(t *testing.T) {
	t.Parallel()
	srv := serve(t, &wsconn.Transport{Init: func(ctx context.Context, p map[string]any) (context.Context, error) {
		if p["Authorization"] != "ok" {
			return ctx, &wsconn.Refusal{Code: wsconn.CodeUnauthorized, Reason: "bad token"}
		}
		return ctx, nil
	}})
	c, err := dial(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "nope"}})
	if ce := closeCode(t, c); ce.Code != wsconn.CodeUnauthorized || ce.Text != "bad token" {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
}

// TestProtocolErrors: graphql-transport-ws closes on messages it does not allow.
func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	srv := serve(t, &wsconn.Transport{})
	for name, c := range map[string]struct {
		msgs []map[string]any
		code int
	}{
		"SubscribeBeforeInit": {[]map[string]any{{"type": "subscribe", "id": "1"}}, wsconn.CodeUnauthorized},
		"SecondInit":          {[]map[string]any{{"type": "connection_init"}, {"type": "connection_init"}}, wsconn.CodeTooManyInits},
		"UnknownType":         {[]map[string]any{{"type": "connection_init"}, {"type": "bogus"}}, wsconn.CodeBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			ws, err := dial(t, srv, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.msgs {
				ws.WriteJSON(m)
			}
			if ce := closeCode(t, ws); ce.Code != c.code {
				t.Fatalf("close %d %q, want %d", ce.Code, ce.Text, c.code)
			}
		})
	}
}

// TestCloseAll: shutting down closes every socket with 1001.
func TestCloseAll(t *testing.T) {
	t.Parallel()
	reg := wsconn.NewRegistry()
	srv := serve(t, &wsconn.Transport{Open: reg})
	c := handshake(t, srv)
	reg.CloseAll(wsconn.CodeGoingAway, "server shutting down")
	if ce := closeCode(t, c); ce.Code != wsconn.CodeGoingAway || ce.Text != "server shutting down" {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
	waitLen(t, reg, 0)
}

// TestIdleSocket: a socket that waited idle (in the poller, on Linux) still
// answers a message, and notices when its client leaves.
func TestIdleSocket(t *testing.T) {
	t.Parallel()
	reg := wsconn.NewRegistry()
	srv := serve(t, &wsconn.Transport{Open: reg})
	c := handshake(t, srv)
	for range 3 {
		time.Sleep(20 * time.Millisecond)
		if err := c.WriteJSON(map[string]any{"type": "ping"}); err != nil {
			t.Fatal(err)
		}
		var m struct{ Type string }
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := c.ReadJSON(&m); err != nil || m.Type != "pong" {
			t.Fatalf("want pong, got %v %v", m, err)
		}
	}
	c.Close()
	waitLen(t, reg, 0)
}

// TestClientPing: a client's websocket ping is answered with its payload.
func TestClientPing(t *testing.T) {
	t.Parallel()
	srv := serve(t, &wsconn.Transport{})
	c := handshake(t, srv)
	pong := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pong <- data; return nil })
	go func() {
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond) // idle first
	if err := c.WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-pong:
		if got != "hello" {
			t.Fatalf("pong %q, want %q", got, "hello")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}
