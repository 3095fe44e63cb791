package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/observe"
)

// TestInFlightLimit: a fixed limit (MAX_IN_FLIGHT=N) gives N turns, an
// adaptive one starts with its initial value; either way the
// limit is exported, a request still waiting for a turn at its deadline
// answers 503 UNAVAILABLE with Retry-After, and turns given back serve the
// next requests.
func TestInFlightLimit(t *testing.T) {
	t.Parallel()
	lo, initial, hi := api.AdaptiveInFlight()
	if lo < 2 || lo > initial || initial > hi {
		t.Fatalf("adaptive bounds: %d <= %d <= %d", lo, initial, hi)
	}
	for _, c := range []struct {
		name        string
		maxInFlight int
		turns       int
	}{
		{"Fixed", 3, 3},
		// auto (the default) is TestTurnsFollowTheDatabasesDistance's: here its
		// probe could switch limiters while the test holds every turn.
		{"Adaptive", api.AdaptiveOnly, initial},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := observe.NewMetrics(observe.MetricsConfig{})
			e := newEnvOpts(t, opts{limits: api.Limits{MaxInFlight: c.maxInFlight, RequestTimeout: 300 * time.Millisecond}, metrics: m})
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if line := fmt.Sprintf("\nsavvysolve_http_in_flight_limit %d\n", c.turns); !strings.Contains(w.Body.String(), line) {
				t.Fatalf("no %q in /metrics:\n%s", strings.TrimSpace(line), w.Body)
			}

			// Requests whose answer cannot be written keep their turns,
			// whatever their deadline.
			release := make(chan struct{})
			free := sync.OnceFunc(func() { close(release) })
			defer free()
			holding := make(chan int, c.turns) // their status codes
			var held sync.WaitGroup
			for range c.turns {
				held.Go(func() {
					r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query": "{ __typename }"}`))
					r.Header.Set("Content-Type", "application/json")
					e.h.ServeHTTP(&stuckWriter{header: http.Header{}, writing: holding, release: release}, r)
				})
			}
			for range c.turns {
				if code := <-holding; code != http.StatusOK {
					t.Fatalf("%d turns wanted; a request waiting for one answered %d", c.turns, code)
				}
			}
			busy := e.send(req{gql: `{ __typename }`})
			r := decode(t, busy)
			if busy.Code != http.StatusServiceUnavailable || busy.Header().Get("Retry-After") != "1" || r.code() != "UNAVAILABLE" {
				t.Errorf("with every turn taken: %d, Retry-After %q: %s", busy.Code, busy.Header().Get("Retry-After"), busy.Body)
			}
			// Over a websocket too (the same line; no HTTP status there).
			ws := connect(t, e.live(), "graphql-transport-ws", "")
			ws.subscribe("q", `{ __typename }`, nil)
			var p struct{ Errors []gqlError }
			if m := ws.next(); m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) != 1 ||
				p.Errors[0].Message != "the server is busy; try again" || p.Errors[0].Extensions["retryAfter"] != 1.0 ||
				p.Errors[0].Extensions["code"] != "UNAVAILABLE" {
				t.Errorf("over a websocket, with every turn taken: %s %s", m.Type, m.Payload)
			}
			free()
			held.Wait()
			if r := e.do("", `{ __typename }`, nil); r.Status != http.StatusOK || r.code() != "" {
				t.Errorf("with the turns given back: %+v", r)
			}
		})
	}
}

// stuckWriter is a response writer that sends the status code to writing
// when the handler starts writing, then blocks until release is closed.
type stuckWriter struct {
	header  http.Header
	writing chan<- int
	release <-chan struct{}
	once    sync.Once
}

func (w *stuckWriter) Header() http.Header  { return w.header }
func (w *stuckWriter) WriteHeader(code int) { w.stuck(code) }

func (w *stuckWriter) Write(b []byte) (int, error) {
	w.stuck(http.StatusOK)
	return len(b), nil
}

func (w *stuckWriter) stuck(code int) {
	w.once.Do(func() { w.writing <- code })
	<-w.release
}
