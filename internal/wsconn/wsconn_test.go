package wsconn_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"github.com/savvysolve/api/internal/wsconn"
)

// serve accepts one socket with im and reports when the server side ends:
// as gqlgen's transport does, its read loop closes the connection when a
// read fails, and the error is sent once Close has returned (a Close already
// under way, by the pinger, finishes first).
func serve(t *testing.T, im wsconn.Implementation) (*httptest.Server, chan error) {
	ended := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := im.Accept(w, r, transport.WebsocketAcceptOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			return
		}
		for {
			if _, _, err := c.NextReader(); err != nil {
				c.Close()
				ended <- err
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ended
}

func dial(t *testing.T, srv *httptest.Server, h http.Header) (*websocket.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestHalfOpenDropped: a peer that stops answering pings is disconnected.
func TestHalfOpenDropped(t *testing.T) {
	t.Parallel()
	reg := wsconn.NewRegistry()
	srv, ended := serve(t, wsconn.Implementation{PingInterval: 50 * time.Millisecond, Open: reg})
	if _, err := dial(t, srv, nil); err != nil { // never reads: never answers a ping
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Fatal("a silent peer was not disconnected")
	}
	if reg.Len() != 0 {
		t.Fatalf("%d connections still registered", reg.Len())
	}
}

// TestLivePeerKept: a peer that reads (and so answers pings) stays
// connected: it is still there after answering five pings, well past the
// two missed pings that would end it.
func TestLivePeerKept(t *testing.T) {
	t.Parallel()
	srv, ended := serve(t, wsconn.Implementation{PingInterval: 50 * time.Millisecond})
	c, err := dial(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	pings := make(chan struct{}, 16)
	c.SetPingHandler(func(data string) error {
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		pings <- struct{}{}
		return err
	})
	go func() {
		for {
			if _, _, err := c.NextReader(); err != nil {
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
	select {
	case err := <-ended:
		t.Fatalf("a live peer was disconnected: %v", err)
	default:
	}
}

// TestOrigins: same-origin and allowed origins pass the handshake; others do not.
func TestOrigins(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, wsconn.Implementation{Allowed: func(o string, _ *http.Request) bool { return o == "https://app.example" }})
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
