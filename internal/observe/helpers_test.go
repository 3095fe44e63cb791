package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/uptrace/bun"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/observe"
	"github.com/savvysolve/api/internal/wsconn"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// secretToken is sent as Authorization with every request; it must never be logged.
const secretToken = "Bearer sst_do-not-log-this-token"

// server is the extensions and middleware wired as the server wires them, on
// the test schema: HTTP around the handler, a statement counter per operation.
type server struct {
	*httptest.Server
	schema  *testSchema
	metrics *observe.Metrics
	logs    *logBuffer
}

type config struct {
	db      *bun.DB
	metrics observe.MetricsConfig
	trace   *observe.Trace
}

func newServer(t *testing.T, c config) *server {
	t.Helper()
	s := &server{schema: newTestSchema(c.db), metrics: observe.NewMetrics(c.metrics), logs: &logBuffer{}}
	log := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	srv := handler.New(s.schema.executable())
	srv.AddTransport(&wsconn.Transport{PingInterval: time.Second})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(presentError)
	srv.Use(observe.Operations{Log: log, Metrics: s.metrics})
	if c.trace != nil {
		srv.Use(*c.trace)
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		ctx, _ = database.WithCounter(ctx) // as internal/api does
		return next(ctx)
	})

	mux := http.NewServeMux()
	mux.Handle("/graphql", srv)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	s.Server = httptest.NewServer(observe.HTTP(log, s.metrics)(mux))
	t.Cleanup(s.Close)
	return s
}

// presentError is internal/api's presenter in short: codes for apperr errors,
// INTERNAL_SERVER_ERROR (without the text) for the rest.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gerr := graphql.DefaultErrorPresenter(ctx, err)
	if e := apperr.From(err); e != nil {
		gerr.Message = e.Message
		gerr.Extensions = map[string]any{"code": string(e.Code)}
		return gerr
	}
	if _, ok := gerr.Extensions["code"]; ok {
		return gerr
	}
	gerr.Message = "internal server error"
	gerr.Extensions = map[string]any{"code": string(apperr.Internal)}
	return gerr
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// post sends a GraphQL request with the secret token and returns the response.
func (s *server) post(t *testing.T, query, operationName string, variables map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "operationName": operationName, "variables": variables})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", secretToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("decode response (status %d): %v", res.StatusCode, err)
	}
	return out
}

// scrape returns the metrics exposition.
func (s *server) scrape(t *testing.T) string {
	t.Helper()
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, b)
	}
	return string(b)
}

// waitMetric waits until the exposition has line (name{labels} value).
func (s *server) waitMetric(t *testing.T, line string) {
	t.Helper()
	var text string
	waitFor(t, func() bool {
		text = s.scrape(t)
		return hasLine(text, line)
	}, func() string { return "metrics lack " + line + "\n" + metricLines(text, "savvysolve_") })
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// metricLines returns the lines of text that start with prefix.
func metricLines(text, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func waitFor(t *testing.T, ok func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(why())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects log lines written concurrently by the server.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries returns the JSON log lines with message msg.
func (b *logBuffer) entries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// waitEntries waits until there are n log lines with message msg matching match.
func (b *logBuffer) waitEntries(t *testing.T, msg string, n int, match func(map[string]any) bool) []map[string]any {
	t.Helper()
	var got []map[string]any
	waitFor(t, func() bool {
		got = got[:0]
		for _, e := range b.entries(t, msg) {
			if match == nil || match(e) {
				got = append(got, e)
			}
		}
		return len(got) >= n
	}, func() string { return "log lacks the expected lines:\n" + b.String() })
	return got
}

// wsClient speaks graphql-transport-ws.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func (s *server) dial(t *testing.T) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(s.URL, "http")+"/graphql", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	t.Cleanup(func() { c.Close() })
	w := &wsClient{t: t, c: c}
	w.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": secretToken}})
	if m := w.read(); m["type"] != "connection_ack" {
		t.Fatalf("want connection_ack, got %v", m)
	}
	return w
}

func (w *wsClient) send(m map[string]any) {
	w.t.Helper()
	if err := w.c.WriteJSON(m); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the next message other than a ping or pong.
func (w *wsClient) read() map[string]any {
	w.t.Helper()
	for {
		w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m map[string]any
		if err := w.c.ReadJSON(&m); err != nil {
			w.t.Fatal(err)
		}
		if m["type"] != "ping" && m["type"] != "pong" {
			return m
		}
	}
}

func (w *wsClient) subscribe(id, query string, variables map[string]any) {
	w.t.Helper()
	w.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query, "variables": variables}})
}

// waitComplete reads until the server completes subscription id.
func (w *wsClient) waitComplete(id string) {
	w.t.Helper()
	for m := w.read(); m["type"] != "complete" || m["id"] != id; m = w.read() {
	}
}
