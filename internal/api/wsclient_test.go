package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/live"

	"github.com/gorilla/websocket"
)

// wsClient speaks graphql-transport-ws ("graphql-transport-ws") or the legacy
// subscriptions-transport-ws protocol ("graphql-ws") to a real server.
type wsClient struct {
	t     *testing.T
	c     *websocket.Conn
	proto string
	msgs  chan wsMsg
	done  chan struct{}
	err   error // the read error that ended the connection (a *websocket.CloseError on close)
}

type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// live starts a real HTTP server for e's handler.
func (e *env) live() *httptest.Server {
	srv := httptest.NewServer(e.h)
	e.t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	go e.hub.Listen(ctx, e.url)
	select {
	case <-e.hub.Listening():
	case <-time.After(10 * time.Second):
		e.t.Fatal("listener did not start")
	}
	return srv
}

// subscribed waits until hub routes events to n subscriptions: those sent
// before have passed their checks, and what is committed from now on reaches
// them (live, or by their replay).
func subscribed(t *testing.T, hub *live.Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); hub.Len() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d subscriptions registered", hub.Len(), n)
		}
	}
}

// dial opens a socket with proto and sends connection_init with payload.
// It does not wait for the ack: see ack.
func dial(t *testing.T, srv *httptest.Server, proto string, header http.Header, payload map[string]any) (*wsClient, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
	c, resp, err := d.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	w := &wsClient{t: t, c: c, proto: proto, msgs: make(chan wsMsg, 1024), done: make(chan struct{})}
	t.Cleanup(func() { c.Close() })
	go w.read()
	w.send(wsMsg{Type: "connection_init", Payload: mustJSON(payload)})
	return w, resp, nil
}

// connect dials and waits for connection_ack.
func connect(t *testing.T, srv *httptest.Server, proto, tok string) *wsClient {
	t.Helper()
	payload := map[string]any{}
	if tok != "" {
		payload["Authorization"] = "Bearer " + tok
	}
	w, _, err := dial(t, srv, proto, nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	if m := w.next(); m.Type != "connection_ack" {
		t.Fatalf("want connection_ack, got %+v", m)
	}
	return w
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func (w *wsClient) read() {
	defer close(w.done)
	for {
		var m wsMsg
		if err := w.c.ReadJSON(&m); err != nil {
			w.err = err
			return
		}
		if m.Type == "ka" || m.Type == "ping" {
			if m.Type == "ping" {
				w.send(wsMsg{Type: "pong"})
			}
			continue
		}
		w.msgs <- m
	}
}

func (w *wsClient) send(m wsMsg) {
	w.t.Helper()
	if err := w.c.WriteJSON(m); err != nil {
		w.t.Logf("send: %v", err)
	}
}

// subscribe starts operation id.
func (w *wsClient) subscribe(id, query string, vars map[string]any) {
	typ := "subscribe"
	if w.proto == "graphql-ws" {
		typ = "start"
	}
	w.send(wsMsg{ID: id, Type: typ, Payload: mustJSON(map[string]any{"query": query, "variables": vars})})
}

// next returns the next message, failing the test after a timeout.
func (w *wsClient) next() wsMsg {
	w.t.Helper()
	select {
	case m := <-w.msgs:
		return m
	case <-w.done:
		select {
		case m := <-w.msgs:
			return m
		default:
		}
		w.t.Fatalf("connection closed: %v", w.err)
	case <-time.After(10 * time.Second):
		w.t.Fatal("no message within 10s")
	}
	return wsMsg{}
}

// data returns the next data message of operation id.
func (w *wsClient) data(id string) map[string]any {
	w.t.Helper()
	m := w.next()
	if m.ID != id || (m.Type != "next" && m.Type != "data") {
		w.t.Fatalf("want data for %s, got %s %s", id, m.Type, m.Payload)
	}
	var p struct {
		Data   map[string]any
		Errors []gqlError
	}
	json.Unmarshal(m.Payload, &p)
	if len(p.Errors) > 0 {
		w.t.Fatalf("errors in data: %+v", p.Errors)
	}
	return p.Data
}

// errorCode returns the code of the error that ends operation id: an "error"
// message (refused before execution), or a result carrying errors followed by
// "complete" (refused by the resolver, as graphql-js servers do).
func (w *wsClient) errorCode(id string) string {
	w.t.Helper()
	m := w.next()
	if m.ID != id {
		w.t.Fatalf("want a message for %s, got %s %s", id, m.Type, m.Payload)
	}
	var errs []gqlError
	switch m.Type {
	case "error":
		if json.Unmarshal(m.Payload, &errs) != nil { // legacy protocol: one error object
			var one gqlError
			json.Unmarshal(m.Payload, &one)
			errs = []gqlError{one}
		}
	case "next", "data":
		var p struct{ Errors []gqlError }
		json.Unmarshal(m.Payload, &p)
		errs = p.Errors
		if end := w.next(); end.ID != id || end.Type != "complete" {
			w.t.Fatalf("want complete after the error, got %s %s", end.Type, end.Payload)
		}
	}
	if len(errs) == 0 {
		w.t.Fatalf("no error for %s: %s %s", id, m.Type, m.Payload)
	}
	c, _ := errs[0].Extensions["code"].(string)
	return c
}

// closed waits for the server to close the socket and returns its close error.
func (w *wsClient) closed() *websocket.CloseError {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.t.Fatal("socket not closed within 10s")
	}
	var ce *websocket.CloseError
	if !errors.As(w.err, &ce) {
		w.t.Fatalf("closed without a close frame: %v", w.err)
	}
	return ce
}
