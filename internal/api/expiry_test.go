package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/wsconn"
)

// retryingClient behaves as the graphql-ws npm client written as the README
// shows: on a close code it retries (4403 among them), it reconnects, calls
// connectionParams again (a fresh token, and resume: the last message seen),
// and re-sends its subscription with the original variables (no `after`).
type retryingClient struct {
	t      *testing.T
	url    string
	proto  string
	sid    string
	getTok func() string

	mu       sync.Mutex
	bodies   []string
	lastSeen string
	closes   []string // "code reason" of each server close
}

// run keeps the subscription alive until stop is closed.
func (c *retryingClient) run(stop <-chan struct{}) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		err := c.once(stop)
		var ce *websocket.CloseError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ce):
			c.mu.Lock()
			c.closes = append(c.closes, fmt.Sprintf("%d %s", ce.Code, ce.Text))
			c.mu.Unlock()
			if ce.Code == wsconn.CodeUnauthorized || ce.Code == wsconn.CodeBadRequest {
				return err // fatal for graphql-ws
			}
		default:
			return err
		}
		time.Sleep(100 * time.Millisecond) // graphql-ws waits 1.3-4 s; the semantics are the same
	}
}

// once runs one connection until the server closes it (its close error) or stop.
func (c *retryingClient) once(stop <-chan struct{}) error {
	d := websocket.Dialer{Subprotocols: []string{c.proto}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(c.url, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	c.mu.Lock()
	params := map[string]any{"Authorization": "Bearer " + c.getTok()}
	if c.lastSeen != "" {
		params["resume"] = map[string]any{c.sid: c.lastSeen}
	}
	c.mu.Unlock()
	if err := ws.WriteJSON(wsMsg{Type: "connection_init", Payload: mustJSON(params)}); err != nil {
		return err
	}
	typ := map[string]string{"graphql-transport-ws": "subscribe", "graphql-ws": "start"}[c.proto]
	subscribed := false
	go func() {
		<-stop
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}()
	for {
		var m wsMsg
		if err := ws.ReadJSON(&m); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure {
				return nil
			}
			return err
		}
		switch m.Type {
		case "connection_ack":
			if !subscribed {
				subscribed = true
				p := mustJSON(map[string]any{"query": chat, "variables": map[string]any{"id": c.sid}})
				if err := ws.WriteJSON(wsMsg{ID: "1", Type: typ, Payload: p}); err != nil {
					return err
				}
			}
		case "ping":
			ws.WriteJSON(wsMsg{Type: "pong"})
		case "next", "data":
			var p struct {
				Data struct {
					SessionMessages struct{ ID, Body string }
				}
				Errors []gqlError
			}
			json.Unmarshal(m.Payload, &p)
			if len(p.Errors) > 0 {
				return fmt.Errorf("errors: %+v", p.Errors)
			}
			c.mu.Lock()
			c.bodies = append(c.bodies, p.Data.SessionMessages.Body)
			c.lastSeen = p.Data.SessionMessages.ID
			c.mu.Unlock()
		case "error", "complete":
			return fmt.Errorf("%s: %s", m.Type, m.Payload)
		}
	}
}

func (c *retryingClient) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

// TestTokenExpiryWithoutLoss: tokens that expire every 2 s close the socket
// with 4403; a client that reconnects as graphql-ws does, with a fresh token
// and resume, receives every message of a steady sender exactly once, in
// order, across several expiries.
func TestTokenExpiryWithoutLoss(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv := e.live()
			sid, guest := e.openSession()
			c := &retryingClient{t: t, url: wsURL(srv), proto: proto, sid: sid, getTok: func() string {
				tok, err := auth.SignHS256([]byte(secret), seed.Solver1, 2*time.Second)
				if err != nil {
					t.Error(err)
				}
				return tok
			}}
			stop := make(chan struct{})
			ran := make(chan error, 1)
			go func() { ran <- c.run(stop) }()
			subscribed(t, e.hub, 1)
			// A steady sender, across three expiries at least.
			n := 0
			for start := time.Now(); time.Since(start) < 7*time.Second; n++ {
				e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("0-%03d", n)})
				time.Sleep(40 * time.Millisecond)
			}
			for deadline := time.Now().Add(15 * time.Second); c.received() < n && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			close(stop)
			if err := <-ran; err != nil {
				t.Fatalf("client: %v", err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.bodies) != n {
				t.Fatalf("received %d of %d messages: %v", len(c.bodies), n, c.bodies)
			}
			checkOrder(t, c.bodies, 1, n)
			expiries := 0
			for _, cl := range c.closes {
				if cl != fmt.Sprintf("%d token expired", wsconn.CodeForbidden) {
					t.Fatalf("closed with %s; all: %v", cl, c.closes)
				}
				expiries++
			}
			if expiries < 3 {
				t.Fatalf("only %d expiries: %v", expiries, c.closes)
			}
			t.Logf("%d messages across %d expiries", n, expiries)
		})
	}
}

func wsURL(srv *httptest.Server) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/graphql"
}
