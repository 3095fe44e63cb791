package observe

import (
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the server.
const namespace = "savvysolve"

// DefaultMaxOperations is how many distinct operation names get their own
// label value before further names count as "other".
const DefaultMaxOperations = 200

// Operation label values that are not operation names.
const (
	labelAnonymous = "anonymous" // no name, or a name too long or odd to be a label
	labelOther     = "other"     // past the cap of distinct names
)

// MetricsConfig says what the metrics read besides what they are told.
type MetricsConfig struct {
	// DB is the pool under Bun (bun.DB.DB); nil: no pool metrics.
	DB *sql.DB
	// WebSockets returns the number of open websockets and SSE streams (wsconn.Registry.Len);
	// nil: no websocket gauge.
	WebSockets func() int
	// MaxOperations caps the distinct operation label values (0: DefaultMaxOperations).
	MaxOperations int
}

// Metrics holds the server's Prometheus metrics on a registry of its own (the
// global default registry is never touched, so tests and libraries cannot
// collide with it). A nil *Metrics is valid and records nothing.
//
// *Metrics implements live.Observer (assign it to live.Hub.Observe), and its
// Batch method matches loaders.Options.Observe.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	statements    prometheus.Histogram
	subscriptions *prometheus.GaugeVec
	notifications prometheus.Counter
	dropped       prometheus.Counter
	batches       *prometheus.HistogramVec
	http          *prometheus.CounterVec
	waiting       prometheus.Gauge
	waited        prometheus.Histogram
	jobs          *prometheus.CounterVec
	jobSeconds    *prometheus.HistogramVec
	// inFlightLimit reads the line's current limit (set by InFlightLimit).
	inFlightLimit atomic.Pointer[func() int]

	names *names
}

// NewMetrics returns the metrics, registered on a fresh registry with the Go
// runtime and process collectors.
func NewMetrics(c MetricsConfig) *Metrics {
	limit := c.MaxOperations
	if limit <= 0 {
		limit = DefaultMaxOperations
	}
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		names: newNames(limit),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "graphql_requests_total",
			Help: "GraphQL operations answered, by operation name, type (query, mutation, subscription, unknown) and outcome (ok, error, canceled). " +
				"A subscription counts once, when it ends; its outcome is error when any of its responses carried an error.",
		}, []string{"operation", "type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "graphql_request_duration_seconds",
			Help:    "Time from reading a GraphQL query or mutation to its response (parsing, validation and execution). Subscriptions are not observed.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "type", "outcome"}),
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "sql_statements_per_request",
			Help:    "SQL statements run by one GraphQL query or mutation (the per-operation counter); it follows the query's shape, not the number of rows.",
			Buckets: []float64{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128},
		}),
		subscriptions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "subscriptions_open",
			Help: "Open subscriptions on this replica, by kind (sessionMessages, ticketUpdated, ticketQueue, sessionUpdated).",
		}, []string{"kind"}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "notifications_received_total",
			Help: "pg_notify events received by this replica's LISTEN connection.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "subscribers_dropped_total",
			Help: "Subscribers disconnected for falling too far behind (close code 4008).",
		}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "dataloader_batch_size",
			Help:    "Keys loaded by one dataloader batch (one SQL statement), by loader.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}, []string{"loader"}),
		http: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by status code (101 for websocket upgrades, counted once the handshake is done).",
		}, []string{"code"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "http_requests_waiting",
			Help: "Queries and mutations waiting for a turn to run (savvysolve_http_in_flight_limit run at once).",
		}),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_wait_seconds",
			Help:    "Time a query or mutation waited for a turn to run (MAX_IN_FLIGHT).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15},
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jobs_total",
			Help: "Job attempts by kind and outcome: completed, failed (will retry) or discarded (given up: see river_job and webhook_events).",
		}, []string{"kind", "outcome"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "job_duration_seconds",
			Help:    "Run time of completed jobs, by kind.",
			Buckets: prometheus.DefBuckets,
		}, []string{"kind"}),
	}
	m.reg.MustRegister(
		m.requests, m.duration, m.statements, m.subscriptions,
		m.notifications, m.dropped, m.batches, m.http, m.waiting, m.waited, m.jobs, m.jobSeconds,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "http_in_flight_limit",
		Help: "Queries and mutations that may run at once (MAX_IN_FLIGHT: fixed, or adapted to latency); 0 before the server starts.",
	}, func() float64 {
		if limit := m.inFlightLimit.Load(); limit != nil {
			return float64((*limit)())
		}
		return 0
	}))
	if c.DB != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(c.DB, namespace))
	}
	if c.WebSockets != nil {
		open := c.WebSockets
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "websockets_open",
			Help: "Open websocket connections on this replica.",
		}, func() float64 { return float64(open()) }))
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format (mount it on /metrics).
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Notification counts one pg_notify event received (live.Observer).
func (m *Metrics) Notification() {
	if m != nil {
		m.notifications.Inc()
	}
}

// Subscribed adds delta to the open subscriptions of kind (live.Observer).
func (m *Metrics) Subscribed(kind string, delta int) {
	if m != nil {
		m.subscriptions.WithLabelValues(kind).Add(float64(delta))
	}
}

// JobCompleted counts a completed job (jobs.Metrics).
func (m *Metrics) JobCompleted(kind string, d time.Duration) {
	if m != nil {
		m.jobs.WithLabelValues(kind, "completed").Inc()
		m.jobSeconds.WithLabelValues(kind).Observe(d.Seconds())
	}
}

// JobFailed counts a failed attempt; discarded when it was the last (jobs.Metrics).
func (m *Metrics) JobFailed(kind string, _ int, discarded bool) {
	if m != nil {
		outcome := "failed"
		if discarded {
			outcome = "discarded"
		}
		m.jobs.WithLabelValues(kind, outcome).Inc()
	}
}

// TooSlow counts one subscriber dropped for falling behind (live.Observer).
func (m *Metrics) TooSlow() {
	if m != nil {
		m.dropped.Inc()
	}
}

// Batch observes the size of one dataloader batch (loaders.Options.Observe).
func (m *Metrics) Batch(loader string, size int) {
	if m != nil {
		m.batches.WithLabelValues(loader).Observe(float64(size))
	}
}

// operation records one finished GraphQL operation. known says whether the
// operation was found in its document: only those may claim a label value of
// their own, so garbage requests cannot use up the cap.
func (m *Metrics) operation(name string, known bool, typ, outcome string, seconds float64, statements int64, counted bool) {
	if m == nil {
		return
	}
	op := m.names.label(name, known)
	m.requests.WithLabelValues(op, typ, outcome).Inc()
	if typ == "subscription" {
		return // a lifetime, not a request: neither duration nor statements compare
	}
	m.duration.WithLabelValues(op, typ, outcome).Observe(seconds)
	if counted {
		m.statements.Observe(float64(statements))
	}
}

// Waiting counts the requests waiting for a turn to run (delta +1 or -1).
func (m *Metrics) Waiting(delta int) {
	if m != nil {
		m.waiting.Add(float64(delta))
	}
}

// InFlightLimit makes limit the source of the in-flight limit gauge (the
// line's current limit, read at every scrape).
func (m *Metrics) InFlightLimit(limit func() int) {
	if m != nil {
		m.inFlightLimit.Store(&limit)
	}
}

// Waited observes how long a request waited for its turn.
func (m *Metrics) Waited(d time.Duration) {
	if m != nil {
		m.waited.Observe(d.Seconds())
	}
}

func (m *Metrics) httpRequest(status int) {
	if m != nil {
		m.http.WithLabelValues(strconv.Itoa(status)).Inc()
	}
}

// names bounds the operation label: a name is its own label value if it is a
// short GraphQL identifier and one of the first max distinct names seen.
type names struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func newNames(limit int) *names { return &names{max: limit, seen: map[string]struct{}{}} }

// maxNameLen is the longest operation name used as a label value.
const maxNameLen = 64

func (n *names) label(name string, admit bool) string {
	if !isName(name, maxNameLen) {
		return labelAnonymous
	}
	n.mu.RLock()
	_, ok := n.seen[name]
	n.mu.RUnlock()
	if ok {
		return name
	}
	if !admit {
		return labelOther
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[name]; ok {
		return name
	}
	if len(n.seen) >= n.max {
		return labelOther
	}
	n.seen[name] = struct{}{}
	return name
}

// isName reports whether s is a GraphQL name of at most maxLen bytes.
func isName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
