package observe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/uptrace/bun"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/internal/apperr"
)

// testSDL is a small schema shaped like the server's: root fields, relation
// fields with resolvers, plain fields without, and a subscription.
const testSDL = `
type Query {
  ticket(id: ID!): Ticket
  tickets: [Ticket!]!
  version: String!
}
type Mutation {
  createTicket(name: String!, email: String!): Ticket!
}
type Subscription {
  ticketUpdated(id: ID!): Ticket!
}
type Ticket {
  id: ID!
  solver: Solver
}
type Solver {
  name: String!
}
`

type ticket struct{ ID string }
type solver struct{ Name string }

// testSchema is a graphql.ExecutableSchema written by hand with gqlgen's own
// field resolution (graphql.ResolveField, the code generated schemas call), so
// the extensions see what they see in the server: field contexts with
// IsResolver, resolver middleware, errors through the error presenter.
type testSchema struct {
	schema *ast.Schema
	// db, when set, gets one statement per resolver call that reads (tickets, solver).
	db *bun.DB

	mu         sync.Mutex
	subscribed chan struct{}                  // told when a subscription starts
	events     map[string]chan *ticket        // live subscriptions by ticket id
	resolvers  map[string]map[string]resolver // type -> field -> resolver
}

type resolver struct {
	isResolver bool
	resolve    func(ctx context.Context, parent any, args map[string]any) (any, error)
}

func newTestSchema(db *bun.DB) *testSchema {
	s := &testSchema{
		schema:     gqlparser.MustLoadSchema(&ast.Source{Input: testSDL}),
		db:         db,
		subscribed: make(chan struct{}, 10),
		events:     map[string]chan *ticket{},
	}
	s.resolvers = map[string]map[string]resolver{
		"Query": {
			"ticket": {true, func(ctx context.Context, _ any, args map[string]any) (any, error) {
				switch id := args["id"].(string); id {
				case "missing":
					return nil, apperr.NotFoundf("ticket")
				case "boom":
					return nil, errors.New("pq: connection to 10.0.0.7 refused")
				default:
					return &ticket{ID: id}, nil
				}
			}},
			"tickets": {true, func(ctx context.Context, _ any, _ map[string]any) (any, error) {
				if err := s.statement(ctx); err != nil {
					return nil, err
				}
				return []*ticket{{ID: "t1"}, {ID: "t2"}, {ID: "t3"}}, nil
			}},
			"version": {false, func(context.Context, any, map[string]any) (any, error) { return "1.0", nil }},
		},
		"Mutation": {
			"createTicket": {true, func(ctx context.Context, _ any, args map[string]any) (any, error) {
				if args["email"] == "" {
					return nil, apperr.Invalid("email", "email is required")
				}
				return &ticket{ID: "new"}, nil
			}},
		},
		"Subscription": {
			"ticketUpdated": {true, func(ctx context.Context, _ any, args map[string]any) (any, error) {
				id := args["id"].(string)
				if id == "forbidden" {
					return nil, apperr.New(apperr.Forbidden, "not your ticket")
				}
				ch := make(chan *ticket, 1)
				s.mu.Lock()
				s.events[id] = ch
				s.mu.Unlock()
				out := make(chan *ticket)
				go func() {
					defer close(out)
					for {
						select {
						case <-ctx.Done():
							return
						case t := <-ch:
							select {
							case out <- t:
							case <-ctx.Done():
								return
							}
						}
					}
				}()
				s.subscribed <- struct{}{}
				return (<-chan *ticket)(out), nil
			}},
		},
		"Ticket": {
			"id": {false, func(_ context.Context, p any, _ map[string]any) (any, error) { return p.(*ticket).ID, nil }},
			"solver": {true, func(ctx context.Context, p any, _ map[string]any) (any, error) {
				if err := s.statement(ctx); err != nil {
					return nil, err
				}
				return &solver{Name: "solver of " + p.(*ticket).ID}, nil
			}},
		},
		"Solver": {
			"name": {false, func(_ context.Context, p any, _ map[string]any) (any, error) { return p.(*solver).Name, nil }},
		},
	}
	return s
}

// publish sends an event to the subscription of ticket id.
func (s *testSchema) publish(id string) {
	s.mu.Lock()
	ch := s.events[id]
	s.mu.Unlock()
	ch <- &ticket{ID: id}
}

func (s *testSchema) statement(ctx context.Context) error {
	if s.db == nil {
		return nil
	}
	var one int
	return s.db.NewSelect().ColumnExpr("1").Scan(ctx, &one)
}

func (s *testSchema) executable() graphql.ExecutableSchema {
	return &graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return s.schema },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) {
			return 0, false
		},
		ExecFunc: s.exec,
	}
}

// exec does what generated code does: queries and mutations resolve in the
// response handler; a subscription resolves its root field at once and then
// answers one response per event.
func (s *testSchema) exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	switch oc.Operation.Operation {
	case ast.Subscription:
		fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"})
		f := fields[0]
		def := s.resolvers["Subscription"][f.Name]
		next := graphql.ResolveFieldStream(ctx, oc, f,
			s.fieldContext("Subscription", def),
			func(ctx context.Context) (any, error) {
				return def.resolve(ctx, nil, graphql.GetFieldContext(ctx).Args)
			},
			nil,
			func(ctx context.Context, sel ast.SelectionSet, v *ticket) graphql.Marshaler {
				return s.object(ctx, oc, "Ticket", sel, v)
			},
			true, true)
		return func(ctx context.Context) *graphql.Response {
			data := next(ctx)
			if data == nil {
				return nil
			}
			var buf bytes.Buffer
			data.MarshalGQL(&buf)
			return &graphql.Response{Data: buf.Bytes()}
		}
	default:
		root := "Query"
		if oc.Operation.Operation == ast.Mutation {
			root = "Mutation"
		}
		first := true
		return func(ctx context.Context) *graphql.Response {
			if !first {
				return nil
			}
			first = false
			var buf bytes.Buffer
			s.object(ctx, oc, root, oc.Operation.SelectionSet, nil).MarshalGQL(&buf)
			return &graphql.Response{Data: buf.Bytes()}
		}
	}
}

func (s *testSchema) fieldContext(object string, def resolver) func(context.Context, graphql.CollectedField) (*graphql.FieldContext, error) {
	return func(ctx context.Context, f graphql.CollectedField) (*graphql.FieldContext, error) {
		return &graphql.FieldContext{
			Object: object, Field: f, IsMethod: def.isResolver, IsResolver: def.isResolver,
			Args: f.ArgumentMap(graphql.GetOperationContext(ctx).Variables),
		}, nil
	}
}

func (s *testSchema) object(ctx context.Context, oc *graphql.OperationContext, typ string, sel ast.SelectionSet, parent any) graphql.Marshaler {
	fields := graphql.CollectFields(oc, sel, []string{typ})
	out := graphql.NewFieldSet(fields)
	root := parent == nil
	for i, f := range fields {
		if f.Name == "__typename" {
			out.Values[i] = graphql.MarshalString(typ)
			continue
		}
		def, ok := s.resolvers[typ][f.Name]
		if !ok {
			panic(fmt.Sprintf("no resolver for %s.%s", typ, f.Name))
		}
		ftype := f.Definition.Type
		resolve := func(ctx context.Context) graphql.Marshaler {
			return graphql.ResolveField(ctx, oc, f,
				s.fieldContext(typ, def),
				func(ctx context.Context) (any, error) {
					return def.resolve(ctx, parent, graphql.GetFieldContext(ctx).Args)
				},
				nil,
				func(ctx context.Context, sel ast.SelectionSet, v any) graphql.Marshaler {
					return s.value(ctx, oc, ftype, sel, v)
				},
				true, ftype.NonNull)
		}
		if root {
			rctx := graphql.WithRootFieldContext(ctx, &graphql.RootFieldContext{Object: f.Name, Field: f})
			out.Values[i] = oc.RootResolverMiddleware(rctx, resolve)
		} else {
			out.Values[i] = resolve(ctx)
		}
	}
	out.Dispatch(ctx)
	return out
}

func (s *testSchema) value(ctx context.Context, oc *graphql.OperationContext, typ *ast.Type, sel ast.SelectionSet, v any) graphql.Marshaler {
	switch v := v.(type) {
	case nil:
		return graphql.Null
	case string:
		return graphql.MarshalString(v)
	case []*ticket:
		arr := make(graphql.Array, len(v))
		for i, t := range v {
			idx := i
			ictx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &idx, Result: t})
			arr[i] = s.object(ictx, oc, typ.Elem.Name(), sel, t)
		}
		return arr
	case *ticket:
		return s.object(ctx, oc, "Ticket", sel, v)
	case *solver:
		return s.object(ctx, oc, "Solver", sel, v)
	}
	panic(fmt.Sprintf("cannot marshal %T", v))
}
