package observe_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/observe"
)

// neverLogged are values the requests carry that no log line may repeat: the
// token, variables, literals in query text, and an internal error's message.
var neverLogged = []string{"sst_do-not-log-this-token", "pat@example.com", "Pat Doe", "+1 555", "10.0.0.7"}

func TestOperationsLog(t *testing.T) {
	t.Parallel()
	s := newServer(t, config{})
	const ticketQuery = `query Ticket($id: ID!) { ticket(id: $id) { id solver { name } } }`
	tests := []struct {
		name      string
		query     string
		opName    string
		vars      map[string]any
		operation string
		typ       string
		outcome   string
		codes     []string
		level     string
		refused   bool // before execution: no statement counter
	}{
		{name: "OK", query: ticketQuery, vars: map[string]any{"id": "t1"},
			operation: "Ticket", typ: "query", outcome: "ok", level: "INFO"},
		{name: "NotFound", query: ticketQuery, vars: map[string]any{"id": "missing"},
			operation: "Ticket", typ: "query", outcome: "error", codes: []string{"NOT_FOUND"}, level: "INFO"},
		{name: "Internal", query: ticketQuery, vars: map[string]any{"id": "boom"},
			operation: "Ticket", typ: "query", outcome: "error", codes: []string{"INTERNAL_SERVER_ERROR"}, level: "WARN"},
		{name: "Mutation", query: `mutation Open($name: String!, $email: String!) { createTicket(name: $name, email: $email) { id } }`,
			vars:      map[string]any{"name": "Pat Doe", "email": "pat@example.com"},
			operation: "Open", typ: "mutation", outcome: "ok", level: "INFO"},
		{name: "BadInput", query: `mutation Open($name: String!, $email: String!) { createTicket(name: $name, email: $email) { id } }`,
			vars:      map[string]any{"name": "Pat Doe", "email": ""},
			operation: "Open", typ: "mutation", outcome: "error", codes: []string{"BAD_USER_INPUT"}, level: "INFO"},
		{name: "InlineLiterals", query: `mutation { createTicket(name: "Pat Doe", email: "pat@example.com") { id } }`,
			operation: "anonymous", typ: "mutation", outcome: "ok", level: "INFO"},
		{name: "ParseError", query: `query Broken { ticket(id: "pat@example.com"`, opName: "Broken",
			operation: "Broken", typ: "unknown", outcome: "error", codes: []string{"GRAPHQL_PARSE_FAILED"}, level: "INFO", refused: true},
		{name: "ValidationError", query: `query Nope { nope }`,
			operation: "anonymous", typ: "unknown", outcome: "error", codes: []string{"GRAPHQL_VALIDATION_FAILED"}, level: "INFO", refused: true},
		{name: "BadVariable", query: ticketQuery, vars: map[string]any{"id": map[string]any{"phone": "+1 555 0100"}},
			operation: "Ticket", typ: "query", outcome: "error", codes: []string{"GRAPHQL_VALIDATION_FAILED"}, level: "INFO", refused: true},
	}
	for _, tt := range tests { // one at a time: each request's line is the last one
		res := s.post(t, tt.query, tt.opName, tt.vars)
		entries := s.logs.entries(t, "graphql operation")
		if len(entries) == 0 {
			t.Fatalf("%s: no graphql operation line:\n%s", tt.name, s.logs)
		}
		e := entries[len(entries)-1]
		if e["operation"] != tt.operation || e["type"] != tt.typ || e["outcome"] != tt.outcome || e["level"] != tt.level {
			t.Errorf("%s: logged %v; want operation=%s type=%s outcome=%s level=%s", tt.name, e, tt.operation, tt.typ, tt.outcome, tt.level)
		}
		if got := codesOf(e); !slices.Equal(got, tt.codes) {
			t.Errorf("%s: codes %v, want %v", tt.name, got, tt.codes)
		}
		var answered []string
		for _, e := range res.Errors {
			answered = append(answered, fmt.Sprint(e.Extensions["code"]))
		}
		if !slices.Equal(answered, tt.codes) {
			t.Errorf("%s: the response's codes are %v, the test expects %v", tt.name, answered, tt.codes)
		}
		if _, ok := e["duration_ms"].(float64); !ok {
			t.Errorf("%s: no duration_ms in %v", tt.name, e)
		}
		if id, _ := e["request_id"].(string); id == "" {
			t.Errorf("%s: no request_id in %v", tt.name, e)
		}
		switch sql, ok := e["sql_statements"]; {
		case tt.refused && ok:
			t.Errorf("%s: sql = %v for a request refused before it ran", tt.name, sql)
		case !tt.refused && sql != float64(0):
			t.Errorf("%s: sql = %v, want 0 (counter attached, no statement)", tt.name, sql)
		}
	}

	// Each GraphQL line has its HTTP line, with the same request id.
	ops := s.logs.entries(t, "graphql operation")
	reqs := s.logs.waitEntries(t, "http request", len(tests), nil)
	for i, op := range ops {
		r := reqs[i]
		if r["request_id"] != op["request_id"] || r["method"] != "POST" || r["path"] != "/graphql" || r["client_ip"] != "127.0.0.1" {
			t.Errorf("http line %v does not match operation line %v", r, op)
		}
	}
	for _, secret := range neverLogged {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the log contains %q:\n%s", secret, s.logs)
		}
	}
}

func TestSubscriptionLog(t *testing.T) {
	t.Parallel()
	s := newServer(t, config{})
	ws := s.dial(t)
	isSub := func(e map[string]any) bool { return e["type"] == "subscription" }

	ws.subscribe("1", `subscription Watch($id: ID!) { ticketUpdated(id: $id) { id solver { name } } }`, map[string]any{"id": "t9"})
	<-s.schema.subscribed
	s.schema.publish("t9")
	if m := ws.read(); m["type"] != "next" || m["id"] != "1" {
		t.Fatalf("want the event, got %v", m)
	}
	s.schema.publish("t9")
	ws.read()
	ws.send(map[string]any{"id": "1", "type": "complete"})
	e := s.logs.waitEntries(t, "graphql operation", 1, isSub)[0]
	if e["operation"] != "Watch" || e["outcome"] != "ok" || e["responses"] != float64(2) || e["codes"] != nil {
		t.Errorf("ended subscription logged as %v", e)
	}

	ws.subscribe("2", `subscription Watch($id: ID!) { ticketUpdated(id: $id) { id } }`, map[string]any{"id": "forbidden"})
	ws.waitComplete("2")
	e = s.logs.waitEntries(t, "graphql operation", 2, isSub)[1]
	if e["operation"] != "Watch" || e["outcome"] != "error" || !slices.Equal(codesOf(e), []string{"FORBIDDEN"}) {
		t.Errorf("refused subscription logged as %v", e)
	}

	// The upgrade went through HTTP's ResponseWriter (Hijacker); it is logged when the socket closes.
	ws.c.Close()
	r := s.logs.waitEntries(t, "http request", 1, func(e map[string]any) bool { return e["path"] == "/graphql" })[0]
	if r["status"] != float64(101) || r["hijacked"] != true || r["method"] != "GET" {
		t.Errorf("websocket logged as %v", r)
	}
	s.waitMetric(t, `savvysolve_graphql_requests_total{operation="Watch",outcome="ok",type="subscription"} 1`)
	s.waitMetric(t, `savvysolve_graphql_requests_total{operation="Watch",outcome="error",type="subscription"} 1`)
	s.waitMetric(t, `savvysolve_http_requests_total{code="101"} 1`)
	if text := s.scrape(t); strings.Contains(text, `savvysolve_graphql_request_duration_seconds_count{operation="Watch"`) {
		t.Errorf("a subscription's lifetime went into the request duration histogram:\n%s", metricLines(text, "savvysolve_graphql"))
	}
	for _, secret := range neverLogged {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

// TestStatementCount runs resolvers that query PostgreSQL: the log line and
// the histogram carry the operation's statement count.
func TestStatementCount(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	s := newServer(t, config{db: db, metrics: observe.MetricsConfig{DB: db.DB}})
	res := s.post(t, `query Tickets { tickets { id solver { name } } }`, "", nil)
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	e := s.logs.waitEntries(t, "graphql operation", 1, nil)[0]
	if e["sql_statements"] != float64(4) { // tickets, then the solver of each of 3
		t.Errorf("sql = %v, want 4", e["sql_statements"])
	}
	s.waitMetric(t, "savvysolve_sql_statements_per_request_sum 4")
	s.waitMetric(t, "savvysolve_sql_statements_per_request_count 1")
	s.waitMetric(t, `savvysolve_sql_statements_per_request_bucket{le="3"} 0`)
	s.waitMetric(t, `savvysolve_sql_statements_per_request_bucket{le="4"} 1`)
	// The pool's stats, from the *sql.DB under Bun.
	s.waitMetric(t, `go_sql_max_open_connections{db_name="savvysolve"} 20`)
}

// codesOf returns the codes of a log line.
func codesOf(e map[string]any) []string {
	var codes []string
	list, _ := e["codes"].([]any)
	for _, c := range list {
		codes = append(codes, fmt.Sprint(c))
	}
	return codes
}
