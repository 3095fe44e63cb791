package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/observe"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/migrations"
	"github.com/savvysolve/api/models"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const secret = "test-secret"

// env is a server on its own seeded database.
type env struct {
	t     testing.TB
	db    *bun.DB
	url   string // the database's URL
	h     http.Handler
	hub   *live.Hub
	stmts *atomic.Int64
}

// countHook counts every SQL statement run on the test's database.
type countHook struct{ n *atomic.Int64 }

func (h countHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (h countHook) AfterQuery(context.Context, *bun.QueryEvent)                        { h.n.Add(1) }

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOpts(t, opts{})
}

// opts configure a test server; zero values are the tests' defaults.
type opts struct {
	limits      api.Limits
	production  bool
	origins     []string      // nil: the test origin
	stmtTimeout time.Duration // 0: none
	wait        time.Duration // the loaders' window; 0: 2 ms
	auth        auth.Options  // the user tokens accepted besides HS256 with secret
	log         *slog.Logger  // nil: discarded
	metrics     *observe.Metrics
}

const testOrigin = "https://app.savvysolve.test"

// newEnvOpts is newEnv with options.
func newEnvOpts(t testing.TB, o opts) *env {
	t.Helper()
	e := &env{t: t, url: dbtest.NewURL(t, false), stmts: new(atomic.Int64)}
	e.db, e.h, e.hub = buildServer(t, e.url, o)
	if err := seed.Run(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
	database.AddQueryHook(e.db, countHook{e.stmts})
	return e
}

// buildServer builds a server (a replica) on the database at url.
func buildServer(tb testing.TB, url string, o opts) (*bun.DB, http.Handler, *live.Hub) {
	tb.Helper()
	db, err := database.Open(context.Background(), url, database.Options{MaxConns: 20, StatementTimeout: o.stmtTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	o.auth.Secret = secret
	authn, err := auth.New(context.Background(), db, desk.New(db), o.auth)
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := migrations.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	if o.origins == nil {
		o.origins = []string{testOrigin}
	}
	if o.wait == 0 {
		o.wait = 2 * time.Millisecond
	}
	if o.log == nil {
		o.log = testLog()
	}
	hub := live.New(db, o.log)
	hub.Watch(authn.Cache())
	h := api.New(api.Deps{
		DB: db, Auth: authn, Live: hub, Log: o.log, Migrations: dir, Loaders: loaders.Options{Wait: o.wait},
		AllowedOrigins: o.origins, Production: o.production, Limits: o.limits, Metrics: o.metrics,
	})
	return db, h, hub
}

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// token returns a user token for a seeded (or created) clerk id.
func token(t testing.TB, clerkID string) string {
	t.Helper()
	tok, err := auth.SignHS256([]byte(secret), clerkID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type result struct {
	Status int
	Data   map[string]any
	Errors []gqlError
}

// code returns the first error's code, or "".
func (r result) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts a GraphQL request as the holder of tok ("" for anonymous).
func (e *env) do(tok, query string, vars map[string]any) result {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	var r result
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		e.t.Fatalf("response is not JSON (%v): %s", err, w.Body.String())
	}
	r.Status = w.Code
	return r
}

// must runs a request that must succeed and returns its data.
func (e *env) must(tok, query string, vars map[string]any) map[string]any {
	e.t.Helper()
	r := e.do(tok, query, vars)
	if len(r.Errors) > 0 {
		e.t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	return r.Data
}

// wantCode runs a request that must fail with code.
func (e *env) wantCode(code, tok, query string, vars map[string]any) result {
	e.t.Helper()
	r := e.do(tok, query, vars)
	if r.code() != code {
		e.t.Fatalf("want %s, got %+v (data %v)", code, r.Errors, r.Data)
	}
	return r
}

// get walks a decoded JSON value along keys (strings for objects, ints for arrays).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func str(v any, path ...any) string { return fmt.Sprint(get(v, path...)) }

// newUser inserts a user (and a solver profile for solvers) and returns its token.
func (e *env) newUser(clerkID string, role models.UserRole, status models.SolverStatus) (tok, userID, solverID string) {
	e.t.Helper()
	ctx := context.Background()
	u := &models.User{ClerkID: clerkID, Email: clerkID + "@example.test", Role: role}
	if _, err := e.db.NewInsert().Model(u).Exec(ctx); err != nil {
		e.t.Fatal(err)
	}
	if role == models.RoleSolver {
		s := &models.Solver{UserID: u.ID, Status: status, RevenueSharePercent: 70}
		if _, err := e.db.NewInsert().Model(s).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
		solverID = s.ID
	}
	return token(e.t, clerkID), u.ID, solverID
}

const createTicket = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { accessToken ticket { id status urgency customerInfo { name email phone } } } }`

// newTicket creates a ticket through the API and returns its id and guest token.
func (e *env) newTicket(tok string) (id, guest string) {
	e.t.Helper()
	d := e.must(tok, createTicket, map[string]any{"in": map[string]any{
		"customerInfo": map[string]any{"name": "Pat", "email": "pat@example.com"},
		"description":  "The tablet screen flickers", "deviceType": "TABLET", "urgency": "HIGH",
	}})
	return str(d, "createTicket", "ticket", "id"), str(d, "createTicket", "accessToken")
}
