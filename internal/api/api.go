// Package api assembles the HTTP surface of the server: GraphQL over HTTP and
// websockets on /graphql, the Playground on /, and the health probes.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/uptrace/bun"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/migrate"
	"github.com/savvysolve/api/internal/playground"
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
	// LoaderWait is how long loaders collect keys (0: the default).
	LoaderWait time.Duration
	// AllowedOrigins may open websockets (besides same-origin pages) and make CORS requests.
	AllowedOrigins []string
	// Sockets tracks open websockets (may be nil).
	Sockets *wsconn.Registry
}

// New returns the server's HTTP handler.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	gql := d.graphQL()
	mux.Handle("/graphql", wsconn.Middleware(d.Auth.Middleware(d.Log)(gql)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", d.ready)
	mux.Handle("GET /playground/", http.StripPrefix("/playground/", playground.Assets()))
	opts := playground.Options{}
	if !d.Production {
		opts.HeaderSets = d.PlaygroundHeaders
	}
	mux.Handle("GET /{$}", playground.Handler("SavvySolve API", "/graphql", opts))
	return mux
}

func (d Deps) graphQL() http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{
		Desk: desk.New(d.DB),
		Live: d.Live,
	}}))
	srv.AddTransport(transport.Websocket{
		Implementation:        wsconn.Implementation{Allowed: d.originAllowed, PingInterval: 20 * time.Second, Open: d.Sockets},
		InitFunc:              d.initSocket,
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: 15 * time.Second,
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if !d.Production {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.SetErrorPresenter(presentError(d.Log))
	srv.SetRecoverFunc(recoverPanic(d.Log))
	srv.AroundOperations(d.perOperation)
	return srv
}

// perOperation gives every operation its own loaders and statement counter.
// Subscriptions get loaders without a cache: each event must read fresh rows.
func (d Deps) perOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	sub := op.Operation != nil && op.Operation.Operation == ast.Subscription
	ctx = loaders.With(ctx, loaders.New(d.DB, loaders.Options{Wait: d.LoaderWait, NoCache: sub}))
	ctx, _ = database.WithCounter(ctx)
	return next(ctx)
}

// ready answers 200 when the database answers and no migration is pending.
func (d Deps) ready(w http.ResponseWriter, r *http.Request) {
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
