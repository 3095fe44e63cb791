package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/seed"
)

// sseEvent is one event of a text/event-stream.
type sseEvent struct {
	ID, Event string
	Data      json.RawMessage
}

// sseStream is an open graphql-sse request (distinct connections mode).
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	done   chan struct{}
	cancel context.CancelFunc
}

// openSSE posts a GraphQL request asking for an event stream, as graphql-sse
// does, with headers (Authorization, Last-Event-ID, Origin).
func openSSE(t *testing.T, srv *httptest.Server, query string, vars map[string]any, headers map[string]string) (*sseStream, *http.Response) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		return nil, resp
	}
	s := &sseStream{t: t, resp: resp, events: make(chan sseEvent, 1024), done: make(chan struct{}), cancel: cancel}
	go s.read()
	return s, resp
}

// read parses the stream as the SSE spec says (id, event, data fields;
// comments ignored; a blank line ends an event).
func (s *sseStream) read() {
	defer close(s.done)
	defer s.resp.Body.Close()
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev sseEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if ev.Event != "" || len(data) > 0 {
				ev.Data = json.RawMessage(strings.Join(data, "\n"))
				s.events <- ev
			}
			ev, data = sseEvent{}, nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			ev.ID = value
		case "event":
			ev.Event = value
		case "data":
			data = append(data, value)
		}
	}
}

// next returns the next event; it fails the test when the stream ends first.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-s.done:
		select {
		case ev := <-s.events:
			return ev
		default:
		}
		s.t.Fatal("the stream ended")
	case <-time.After(10 * time.Second):
		s.t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// data returns the data of the next event, which must be a next event without errors.
func (s *sseStream) data() (id string, data map[string]any) {
	s.t.Helper()
	ev := s.next()
	var p struct {
		Data   map[string]any
		Errors []gqlError
	}
	json.Unmarshal(ev.Data, &p)
	if ev.Event != "next" || len(p.Errors) > 0 {
		s.t.Fatalf("want a next event with data, got %s %s", ev.Event, ev.Data)
	}
	return ev.ID, p.Data
}

// ended waits for the stream to end (the server closed it).
func (s *sseStream) ended() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatal("the stream did not end")
	}
}

func TestSSEChat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	bearer := map[string]string{"Authorization": "Bearer " + guest}
	s, resp := openSSE(t, srv, chat, map[string]any{"id": sid}, bearer)
	if s == nil {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	subscribed(t, e.hub, 1)
	var ids []string
	for i := 1; i <= 3; i++ {
		sent := e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("m%d", i)})
		id, d := s.data()
		if str(d, "sessionMessages", "body") != fmt.Sprintf("m%d", i) || id != str(sent, "sendMessage", "id") {
			t.Fatalf("event id %q, data %v; sent %v", id, d, sent)
		}
		ids = append(ids, id)
	}
	s.cancel() // the client goes away
	waitSubscriptions(t, e, 0)
	for i := 4; i <= 5; i++ {
		e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("m%d", i)})
	}
	// Reconnect with Last-Event-ID: exactly what came after m2, then live.
	r, _ := openSSE(t, srv, chat, map[string]any{"id": sid}, map[string]string{"Authorization": "Bearer " + guest, "Last-Event-ID": ids[1]})
	for i := 3; i <= 6; i++ {
		if i == 6 {
			e.must(guest, send, map[string]any{"id": sid, "body": "m6"})
		}
		if _, d := r.data(); str(d, "sessionMessages", "body") != fmt.Sprintf("m%d", i) {
			t.Fatalf("got %v, want m%d", d, i)
		}
	}
	select {
	case ev := <-r.events:
		t.Fatalf("duplicate or extra event: %s %s", ev.Event, ev.Data)
	case <-time.After(200 * time.Millisecond):
	}
	// A Last-Event-ID of another session is refused like a bad `after`.
	other, _ := e.openSession()
	b, _ := openSSE(t, srv, chat, map[string]any{"id": other}, map[string]string{"Authorization": "Bearer " + token(t, seed.Admin), "Last-Event-ID": ids[0]})
	if code := b.errorCode(); code != "BAD_USER_INPUT" {
		t.Fatalf("code %s", code)
	}
}

// errorCode reads a next event with errors, then complete, and returns the first code.
func (s *sseStream) errorCode() string {
	s.t.Helper()
	ev := s.next()
	var p struct{ Errors []gqlError }
	json.Unmarshal(ev.Data, &p)
	if ev.Event != "next" || len(p.Errors) == 0 {
		s.t.Fatalf("want a next event with errors, got %s %s", ev.Event, ev.Data)
	}
	if end := s.next(); end.Event != "complete" {
		s.t.Fatalf("want complete, got %s %s", end.Event, end.Data)
	}
	s.ended()
	c, _ := p.Errors[0].Extensions["code"].(string)
	return c
}

func waitSubscriptions(t *testing.T, e *env, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.hub.Len() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions, want %d", e.hub.Len(), n)
		}
	}
}

// TestSSERules: over SSE, the same authentication, origin rule, limits and
// rules as over websockets; queries and mutations answer once and complete.
func TestSSERules(t *testing.T) {
	t.Parallel()
	e := newEnvOpts(t, opts{limits: api.Limits{RateUser: 2}})
	srv := e.live()
	sid, guest := e.openSession()
	t.Run("QueryAnswersOnce", func(t *testing.T) {
		s, _ := openSSE(t, srv, `query($id: ID!) { session(id: $id) { id } }`, map[string]any{"id": sid}, map[string]string{"Authorization": "Bearer " + guest})
		if _, d := s.data(); str(d, "session", "id") != sid {
			t.Fatalf("got %v", d)
		}
		if ev := s.next(); ev.Event != "complete" {
			t.Fatalf("want complete, got %s", ev.Event)
		}
		s.ended()
	})
	t.Run("RateLimitedMutations", func(t *testing.T) {
		c := token(t, seed.Customer2)
		cancel := `mutation { cancelTicket(ticketId: "` + seed.TicketCompleted + `") { id } }`
		for range 2 {
			s, _ := openSSE(t, srv, cancel, nil, map[string]string{"Authorization": "Bearer " + c})
			if code := s.errorCode(); code == "RATE_LIMITED" {
				t.Fatal("a mutation within the limit was refused")
			}
		}
		s, _ := openSSE(t, srv, cancel, nil, map[string]string{"Authorization": "Bearer " + c})
		if code := s.errorCode(); code != "RATE_LIMITED" {
			t.Fatalf("second mutation: %s", code)
		}
	})
	cases := []struct {
		name, tok, query, code string
		vars                   map[string]any
	}{
		{"Anonymous", "", chat, "UNAUTHENTICATED", map[string]any{"id": sid}},
		{"OtherCustomer", token(t, seed.Customer2), chat, "NOT_FOUND", map[string]any{"id": sid}},
		{"CustomerQueue", token(t, seed.Customer1), `subscription { ticketQueue { kind } }`, "FORBIDDEN", nil},
		{"TooDeep", token(t, seed.Admin), `subscription($id: ID!) { sessionMessages(sessionId: $id) { session { ticket { sessions { ticket { sessions { ticket { sessions { ticket { sessions { ticket { sessions { id } } } } } } } } } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED", map[string]any{"id": sid}},
		{"ParseError", token(t, seed.Admin), `subscription {`, "GRAPHQL_PARSE_FAILED", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.tok != "" {
				h["Authorization"] = "Bearer " + c.tok
			}
			s, resp := openSSE(t, srv, c.query, c.vars, h)
			if s == nil {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := s.errorCode(); got != c.code {
				t.Fatalf("code %s, want %s", got, c.code)
			}
		})
	}
	t.Run("BadTokenIs401", func(t *testing.T) {
		if s, resp := openSSE(t, srv, chat, map[string]any{"id": sid}, map[string]string{"Authorization": "Bearer nonsense"}); s != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("ForeignOriginRefused", func(t *testing.T) {
		h := map[string]string{"Authorization": "Bearer " + guest, "Origin": "https://evil.example"}
		if s, resp := openSSE(t, srv, chat, map[string]any{"id": sid}, h); s != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d", resp.StatusCode)
		}
		h["Origin"] = testOrigin
		s, resp := openSSE(t, srv, `{ __typename }`, nil, h)
		if s == nil || resp.Header.Get("Access-Control-Allow-Origin") != testOrigin {
			t.Fatalf("allowed origin: status %d, CORS %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("ExpiredTokenEndsTheStream", func(t *testing.T) {
		tok, err := auth.SignHS256([]byte(secret), seed.Admin, 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := openSSE(t, srv, chat, map[string]any{"id": sid}, map[string]string{"Authorization": "Bearer " + tok})
		s.ended() // without complete: graphql-sse clients reconnect
		select {
		case ev := <-s.events:
			t.Fatalf("event before the end: %s %s", ev.Event, ev.Data)
		default:
		}
		waitSubscriptions(t, e, 0) // and the subscription is gone
	})
}
