package observe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/savvysolve/api/internal/observe"
)

// newTracedServer is newServer with the Trace extension on an in-memory exporter.
func newTracedServer(t *testing.T) (*server, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tr := observe.NewTrace(tp)
	return newServer(t, config{trace: &tr}), exp
}

// spansNamed returns the ended spans called name.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func spanNames(exp *tracetest.InMemoryExporter) []string {
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	return names
}

func TestTraceQuery(t *testing.T) {
	t.Parallel()
	s, exp := newTracedServer(t)
	res := s.post(t, `query Tickets { tickets { id solver { name } } version }`, "", nil)
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	ops := spansNamed(exp, "Tickets")
	if len(ops) != 1 {
		t.Fatalf("operation spans: %v", spanNames(exp))
	}
	op := ops[0]
	if op.SpanKind != trace.SpanKindServer || op.Parent.IsValid() {
		t.Errorf("operation span: kind %v, parent %v; want a server root", op.SpanKind, op.Parent)
	}
	if v, _ := attr(op, "graphql.operation.type"); v.AsString() != "query" {
		t.Errorf("graphql.operation.type = %v", v)
	}
	if v, _ := attr(op, "graphql.operation.name"); v.AsString() != "Tickets" {
		t.Errorf("graphql.operation.name = %v", v)
	}
	if v, ok := attr(op, "savvysolve.sql.statements"); !ok || v.AsInt64() != 0 {
		t.Errorf("savvysolve.sql.statements = %v, %v", v, ok)
	}
	if op.Status.Code == codes.Error {
		t.Errorf("status %v", op.Status)
	}

	list := spansNamed(exp, "Query.tickets")
	if len(list) != 1 || list[0].Parent.SpanID() != op.SpanContext.SpanID() {
		t.Fatalf("Query.tickets spans %v, want one child of the operation", list)
	}
	if v, _ := attr(list[0], "graphql.field.path"); v.AsString() != "tickets" {
		t.Errorf("graphql.field.path = %v", v)
	}
	solvers := spansNamed(exp, "Ticket.solver")
	if len(solvers) != 3 {
		t.Fatalf("Ticket.solver spans: %d, want 3 (%v)", len(solvers), spanNames(exp))
	}
	var paths []string
	for _, sp := range solvers {
		if sp.Parent.SpanID() != list[0].SpanContext.SpanID() || sp.SpanContext.TraceID() != op.SpanContext.TraceID() {
			t.Errorf("Ticket.solver is not a child of Query.tickets: %v", sp.Parent)
		}
		v, _ := attr(sp, "graphql.field.path")
		paths = append(paths, v.AsString())
	}
	slices.Sort(paths)
	if want := []string{"tickets[0].solver", "tickets[1].solver", "tickets[2].solver"}; !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	// Fields without resolvers have no span.
	for _, name := range []string{"Query.version", "Ticket.id", "Solver.name"} {
		if len(spansNamed(exp, name)) > 0 {
			t.Errorf("a span for %s, which has no resolver", name)
		}
	}
	// The log line names the trace.
	e := s.logs.waitEntries(t, "graphql operation", 1, nil)[0]
	if e["trace_id"] != op.SpanContext.TraceID().String() {
		t.Errorf("trace_id %v, want %s", e["trace_id"], op.SpanContext.TraceID())
	}
}

func TestTraceErrors(t *testing.T) {
	t.Parallel()
	s, exp := newTracedServer(t)
	s.post(t, `query Missing { ticket(id: "missing") { id } }`, "", nil)
	s.post(t, `query Boom { ticket(id: "boom") { id } }`, "", nil)
	s.post(t, `mutation Open($email: String!) { createTicket(name: "Pat Doe", email: $email) { id } }`, "", map[string]any{"email": ""})
	for _, tt := range []struct{ op, field, code string }{
		{"Missing", "Query.ticket", "NOT_FOUND"},
		{"Boom", "Query.ticket", "INTERNAL_SERVER_ERROR"},
		{"Open", "Mutation.createTicket", "BAD_USER_INPUT"},
	} {
		ops := spansNamed(exp, tt.op)
		if len(ops) != 1 {
			t.Fatalf("%s: spans %v", tt.op, spanNames(exp))
		}
		op := ops[0]
		if v, _ := attr(op, "graphql.error.codes"); !slices.Equal(v.AsStringSlice(), []string{tt.code}) || op.Status.Code != codes.Error {
			t.Errorf("%s: codes %v, status %v", tt.op, v.AsStringSlice(), op.Status)
		}
		var field *tracetest.SpanStub
		for _, sp := range spansNamed(exp, tt.field) {
			if sp.SpanContext.TraceID() == op.SpanContext.TraceID() {
				field = &sp
			}
		}
		if field == nil {
			t.Fatalf("%s: no %s span", tt.op, tt.field)
		}
		if v, _ := attr(*field, "graphql.error.code"); v.AsString() != tt.code || field.Status.Code != codes.Error || field.Status.Description != tt.code {
			t.Errorf("%s: field span code %v, status %v", tt.op, v, field.Status)
		}
	}
	// Error messages and variables stay out of spans.
	for _, sp := range exp.GetSpans() {
		if len(sp.Events) > 0 {
			t.Errorf("%s has events %v", sp.Name, sp.Events)
		}
		for _, kv := range sp.Attributes {
			if v := kv.Value.Emit(); strings.Contains(v, "10.0.0.7") || strings.Contains(v, "Pat Doe") {
				t.Errorf("%s: %s = %s", sp.Name, kv.Key, v)
			}
		}
	}
}

// TestTraceParent: the operation continues the trace of a traceparent header.
func TestTraceParent(t *testing.T) {
	t.Parallel()
	setPropagator()
	s, exp := newTracedServer(t)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"query Hello { version }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	ops := spansNamed(exp, "Hello")
	if len(ops) != 1 {
		t.Fatalf("spans %v", spanNames(exp))
	}
	if got := ops[0].SpanContext.TraceID().String(); got != traceID {
		t.Errorf("trace id %s, want %s", got, traceID)
	}
	if got := ops[0].Parent.SpanID().String(); got != parentID || !ops[0].Parent.IsRemote() {
		t.Errorf("parent %s (remote %v), want remote %s", got, ops[0].Parent.IsRemote(), parentID)
	}
}

var propagatorOnce sync.Once

// setPropagator installs W3C trace context globally, as Tracing does.
func setPropagator() {
	propagatorOnce.Do(func() { otel.SetTextMapPropagator(propagation.TraceContext{}) })
}

// TestTraceSubscription: the span covers subscribing; events are not traced.
func TestTraceSubscription(t *testing.T) {
	t.Parallel()
	s, exp := newTracedServer(t)
	ws := s.dial(t)
	ws.subscribe("1", `subscription Watch { ticketUpdated(id: "t4") { id solver { name } } }`, nil)
	<-s.schema.subscribed
	s.schema.publish("t4")
	if m := ws.read(); m["type"] != "next" {
		t.Fatalf("want the event, got %v", m)
	}
	ops := spansNamed(exp, "Watch")
	if len(ops) != 1 || ops[0].Status.Code == codes.Error {
		t.Fatalf("operation spans %v (%v)", ops, spanNames(exp))
	}
	if v, _ := attr(ops[0], "graphql.operation.type"); v.AsString() != "subscription" {
		t.Errorf("graphql.operation.type = %v", v)
	}
	root := spansNamed(exp, "Subscription.ticketUpdated")
	if len(root) != 1 || root[0].Parent.SpanID() != ops[0].SpanContext.SpanID() {
		t.Errorf("Subscription.ticketUpdated spans %v", root)
	}
	if n := len(spansNamed(exp, "Ticket.solver")); n != 0 {
		t.Errorf("%d spans for an event's fields", n)
	}
	ws.send(map[string]any{"id": "1", "type": "complete"})

	ws.subscribe("2", `subscription Refused { ticketUpdated(id: "forbidden") { id } }`, nil)
	ws.waitComplete("2")
	refused := spansNamed(exp, "Refused")
	if len(refused) != 1 {
		t.Fatalf("spans %v", spanNames(exp))
	}
	if v, _ := attr(refused[0], "graphql.error.codes"); refused[0].Status.Code != codes.Error || !slices.Equal(v.AsStringSlice(), []string{"FORBIDDEN"}) {
		t.Errorf("refused subscription: status %v, codes %v", refused[0].Status, v.AsStringSlice())
	}
}

// TestTraceOff: without a sampled span (the no-op provider Tracing leaves in
// place without an endpoint) a field costs no allocation and no span. Not
// parallel: AllocsPerRun refuses to be.
func TestTraceOff(t *testing.T) {
	oc := &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Query}}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{
		Object: "Ticket", IsResolver: true,
		Field: graphql.CollectedField{Field: &ast.Field{Name: "solver", Alias: "solver"}},
	})
	next := func(context.Context) (any, error) { return nil, nil }
	for name, tr := range map[string]observe.Trace{
		"zero":   {},
		"noop":   observe.NewTrace(noop.NewTracerProvider()),
		"global": observe.NewTrace(nil),
	} {
		if n := testing.AllocsPerRun(100, func() { tr.InterceptField(ctx, next) }); n != 0 {
			t.Errorf("%s: %v allocations per field", name, n)
		}
	}

	// Through the server with the no-op provider: answers as usual.
	tr := observe.NewTrace(noop.NewTracerProvider())
	s := newServer(t, config{trace: &tr})
	if res := s.post(t, `query Tickets { tickets { id solver { name } } }`, "", nil); len(res.Errors) > 0 || !strings.Contains(string(res.Data), "solver of t3") {
		t.Errorf("response %s %v", res.Data, res.Errors)
	}
}

// TestTracing sets the global provider from the environment. Not parallel:
// it sets environment variables and the global provider.
func TestTracing(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	t.Run("Off", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
		shutdown, enabled, err := observe.Tracing(ctx, "savvysolve-api")
		if err != nil || enabled || shutdown == nil || shutdown(ctx) != nil {
			t.Errorf("Tracing without an endpoint: enabled %v, err %v", enabled, err)
		}
	})
	t.Run("Disabled", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
		t.Setenv("OTEL_SDK_DISABLED", "true")
		if _, enabled, err := observe.Tracing(ctx, "savvysolve-api"); err != nil || enabled {
			t.Errorf("Tracing with OTEL_SDK_DISABLED: enabled %v, err %v", enabled, err)
		}
	})
	t.Run("GRPCRefused", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		if _, enabled, err := observe.Tracing(ctx, "savvysolve-api"); err == nil || enabled {
			t.Errorf("Tracing over gRPC: enabled %v, err %v; want an error", enabled, err)
		}
	})
	t.Run("OTLP", func(t *testing.T) {
		type request struct {
			path, contentType string
			body              []byte
		}
		got := make(chan request, 10)
		collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- request{r.URL.Path, r.Header.Get("Content-Type"), b}
		}))
		defer collector.Close()
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
		t.Setenv("OTEL_SERVICE_NAME", "")

		shutdown, enabled, err := observe.Tracing(ctx, "savvysolve-api")
		if err != nil || !enabled {
			t.Fatalf("Tracing: enabled %v, err %v", enabled, err)
		}
		// The extension built on the global provider traces through it.
		s := newServer(t, config{trace: ptr(observe.NewTrace(nil))})
		s.post(t, `query Exported { tickets { id } }`, "", nil)
		if err := shutdown(ctx); err != nil { // flushes the batch
			t.Fatal(err)
		}
		select {
		case r := <-got:
			if r.path != "/v1/traces" || r.contentType != "application/x-protobuf" {
				t.Errorf("export to %s as %s", r.path, r.contentType)
			}
			for _, want := range []string{"Exported", "Query.tickets", "savvysolve-api"} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("the export lacks %q", want)
				}
			}
		default:
			t.Fatal("nothing exported")
		}
	})
}

func ptr[T any](v T) *T { return &v }
