package observe_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/savvysolve/api/internal/observe"
)

// newHTTP serves h through the middleware, logging JSON into the returned buffer.
func newHTTP(t *testing.T, h http.Handler) (*httptest.Server, *logBuffer, *observe.Metrics) {
	t.Helper()
	logs := &logBuffer{}
	m := observe.NewMetrics(observe.MetricsConfig{})
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(observe.HTTP(log, m)(h))
	t.Cleanup(srv.Close)
	return srv, logs, m
}

func TestHTTPKeepsHijackerAndFlusher(t *testing.T) {
	t.Parallel()
	srv, logs, _ := newHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			io.WriteString(w, "first ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "second")
			return
		}
		h, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no Hijacker", http.StatusInternalServerError)
			return
		}
		conn, buf, err := h.Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	}))

	for path, want := range map[string]string{"/hijack": "hijacked", "/stream": "first second"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s: %q, want %q", path, body, want)
		}
	}
	hijacked := logs.waitEntries(t, "http request", 1, func(e map[string]any) bool { return e["path"] == "/hijack" })[0]
	if hijacked["status"] != float64(101) || hijacked["hijacked"] != true {
		t.Errorf("hijacked request logged as %v", hijacked)
	}
	stream := logs.waitEntries(t, "http request", 1, func(e map[string]any) bool { return e["path"] == "/stream" })[0]
	if stream["status"] != float64(200) || stream["bytes"] != float64(len("first second")) {
		t.Errorf("streamed request logged as %v", stream)
	}

	// http.ResponseController reaches the wrapped writer (Unwrap).
	rec := httptest.NewRecorder()
	observe.HTTP(nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !rec.Flushed {
		t.Error("the recorder was not flushed")
	}
}

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	srv, logs, m := newHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/hints":
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNoContent)
		case "/healthz":
			io.WriteString(w, "ok")
		}
	}))
	for _, path := range []string{"/missing", "/hints", "/empty", "/healthz"} {
		if res, err := http.Get(srv.URL + path); err == nil {
			res.Body.Close()
		}
	}
	want := map[string]struct {
		status float64
		level  string
	}{
		"/missing": {404, "INFO"},
		"/hints":   {204, "INFO"},
		"/empty":   {200, "INFO"},
		"/healthz": {200, "DEBUG"},
	}
	for _, e := range logs.waitEntries(t, "http request", len(want), nil) {
		w := want[e["path"].(string)]
		if e["status"] != w.status || e["level"] != w.level {
			t.Errorf("%s logged as %v, want status %v at %s", e["path"], e, w.status, w.level)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range []string{
		`savvysolve_http_requests_total{code="404"} 1`,
		`savvysolve_http_requests_total{code="204"} 1`,
		`savvysolve_http_requests_total{code="200"} 2`,
	} {
		if !hasLine(rec.Body.String(), line) {
			t.Errorf("metrics lack %s:\n%s", line, metricLines(rec.Body.String(), "savvysolve_http"))
		}
	}
}

func TestHTTPRequestID(t *testing.T) {
	t.Parallel()
	var seen string // the handler's view; requests go one at a time
	srv, logs, _ := newHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = observe.RequestID(r.Context())
	}))
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tt := range []struct {
		name, sent string
		keep       bool
	}{
		{"Generated", "", false},
		{"Kept", "edge-7f3a.1_b", true},
		{"Refused", "two words\" injected=1", false},
		{"TooLong", strings.Repeat("a", 65), false},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		if tt.sent != "" {
			req.Header.Set("X-Request-Id", tt.sent)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-Id")
		switch {
		case got != seen:
			t.Errorf("%s: answered id %q, the handler saw %q", tt.name, got, seen)
		case tt.keep && got != tt.sent:
			t.Errorf("%s: id %q, want %q kept", tt.name, got, tt.sent)
		case !tt.keep && !hex16.MatchString(got):
			t.Errorf("%s: id %q, want 16 hex digits", tt.name, got)
		}
		last := logs.waitEntries(t, "http request", 1, func(e map[string]any) bool { return e["request_id"] == got })
		if len(last) != 1 {
			t.Errorf("%s: %d lines with id %q", tt.name, len(last), got)
		}
	}
}

// TestHTTPLogsNoSecrets: a GET request carries GraphQL variables in its query
// string; neither they nor any header are logged.
func TestHTTPLogsNoSecrets(t *testing.T) {
	t.Parallel()
	s := newServer(t, config{})
	q := url.Values{
		"query":     {`query Ticket($id: ID!) { ticket(id: $id) { id } }`},
		"variables": {`{"id": "pat@example.com"}`},
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+q.Encode(), nil)
	req.Header.Set("Authorization", secretToken)
	req.Header.Set("Cookie", "session=Pat Doe")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	e := s.logs.waitEntries(t, "http request", 1, nil)[0]
	if e["path"] != "/graphql" || e["method"] != "GET" || e["status"] != float64(200) {
		t.Errorf("logged %v", e)
	}
	if op := s.logs.entries(t, "graphql operation"); len(op) != 1 || op[0]["operation"] != "Ticket" {
		t.Errorf("operation lines: %v", op)
	}
	for _, secret := range neverLogged {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the log contains %q:\n%s", secret, s.logs)
		}
	}
}

// TestHTTPText: outside production the logger is slog's text handler; the
// lines stay one per request with the same keys.
func TestHTTPText(t *testing.T) {
	t.Parallel()
	var buf logBuffer
	h := observe.HTTP(slog.New(slog.NewTextHandler(&buf, nil)), nil)(http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/x?token=secret", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	line, _ := bufio.NewReader(strings.NewReader(buf.String())).ReadString('\n')
	for _, want := range []string{`msg="http request"`, "method=GET", "path=/x ", "status=404", "client_ip=192.0.2.1", "duration_ms="} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "secret") {
		t.Errorf("line %q has the query string", line)
	}
}

// TestHTTPPanic: a handler's panic goes on to net/http (which logs it with
// its stack) and is logged as a 500.
func TestHTTPPanic(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	m := observe.NewMetrics(observe.MetricsConfig{})
	h := observe.HTTP(slog.New(slog.NewJSONHandler(&logs, nil)), m)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/panic", nil))
	}()
	e := logs.entries(t, "http request")
	if len(e) != 1 || e[0]["status"] != float64(500) || e[0]["level"] != "WARN" {
		t.Errorf("logged %v", e)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if line := `savvysolve_http_requests_total{code="500"} 1`; !hasLine(rec.Body.String(), line) {
		t.Errorf("metrics lack %s", line)
	}
}
