// Package api assembles the HTTP surface of the server: GraphQL over HTTP and
// websockets on /graphql, the Playground on /, and the health probes.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/uptrace/bun"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/clientip"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/migrate"
	"github.com/savvysolve/api/internal/observe"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/internal/playground"
	"github.com/savvysolve/api/internal/sse"
	"github.com/savvysolve/api/internal/wsconn"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/resolvers"
)

// Deps are what the HTTP surface needs.
type Deps struct {
	DB         *bun.DB
	Auth       *auth.Authenticator
	Live       *live.Hub
	Log        *slog.Logger
	Migrations atlasmigrate.Dir // for /readyz: no pending file
	Production bool
	// PlaygroundHeaders are ready Authorization headers offered in the Playground (development only).
	PlaygroundHeaders map[string]map[string]string
	// Loaders tune the dataloaders (Wait: LOADER_WAIT; Observe is set here).
	Loaders loaders.Options
	// AllowedOrigins may open websockets (besides same-origin pages) and make
	// CORS requests; outside production, so may pages on http://localhost:*
	// and http://127.0.0.1:*.
	AllowedOrigins []string
	// Sockets tracks open websockets and SSE streams (may be nil).
	Sockets *wsconn.Registry
	// Limits bound requests (zero values: the defaults).
	Limits Limits
	// Metrics records the server's metrics (nil: none).
	Metrics *observe.Metrics
	// Webhooks serves POST /webhooks/clerk, /webhooks/telnyx and /webhooks/stripe (nil: not mounted).
	Webhooks http.Handler
	// Payments is the Stripe client and Charges the queue of charge jobs
	// (*jobs.Runner); without both, payments are off (every Session.payment UNBILLED).
	Payments *payments.Client
	Charges  desk.Queue
	// Draining turns readiness red while the server shuts down (nil: never).
	Draining *atomic.Bool
	// Tracing adds spans for operations and resolver fields (observe.Tracing
	// has set the global TracerProvider).
	Tracing bool
	// turns is the line of queries and mutations (Limits.MaxInFlight).
	turns *turns
}

// New returns the server's HTTP handler.
//
// On /graphql, websocket upgrades go to the websocket transport (origin
// checked at the handshake, no deadline); POSTs that accept
// text/event-stream to the SSE transport (CORS, the same origin rule,
// content type and body size; no deadline); everything else passes CORS and
// the plain-HTTP guard (content type, body size, deadline, a turn in line)
// first. All then authenticate, and every operation passes the guard, the
// complexity limit and the rate limit before any resolver runs; queries and
// mutations over sockets and streams wait for their turn in the same line.
func New(d Deps) http.Handler {
	d.Limits = d.Limits.withDefaults()
	var ping func(context.Context) error
	if d.DB != nil {
		ping = d.DB.DB.PingContext // pgx's ping: an empty statement, past the query hooks
	}
	d.turns = newTurns(d.Limits.MaxInFlight, d.Metrics, ping, d.Log)
	mux := http.NewServeMux()
	gql := d.Auth.Middleware(d.Log)(d.graphQL())
	plain := d.cors().Handler(d.plainHTTP(gql))
	events := d.cors().Handler(d.eventStream(gql))
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r):
			gql.ServeHTTP(w, r)
		case r.Method == http.MethodPost && sse.AcceptsEvents(r):
			events.ServeHTTP(w, r)
		default:
			plain.ServeHTTP(w, r)
		}
	})
	if d.Webhooks != nil { // signed by their senders: no CORS, no user auth
		mux.Handle("POST /webhooks/", d.Webhooks)
	}
	mux.Handle("GET /metrics", d.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", d.ready)
	mux.Handle("GET /playground/", http.StripPrefix("/playground/", playground.Assets()))
	opts := playground.Options{}
	if !d.Production {
		opts.HeaderSets = d.PlaygroundHeaders
	}
	mux.Handle("GET /{$}", playground.Handler("SavvySolve API", "/graphql", opts))
	// Outermost: the client's address is resolved once, for the log and the
	// rate limit alike; refusals are logged and counted too. Above it,
	// websockets leave the request's context behind (wsconn.Detached).
	return wsconn.Detached(clientip.Middleware(d.Limits.TrustedProxies)(observe.HTTP(d.Log, d.Metrics)(mux)))
}

func (d Deps) graphQL() http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{
		Resolvers: &resolvers.Resolver{
			Desk: desk.New(d.DB, desk.WithPayments(d.Payments, d.Charges, d.Log)),
			Live: d.Live,
		},
		Complexity: complexity(),
	}))
	// One pool delivers the subscription events of every socket and stream.
	pool := &wsconn.Pool{}
	srv.AddTransport(&sse.Transport{Init: d.initStream, Open: d.Sockets, Pool: pool}) // before POST, which it overlaps
	srv.AddTransport(&wsconn.Transport{
		Allowed:      d.originAllowed,
		PingInterval: 20 * time.Second,
		InitTimeout:  10 * time.Second,
		Init:         d.initSocket,
		Open:         d.Sockets,
		Pool:         pool,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpTransport{}) // GET and POST, by the GraphQL-over-HTTP specification
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(d.Limits.MaxFields * tokensPerField)
	srv.SetDisableSuggestion(d.Production)
	if !d.Production {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	// In this order: cheap refusals first; the complexity walk is bounded by
	// the guard's field count; only operations that may run take a token.
	srv.Use(guard{maxDepth: d.Limits.MaxDepth, maxFields: d.Limits.MaxFields, production: d.Production})
	srv.Use(textGuard{})
	srv.Use(&complexityLimit{max: d.Limits.MaxComplexity})
	srv.Use(newRateLimit(d.Limits))
	srv.Use(line{turns: d.turns, timeout: d.Limits.RequestTimeout})
	srv.Use(observe.Operations{Log: d.Log, Metrics: d.Metrics})
	if d.Tracing {
		// Only then: even a no-op field interceptor wraps every field's
		// resolution in more calls and closures.
		srv.Use(observe.NewTrace(nil))
	}
	srv.SetErrorPresenter(d.presenter())
	srv.SetRecoverFunc(recoverPanic(d.Log))
	srv.AroundOperations(d.perOperation())
	return srv
}

// perOperation gives every query and mutation its own loaders, and every
// operation a statement counter. Subscriptions share one set of loaders with
// no cache: each event reads fresh rows, and the loads of all the subscribers
// resolving one event are batched together, so an event costs the same
// statements whether ten or ten thousand subscribers receive it.
func (d Deps) perOperation() graphql.OperationMiddleware {
	opts := d.Loaders
	opts.Observe = d.Metrics.Batch
	shared := opts
	shared.NoCache, shared.Detached = true, true
	live := loaders.New(d.DB, shared)
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx)
		switch {
		case op.Operation != nil && op.Operation.Operation == ast.Subscription:
			ctx = loaders.With(ctx, live)
		case op.Operation != nil && op.Operation.Operation == ast.Query:
			// Every root field of Query reads its levels ahead: the rest
			// resolves on this goroutine (loaders.Inline).
			q := opts
			q.Inline = true
			ctx = loaders.With(ctx, loaders.New(d.DB, q))
		default:
			ctx = loaders.With(ctx, loaders.New(d.DB, opts))
		}
		ctx, _ = database.WithCounter(ctx)
		return next(ctx)
	}
}

// ready answers 200 when the database answers and no migration is pending.
func (d Deps) ready(w http.ResponseWriter, r *http.Request) {
	if d.Draining != nil && d.Draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	pending, err := migrate.PendingCount(ctx, d.DB.DB, d.Migrations)
	switch {
	case err != nil:
		d.Log.Warn("readiness: database unreachable", "err", err)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
	case pending > 0:
		http.Error(w, "migrations pending", http.StatusServiceUnavailable)
	default:
		w.Write([]byte("ready\n"))
	}
}
