package observe

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/database"
)

// Operation types and outcomes, as logged and as label values.
const (
	typeSubscription = "subscription"
	typeUnknown      = "unknown" // refused before its operation was found (parse error, unknown name)

	outcomeOK       = "ok"
	outcomeError    = "error"
	outcomeCanceled = "canceled" // the client left before the operation ran
)

// maxCodes bounds the distinct error codes one log line lists.
const maxCodes = 10

// Operations is a gqlgen extension that logs every GraphQL operation (one line
// at its end) and records its metrics: name, type, outcome, duration, the
// error codes of its response (extensions.code) and the SQL statements it ran.
//
// It never logs the query text, variables, headers or error messages: they can
// carry tokens and customers' contact details. Errors are known by their codes;
// the error presenter logs internal errors in full.
//
// A query or mutation is reported when its response is ready; a subscription
// when it ends, with its lifetime as duration. Requests refused before they
// ran (parse and validation errors, an unknown persisted query) are reported
// too. Register it with handler.Server.Use; it may come before or after the
// AroundOperations that attaches the statement counter.
type Operations struct {
	Log     *slog.Logger // nil: no log lines
	Metrics *Metrics     // nil: no metrics
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = Operations{}

// ExtensionName names the extension for gqlgen.
func (Operations) ExtensionName() string { return "observe.Operations" }

// Validate accepts every schema.
func (Operations) Validate(graphql.ExecutableSchema) error { return nil }

// opKey marks a context whose operation InterceptOperation reports.
type opKey struct{}

// InterceptOperation reports the operation once its response handler has
// answered (queries, mutations) or ended (subscriptions). It wraps the
// handler rather than intercepting responses because a subscription refused
// by its resolver answers without passing through the response interceptors.
func (o Operations) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := newOperation(ctx)
	h := next(context.WithValue(ctx, opKey{}, op))
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if op.done {
			return resp
		}
		if resp == nil {
			outcome := outcomeCanceled
			if op.typ == typeSubscription {
				outcome = op.outcome()
			}
			o.report(ctx, op, outcome)
			return nil
		}
		op.add(resp)
		if op.typ != typeSubscription {
			o.report(ctx, op, op.outcome())
		}
		return resp
	}
}

// InterceptResponse reports the requests refused before their operation was
// dispatched; the responses of dispatched operations are InterceptOperation's.
func (o Operations) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if ctx.Value(opKey{}) != nil {
		return next(ctx)
	}
	resp := next(ctx)
	op := newOperation(ctx)
	if resp != nil {
		op.add(resp)
	}
	o.report(ctx, op, outcomeError)
	return resp
}

// operation is what is known of one operation while it runs. Transports call
// an operation's response handler from one goroutine at a time.
type operation struct {
	name      string
	known     bool // found in its document
	typ       string
	start     time.Time
	codes     []string
	errors    int
	responses int
	done      bool
}

func newOperation(ctx context.Context) *operation {
	op := &operation{typ: typeUnknown, start: time.Now()}
	if !graphql.HasOperationContext(ctx) {
		return op
	}
	oc := graphql.GetOperationContext(ctx)
	op.name = oc.OperationName
	if oc.Operation != nil {
		op.name, op.known, op.typ = oc.Operation.Name, true, string(oc.Operation.Operation)
	}
	if t := oc.Stats.OperationStart; !t.IsZero() {
		op.start = t
	}
	return op
}

func (op *operation) add(resp *graphql.Response) {
	op.responses++
	op.errors += len(resp.Errors)
	op.codes = appendCodes(op.codes, resp.Errors)
}

func (op *operation) outcome() string {
	if op.errors > 0 {
		return outcomeError
	}
	return outcomeOK
}

func (o Operations) report(ctx context.Context, op *operation, outcome string) {
	op.done = true
	elapsed := time.Since(op.start)
	var statements int64
	counter := database.CounterFrom(ctx)
	if counter != nil {
		statements = counter.Count()
	}
	o.Metrics.operation(op.name, op.known, op.typ, outcome, elapsed.Seconds(), statements, counter != nil)
	if o.Log == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("operation", logName(op.name)),
		slog.String("type", op.typ),
		slog.String("outcome", outcome),
		slog.Float64("duration_ms", milliseconds(elapsed)),
	)
	if len(op.codes) > 0 {
		attrs = append(attrs, slog.Any("codes", op.codes))
	}
	if counter != nil {
		attrs = append(attrs, slog.Int64("sql_statements", statements))
	}
	if op.typ == typeSubscription {
		attrs = append(attrs, slog.Int("responses", op.responses))
	}
	if id := RequestID(ctx); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	level := slog.LevelInfo
	if slices.Contains(op.codes, string(apperr.Internal)) {
		level = slog.LevelWarn
	}
	o.Log.LogAttrs(ctx, level, "graphql operation", attrs...)
}

// logName is the operation name as logged: a request that failed to parse
// may name anything, so only GraphQL names are repeated.
func logName(name string) string {
	switch {
	case name == "":
		return labelAnonymous
	case isName(name, maxLogNameLen):
		return name
	default:
		return "invalid"
	}
}

// maxLogNameLen is the longest operation name logged.
const maxLogNameLen = 128

// appendCodes adds the distinct extensions.code values of errs to codes.
func appendCodes(codes []string, errs gqlerror.List) []string {
	for _, e := range errs {
		c, _ := e.Extensions["code"].(string)
		if c == "" || len(codes) >= maxCodes || slices.Contains(codes, c) {
			continue
		}
		codes = append(codes, c)
	}
	return codes
}

// errorCode is the code a resolver's error will be answered with.
func errorCode(err error) string {
	e, _ := apperr.Classify(err)
	return string(e.Code)
}

func milliseconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
