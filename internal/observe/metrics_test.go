package observe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/observe"
	"github.com/savvysolve/api/loaders"
)

// The hooks the server offers take *Metrics as they are.
var (
	_ live.Observer = (*observe.Metrics)(nil)
	_               = loaders.Options{Observe: (*observe.Metrics)(nil).Batch}
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	pool, err := database.OpenSQL("postgres://nobody@127.0.0.1:1/none", database.Options{MaxConns: 7}) // never connects
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	s := newServer(t, config{metrics: observe.MetricsConfig{DB: pool, WebSockets: func() int { return 3 }}})
	const q = `query Ticket($id: ID!) { ticket(id: $id) { id } }`
	s.post(t, q, "", map[string]any{"id": "t1"})
	s.post(t, q, "", map[string]any{"id": "t2"})
	s.post(t, q, "", map[string]any{"id": "missing"})
	s.post(t, `mutation Open { createTicket(name: "a", email: "b") { id } }`, "", nil)
	if res, err := http.Get(s.URL + "/nope"); err == nil {
		res.Body.Close()
	}

	m := s.metrics
	m.Subscribed("sessionMessages", 1)
	m.Subscribed("sessionMessages", 1)
	m.Subscribed("ticketQueue", 1)
	m.Subscribed("sessionMessages", -1)
	for range 3 {
		m.Notification()
	}
	m.TooSlow()
	m.Batch("user", 3)
	m.Batch("user", 40)
	m.Batch("ticket", 1)
	m.Waiting(1)
	m.Waiting(1)
	m.Waiting(-1)
	m.Waited(0)
	m.Waited(20 * time.Millisecond)
	m.InFlightLimit(func() int { return 12 })

	for _, line := range []string{
		`savvysolve_graphql_requests_total{operation="Ticket",outcome="ok",type="query"} 2`,
		`savvysolve_graphql_requests_total{operation="Ticket",outcome="error",type="query"} 1`,
		`savvysolve_graphql_requests_total{operation="Open",outcome="ok",type="mutation"} 1`,
		`savvysolve_graphql_request_duration_seconds_count{operation="Ticket",outcome="ok",type="query"} 2`,
		`savvysolve_graphql_request_duration_seconds_count{operation="Open",outcome="ok",type="mutation"} 1`,
		`savvysolve_sql_statements_per_request_count 4`,
		`savvysolve_sql_statements_per_request_sum 0`,
		`savvysolve_subscriptions_open{kind="sessionMessages"} 1`,
		`savvysolve_subscriptions_open{kind="ticketQueue"} 1`,
		`savvysolve_notifications_received_total 3`,
		`savvysolve_subscribers_dropped_total 1`,
		`savvysolve_dataloader_batch_size_count{loader="user"} 2`,
		`savvysolve_dataloader_batch_size_sum{loader="user"} 43`,
		`savvysolve_dataloader_batch_size_bucket{loader="user",le="5"} 1`,
		`savvysolve_dataloader_batch_size_count{loader="ticket"} 1`,
		`savvysolve_websockets_open 3`,
		`savvysolve_http_requests_waiting 1`,
		`savvysolve_http_wait_seconds_count 2`,
		`savvysolve_http_wait_seconds_bucket{le="0.0005"} 1`,
		`savvysolve_http_in_flight_limit 12`,
		`savvysolve_http_requests_total{code="404"} 1`, // scrapes count as 200s: 404 is exact
		`go_sql_max_open_connections{db_name="savvysolve"} 7`,
		`go_sql_open_connections{db_name="savvysolve"} 0`,
	} {
		s.waitMetric(t, line)
	}
	text := s.scrape(t)
	doc, err := os.ReadFile("METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(text, "\n") {
		if name, ok := strings.CutPrefix(line, "# HELP "); ok && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			name, _, _ = strings.Cut(name, " ")
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("METRICS.md does not document %s", name)
			}
		}
	}
	for _, name := range []string{
		"savvysolve_graphql_requests_total", "savvysolve_graphql_request_duration_seconds",
		"savvysolve_sql_statements_per_request", "savvysolve_subscriptions_open",
		"savvysolve_notifications_received_total", "savvysolve_subscribers_dropped_total",
		"savvysolve_dataloader_batch_size", "savvysolve_websockets_open", "savvysolve_http_requests_total",
		"savvysolve_http_requests_waiting", "savvysolve_http_wait_seconds", "savvysolve_http_in_flight_limit",
		"go_goroutines", "process_cpu_seconds_total", "go_sql_open_connections",
	} {
		if !strings.Contains(text, "# HELP "+name+" ") {
			t.Errorf("no HELP for %s", name)
		}
	}
}

// TestOperationLabelCap: the operation label is the operation's name while it
// is a short GraphQL name among the first MaxOperations seen; after that
// "other"; a request refused before its operation was found never claims one.
func TestOperationLabelCap(t *testing.T) {
	t.Parallel()
	s := newServer(t, config{metrics: observe.MetricsConfig{MaxOperations: 3}})
	s.post(t, `query Junk {`, "Junk", nil) // parse error: may not take a slot
	for i := 1; i <= 5; i++ {
		s.post(t, fmt.Sprintf(`query Op%d { version }`, i), "", nil)
	}
	s.post(t, `query Op1 { version }`, "", nil) // still its own
	s.post(t, `{ version }`, "", nil)
	long := "Q" + strings.Repeat("x", 64) // a GraphQL name, too long for a label
	s.post(t, "query "+long+" { version }", "", nil)

	for _, line := range []string{
		`savvysolve_graphql_requests_total{operation="other",outcome="error",type="unknown"} 1`,
		`savvysolve_graphql_requests_total{operation="Op1",outcome="ok",type="query"} 2`,
		`savvysolve_graphql_requests_total{operation="Op2",outcome="ok",type="query"} 1`,
		`savvysolve_graphql_requests_total{operation="Op3",outcome="ok",type="query"} 1`,
		`savvysolve_graphql_requests_total{operation="other",outcome="ok",type="query"} 2`,
		`savvysolve_graphql_requests_total{operation="anonymous",outcome="ok",type="query"} 2`,
	} {
		s.waitMetric(t, line)
	}
	text := s.scrape(t)
	for _, name := range []string{"Junk", "Op4", "Op5", long} {
		if strings.Contains(text, `operation="`+name+`"`) {
			t.Errorf("%s has a label value of its own:\n%s", name, metricLines(text, "savvysolve_graphql_requests_total"))
		}
	}
	// The log is not capped: every line names its operation.
	var logged []string
	for _, e := range s.logs.entries(t, "graphql operation") {
		logged = append(logged, fmt.Sprint(e["operation"]))
	}
	want := []string{"Junk", "Op1", "Op2", "Op3", "Op4", "Op5", "Op1", "anonymous", long}
	if fmt.Sprint(logged) != fmt.Sprint(want) {
		t.Errorf("logged operations %v, want %v", logged, want)
	}
}

func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *observe.Metrics
	m.Notification()
	m.Subscribed("ticketQueue", 1)
	m.TooSlow()
	m.Batch("user", 1)
	m.InFlightLimit(func() int { return 1 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /metrics on nil Metrics: %d, want 404", rec.Code)
	}
}
