package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/netip"
	"time"

	gqlcomplexity "github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/page"
	"github.com/savvysolve/api/models"
)

// Limits bound what one request may ask of the server. A zero field takes
// its default (the Default* constants), except RateAnon and RateUser, where
// zero turns rate limiting off.
type Limits struct {
	// MaxComplexity bounds an operation's cost: every field costs 1 plus its
	// children, and a list multiplies its children by its page size (`first`,
	// the schema's default when absent) or by unpagedListSize.
	MaxComplexity int
	// MaxDepth bounds how deeply fields nest (a root field is at depth 1).
	MaxDepth int
	// MaxFields bounds the fields of an operation, aliases included, counted
	// after fragment expansion (a fragment spread twice counts twice).
	MaxFields int
	// MaxBodyBytes bounds a POST body; a longer one answers 413.
	MaxBodyBytes int64
	// RequestTimeout is the deadline of a plain HTTP request (websockets have none).
	RequestTimeout time.Duration
	// RateAnon is how many mutations a client IP may send per minute without a
	// user token (createTicket by guests and anonymous clients); 0: unlimited.
	RateAnon int
	// RateUser is how many mutations a signed-in user (or a ticket token) may
	// send per minute; 0: unlimited.
	RateUser int
	// TrustedProxies are the peers whose X-Forwarded-For header names the client.
	TrustedProxies []netip.Prefix
	// MaxInFlight bounds the queries and mutations that run at once, over
	// every transport; the others wait their turn, first come first served,
	// until their deadline. AutoInFlight (0): AdaptiveInFlight's floor with a
	// database near, a limit that adapts to latency within its bounds with
	// one far; AdaptiveOnly: adaptive wherever the database is (see turns).
	MaxInFlight int
}

// The defaults of Limits (and of the configuration).
const (
	DefaultMaxComplexity  = 100000
	DefaultMaxDepth       = 12
	DefaultMaxFields      = 500
	DefaultMaxBodyBytes   = 1 << 20
	DefaultRequestTimeout = 15 * time.Second
)

// unpagedListSize is what a list without `first` (a ticket's sessions and SMS
// logs, a session's calls and screen shares) counts as in the complexity.
const unpagedListSize = 10

// tokensPerField bounds the tokens a query document may have: documents past
// MaxFields*tokensPerField are refused by the parser before validation.
const tokensPerField = 20

func (l Limits) withDefaults() Limits {
	if l.MaxComplexity <= 0 {
		l.MaxComplexity = DefaultMaxComplexity
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultMaxFields
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = DefaultRequestTimeout
	}
	return l
}

func init() {
	// Refusals for size answer like validation errors on websockets (an
	// "error" message); over HTTP, httpTransport answers them 422 (400 with
	// application/graphql-response+json).
	errcode.RegisterErrorType(string(apperr.TooComplex), errcode.KindProtocol)
}

// complexity gives every list field its multiplier. The page sizes repeat
// the schema's defaults for `first` (used when a client sends first: null).
func complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	c.Query.Tickets = func(child int, _ *model.TicketFilter, first *int, _ *string) int { return paged(child, first, 20) }
	c.Query.TicketQueue = func(child int, first *int, _ *string) int { return paged(child, first, 20) }
	c.Query.Solvers = func(child int, _ *models.SolverStatus, first *int, _ *string) int { return paged(child, first, 20) }
	c.Query.Sessions = func(child int, _ *model.SessionFilter, first *int, _ *string) int { return paged(child, first, 20) }
	c.Query.Users = func(child int, _ *models.UserRole, _ *string, first *int, _ *string) int {
		return paged(child, first, 20)
	}
	c.Session.Messages = func(child int, first *int, _ *string, last *int, _ *string) int {
		if last != nil { // last wins over first
			return paged(child, last, 50)
		}
		return paged(child, first, 50)
	}
	c.Solver.Ratings = func(child int, first *int, _ *string) int { return paged(child, first, 10) }
	c.Solver.Sessions = func(child int, first *int, _ *string) int { return paged(child, first, 20) }
	c.Ticket.Sessions = unpaged
	c.Ticket.SmsLogs = unpaged
	c.Ticket.CallLogs = unpaged
	c.Session.CallLogs = unpaged
	c.Session.ScreenShares = unpaged
	return c
}

// paged is the cost of a page of first items (def when null); an empty page
// still costs its children once, so first: 0 cannot hide a subtree.
func paged(child int, first *int, def int) int {
	n := def
	if first != nil {
		n = *first
	}
	return 1 + times(min(max(n, 1), page.Max), child)
}

func unpaged(child int) int { return 1 + times(unpagedListSize, child) }

// times multiplies n >= 1 by child, saturating (as gqlgen's sums do) well
// below MaxInt so that adding to the result cannot wrap around.
func times(n, child int) int {
	const ceiling = math.MaxInt / 2
	if child > 0 && n > ceiling/child {
		return ceiling
	}
	return n * child
}

// guard refuses, before any resolver runs (and before the complexity is
// computed), operations that a client may not send: subscriptions over plain
// HTTP, mutations over GET, introspection in production, too deep or too wide selections, and pages
// outside 0..page.Max.
type guard struct {
	maxDepth, maxFields int
	production          bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = guard{}

func (guard) ExtensionName() string                          { return "Guard" }
func (guard) Validate(schema graphql.ExecutableSchema) error { return nil }

func (g guard) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	method := methodFrom(ctx) // "" on websockets and SSE streams
	if method != "" && op.Operation.Operation == ast.Subscription {
		// gqlgen would hold the request open until the first event or the deadline.
		setReply(ctx, http.StatusBadRequest)
		return refusal(apperr.BadUserInput, "", op.Operation.Position,
			"subscriptions run over a websocket on /graphql (graphql-transport-ws or graphql-ws), or as a POST with Accept: text/event-stream (graphql-sse)")
	}
	if method == http.MethodGet && op.Operation.Operation != ast.Query {
		setReply(ctx, http.StatusMethodNotAllowed, "Allow", "POST")
		return refusal(apperr.BadUserInput, "", op.Operation.Position,
			"GET runs queries only: send a %s as a POST", op.Operation.Operation)
	}
	w := walker{guard: g, vars: op.Variables}
	w.walk(op.Operation.SelectionSet, 1, false)
	return w.err
}

// walker visits an operation's fields with fragments expanded. It stops at
// the first refusal, so its work is bounded by maxFields whatever the
// fragments multiply.
type walker struct {
	guard
	vars   map[string]any
	fields int
	err    *gqlerror.Error
}

func (w *walker) walk(set ast.SelectionSet, depth int, introspection bool) {
	for _, sel := range set {
		if w.err != nil {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			w.field(s, depth, introspection)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				w.walk(s.Definition.SelectionSet, depth, introspection)
			}
		case *ast.InlineFragment:
			w.walk(s.SelectionSet, depth, introspection)
		}
	}
}

func (w *walker) field(f *ast.Field, depth int, introspection bool) {
	if w.fields++; w.fields > w.maxFields {
		w.err = refusal(apperr.TooComplex, "", f.Position,
			"the operation selects more than %d fields (aliases and fragment spreads count each time)", w.maxFields)
		return
	}
	if f.Name == "__schema" || f.Name == "__type" {
		if w.production {
			w.err = refusal(errcode.ValidationFailed, "", f.Position, "introspection is disabled")
			return
		}
		// Introspection nests deeply by design; gqlparser's
		// MaxIntrospectionDepth rule bounds it instead.
		introspection = true
	}
	if !introspection && depth > w.maxDepth {
		w.err = refusal(apperr.TooComplex, "", f.Position,
			"the operation nests fields %d levels deep; the limit is %d", depth, w.maxDepth)
		return
	}
	for _, size := range []string{"first", "last"} {
		if f.Definition != nil && f.Definition.Arguments.ForName(size) != nil && !w.pageInRange(f, size) {
			w.err = refusal(apperr.BadUserInput, size, f.Position, "%s must be between 0 and %d", size, page.Max)
			return
		}
	}
	w.walk(f.SelectionSet, depth+1, introspection)
}

// pageInRange reports whether f's page-size argument `size` (first or last:
// a literal, a variable or the default) is a page size the resolvers accept.
func (w *walker) pageInRange(f *ast.Field, size string) bool {
	a := f.Arguments.ForName(size)
	if a == nil {
		return true // the schema's default
	}
	v, err := a.Value.Value(w.vars)
	if err != nil {
		return false
	}
	var n int64
	switch t := v.(type) {
	case nil:
		return true // null: the resolver's default
	case int:
		n = int64(t)
	case int32:
		n = int64(t)
	case int64:
		n = t
	case float64:
		if t != math.Trunc(t) || math.Abs(t) > page.Max+1 {
			return false
		}
		n = int64(t)
	case json.Number:
		if n, err = t.Int64(); err != nil {
			return false
		}
	default:
		return false
	}
	return n >= 0 && n <= page.Max
}

// refusal is an error of the operation as a whole, with its code (and the
// input field at fault, for BAD_USER_INPUT).
func refusal[C ~string](code C, field string, pos *ast.Position, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	if pos != nil {
		err.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	err.Extensions = map[string]any{"code": string(code)}
	if field != "" {
		err.Extensions["field"] = field
	}
	return err
}

// complexityLimit refuses an operation that costs more than max, as gqlgen's
// extension.FixedComplexityLimit does (the same message and code), without
// keeping the figures in the operation's Stats: a subscription would hold
// them, in a map, for its whole life, and nothing here reads them.
type complexityLimit struct {
	max int
	es  graphql.ExecutableSchema
}

func (*complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

func (c *complexityLimit) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	n := gqlcomplexity.Calculate(ctx, c.es, op.Doc.Operations.ForName(op.OperationName), op.Variables)
	if n <= c.max {
		return nil
	}
	err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", n, c.max)
	errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
	return err
}
