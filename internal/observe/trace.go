package observe

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/savvysolve/api/internal/database"
)

// scope names the tracer of the spans this package starts.
const scope = "github.com/savvysolve/api/internal/observe"

// Tracing sets the global TracerProvider to one exporting spans over OTLP/HTTP
// (protobuf) in batches, and the global propagator to W3C trace context and
// baggage, when an OTLP endpoint is configured: OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (e.g. http://collector:4318). Otherwise,
// or with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, it changes
// nothing: enabled is false, the global provider stays OpenTelemetry's no-op,
// and shutdown does nothing.
//
// The exporter and SDK read the other standard variables themselves
// (OTEL_EXPORTER_OTLP_HEADERS, ..._TIMEOUT, OTEL_TRACES_SAMPLER[_ARG],
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES); serviceName is the default
// service.name. The gRPC protocol is refused with an error (port 4317 speaks
// it; collectors serve OTLP/HTTP on 4318) to keep gRPC out of the binary.
//
// Call shutdown when the server stops: it flushes the spans still buffered.
func Tracing(ctx context.Context, serviceName string) (shutdown func(context.Context) error, enabled bool, err error) {
	shutdown = func(context.Context) error { return nil }
	if !tracingConfigured() {
		return shutdown, false, nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(v); p != "" {
			if p != "http/protobuf" {
				return shutdown, false, fmt.Errorf("observe: %s=%s: only http/protobuf is supported (OTLP/HTTP, port 4318)", v, p)
			}
			break // the traces-specific variable wins
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return shutdown, false, fmt.Errorf("observe: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", serviceName)),
		resource.WithFromEnv(), // after: OTEL_SERVICE_NAME wins
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		return shutdown, false, fmt.Errorf("observe: trace resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, true, nil
}

func tracingConfigured() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Trace is a gqlgen extension that traces GraphQL operations: a server span
// per operation (named after it; an anonymous one after its type), continuing
// the trace of a traceparent header, with a child span per field that has a
// resolver (graphql.FieldContext.IsResolver: not plain struct fields, to keep
// the overhead low). Spans carry error codes, never error messages, variables
// or the query: those can hold customers' contact details.
//
// A subscription's span covers subscribing (its resolver); its events, which
// come while the client waits, are not traced.
//
// The zero Trace does nothing. Without a sampled span, as under OpenTelemetry's
// default no-op provider when Tracing found no endpoint, a field costs two
// context lookups and no allocation.
type Trace struct {
	tracer trace.Tracer
}

// NewTrace returns the extension, tracing with tp (nil: the global provider,
// which Tracing sets; spans follow it even when it is set later).
func NewTrace(tp trace.TracerProvider) Trace {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return Trace{tracer: tp.Tracer(scope)}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.FieldInterceptor
} = Trace{}

// ExtensionName names the extension for gqlgen.
func (Trace) ExtensionName() string { return "observe.Trace" }

// Validate accepts every schema.
func (Trace) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation starts the operation's span; it ends with the response
// (queries, mutations) or once subscribed (subscriptions).
func (t Trace) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if t.tracer == nil {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Headers != nil && !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(oc.Headers))
	}
	typ := typeUnknown
	name := ""
	if oc.Operation != nil {
		typ, name = string(oc.Operation.Operation), oc.Operation.Name
	}
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", typ)}
	if isName(name, maxLogNameLen) {
		attrs = append(attrs, attribute.String("graphql.operation.name", name))
	} else {
		name = typ
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
	if start := oc.Stats.OperationStart; !start.IsZero() {
		opts = append(opts, trace.WithTimestamp(start)) // parsing and validation included
	}
	ctx, span := t.tracer.Start(ctx, name, opts...)
	if !span.IsRecording() {
		return next(ctx)
	}
	h := next(ctx)
	if typ == typeSubscription {
		span.End()
		return h
	}
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if !ended {
			ended = true
			endOperation(ctx, span, resp)
		}
		return resp
	}
}

func endOperation(ctx context.Context, span trace.Span, resp *graphql.Response) {
	defer span.End()
	if c := database.CounterFrom(ctx); c != nil {
		span.SetAttributes(attribute.Int64("savvysolve.sql.statements", c.Count()))
	}
	if resp == nil {
		span.SetStatus(otelcodes.Error, outcomeCanceled)
		return
	}
	if codes := appendCodes(nil, resp.Errors); len(codes) > 0 {
		span.SetAttributes(attribute.StringSlice("graphql.error.codes", codes))
		span.SetStatus(otelcodes.Error, strings.Join(codes, ","))
	} else if len(resp.Errors) > 0 {
		span.SetStatus(otelcodes.Error, "")
	}
}

// InterceptField starts a span for a field with a resolver, within a sampled trace.
func (t Trace) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	if t.tracer == nil {
		return next(ctx)
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver || !trace.SpanContextFromContext(ctx).IsSampled() {
		return next(ctx)
	}
	// A subscription's events resolve long after its span ended: only its root field is traced.
	subscription := graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription
	if subscription && fc.Object != "Subscription" {
		return next(ctx)
	}
	parent := trace.SpanFromContext(ctx)
	ctx, span := t.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.name", fc.Field.Name),
		attribute.String("graphql.field.type", fc.Object),
		attribute.String("graphql.field.path", fc.Path().String()),
	))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		code := errorCode(err)
		span.SetAttributes(attribute.String("graphql.error.code", code))
		span.SetStatus(otelcodes.Error, code)
		if subscription {
			// Refused at subscribing: the operation's span never sees a response.
			parent.SetAttributes(attribute.StringSlice("graphql.error.codes", []string{code}))
			parent.SetStatus(otelcodes.Error, code)
		}
	}
	return res, err
}
