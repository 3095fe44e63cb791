package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/savvysolve/api/internal/config"
	"github.com/savvysolve/api/internal/wsconn"
)

// began is when main started, after package initialisation (which
// GODEBUG=inittrace=1 measures).
var began = time.Now()

// phases times the steps of start-up, for the line that says the server is ready.
type phases struct {
	last  time.Time
	attrs []any
}

func newPhases(start time.Time) *phases { return &phases{last: start} }

// done records that the step name ended now.
func (p *phases) done(name string) {
	now := time.Now()
	p.attrs = append(p.attrs, name+"_ms", millis(now.Sub(p.last)))
	p.last = now
}

// ready logs the time since main started and each step's share of it.
func (p *phases) ready(log *slog.Logger) {
	log.Info("ready", append([]any{"in_ms", millis(time.Since(began))}, p.attrs...)...)
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// web is the HTTP server. It listens before anything else starts, so that a
// port in use fails at once and probes get answers while the server starts:
// /healthz 200 (alive), everything else 503 until serve hands it the API.
type web struct {
	srv     *http.Server
	handler atomic.Pointer[http.Handler]
	errc    chan error
}

func startWeb(ctx context.Context, log *slog.Logger, cfg config.Config) (*web, error) {
	w := &web{errc: make(chan error, 1)}
	w.srv = &http.Server{
		Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Handler:           http.HandlerFunc(w.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", w.srv.Addr)
	if err != nil {
		return nil, err
	}
	log.Info("listening", "addr", ln.Addr().String(), "playground", "http://localhost:"+strconv.Itoa(cfg.Port)+"/")
	go func() { w.errc <- w.srv.Serve(ln) }()
	return w, nil
}

func (w *web) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	if h := w.handler.Load(); h != nil {
		(*h).ServeHTTP(rw, r)
		return
	}
	if r.URL.Path == "/healthz" {
		rw.Write([]byte("ok\n"))
		return
	}
	rw.Header().Set("Retry-After", "1")
	http.Error(rw, "starting", http.StatusServiceUnavailable)
}

// serve hands requests to h from now on.
func (w *web) serve(h http.Handler) { w.handler.Store(&h) }

// close stops the server at once (a no-op after a graceful shutdown); for the
// paths where start-up fails after the listener opened.
func (w *web) close() { w.srv.Close() }

// run serves until ctx ends (or serving or the job queue fails), then shuts
// down gracefully.
func (w *web) run(ctx context.Context, log *slog.Logger, cfg config.Config, sockets *wsconn.Registry, draining *atomic.Bool, failed <-chan error) error {
	select {
	case err := <-w.errc:
		return err
	case err := <-failed:
		return err
	case <-ctx.Done():
	}
	// Readiness goes red first, so load balancers stop sending new requests
	// while this replica still serves the ones they already sent.
	draining.Store(true)
	log.Info("shutting down", "delay", cfg.ShutdownDelay, "grace", cfg.ShutdownGrace, "websockets", sockets.Len())
	time.Sleep(cfg.ShutdownDelay)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	// Shutdown does not touch hijacked connections: close websockets ourselves,
	// with 1001 so clients reconnect (to another replica) and resume.
	sockets.CloseAll(wsconn.CodeGoingAway, "server shutting down")
	if err := w.srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
