// Package observe is the server's observability: structured logs of HTTP
// requests and GraphQL operations (log/slog), Prometheus metrics on a registry
// of their own, and OpenTelemetry traces of operations and resolvers, off
// unless an OTLP endpoint is configured.
//
// Wiring (see METRICS.md for the metrics):
//
//	m := observe.NewMetrics(observe.MetricsConfig{DB: db.DB, WebSockets: sockets.Len})
//	hub.Observe = m                                   // live.Observer
//	loaders.Options{Observe: m.Batch}                 // batch sizes
//	srv.Use(observe.Operations{Log: log, Metrics: m}) // gqlgen: logs and metrics per operation
//	if enabled { srv.Use(observe.NewTrace(nil)) }     // gqlgen: spans, when Tracing found an endpoint
//	handler = observe.HTTP(log, m)(handler)           // request id, access log, status counts
//	mux.Handle("GET /metrics", m.Handler())
//
// What is never recorded, anywhere: the Authorization header (or any header
// but a well-formed X-Request-Id), query strings, query text, variables, and
// error messages, which can all carry tokens or customers' contact details.
// Errors are known by their extensions.code.
package observe
