package graph

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/loaders"
)

// inlineCtx is the context of a query's field, resolved inline or not.
func inlineCtx(inline bool) context.Context {
	ctx := graphql.WithOperationContext(context.Background(), &graphql.OperationContext{
		Operation:          &ast.OperationDefinition{Operation: ast.Query},
		RecoverFunc:        func(ctx context.Context, err any) error { return graphql.DefaultRecover(ctx, err) },
		ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) },
	})
	ctx = graphql.WithResponseContext(ctx, graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "list"}}})
	return loaders.With(ctx, loaders.New(nil, loaders.Options{Inline: inline}))
}

// TestMarshalSlice: inline, the elements are marshalled in order on the
// caller's goroutine, each with its own index in its path, and a panic in
// one leaves null there and an error on its path, as gqlgen's own does.
func TestMarshalSlice(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(strconv.FormatBool(inline), func(t *testing.T) {
			ctx := inlineCtx(inline)
			var order []int
			arr := marshalSlice(ctx, 4, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
				if inline {
					order = append(order, i) // inline: no other goroutine writes
				}
				if i == 2 {
					panic("element 2 fails")
				}
				return graphql.MarshalString(graphql.GetPath(ctx).String())
			})
			var b bytes.Buffer
			arr.MarshalGQL(&b)
			if want := `["list[0]","list[1]",null,"list[3]"]`; b.String() != want {
				t.Errorf("got %s, want %s", b.String(), want)
			}
			errs := graphql.GetErrors(ctx)
			if len(errs) != 1 || errs[0].Path.String() != "list[2]" {
				t.Errorf("errors: %v", errs)
			}
			if inline && len(order) != 4 {
				t.Errorf("inline order: %v", order)
			}
			if got := loaders.Inline(ctx); got != inline {
				t.Errorf("loaders.Inline = %v", got)
			}
		})
	}
}

// TestObjectMarshal: an object writes its fields in order, an alias once.
func TestObjectMarshal(t *testing.T) {
	fields := []graphql.CollectedField{
		{Field: &ast.Field{Alias: "a"}}, {Field: &ast.Field{Alias: "b"}}, {Field: &ast.Field{Alias: "a"}},
	}
	set := &fieldSet{Values: []graphql.Marshaler{marshalString("x\n"), graphql.Null, graphql.MarshalInt(3)}, fields: fields}
	var b bytes.Buffer
	object{fields, set}.MarshalGQL(&b)
	if want := `{"a":"x\n","b":null}`; b.String() != want {
		t.Errorf("got %s, want %s", b.String(), want)
	}
	var other strings.Builder // not a bytes.Buffer: the same bytes
	object{fields, set}.MarshalGQL(&other)
	if other.String() != b.String() {
		t.Errorf("into a strings.Builder: got %s, want %s", other.String(), b.String())
	}
}

// TestQuotedMatchesGqlgen: String and ID values are written byte for byte as
// gqlgen's MarshalString writes them, escapes at every offset of the
// eight-byte words included, and bytes that differ from '"' or '\\' only in
// their high bit (0xA2, 0xDC) left alone.
func TestQuotedMatchesGqlgen(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \back\slash`, "tab\tnew\nline\rret", "\x00\x01\x1f\x7f",
		"héllo wörld ✓ 🚀", "bad \xff\xfe utf-8 \xc3", "\u2028\u2029", strings.Repeat("ab\"c", 100),
		"1234567\"", "12345678\\", strings.Repeat("x", 15) + "\n", "\x1f" + strings.Repeat("y", 16),
		strings.Repeat("\xa2\xdc", 12), strings.Repeat("word ", 20) + "\x7f\x80\x20\x21\x23\x5b\x5d"} {
		if got, want := writeBoth(s); got != want {
			t.Errorf("%q: wrote %s, gqlgen writes %s", s, got, want)
		}
	}
}

func FuzzQuoted(f *testing.F) {
	f.Add("a\"b\\c\x00\xff✓")
	f.Add(strings.Repeat("\xa2", 9) + "\"")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := writeBoth(s); got != want {
			t.Fatalf("%q: wrote %s, gqlgen writes %s", s, got, want)
		}
	})
}

// writeBoth writes s as ours and as gqlgen's String.
func writeBoth(s string) (ours, gqlgen string) {
	var o, g bytes.Buffer
	marshalString(s).MarshalGQL(&o)
	graphql.MarshalString(s).MarshalGQL(&g)
	return o.String(), g.String()
}

// BenchmarkQuoted writes a chat message the way a history read does, and
// gqlgen's MarshalString beside it for scale.
func BenchmarkQuoted(b *testing.B) {
	msg := "Thanks! I restarted the router like you said and the laptop now finds the \"Home-5G\" network, but the printer still shows offline."
	var buf bytes.Buffer
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			buf.Reset()
			marshalString(msg).MarshalGQL(&buf)
		}
	})
	b.Run("gqlgen", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			buf.Reset()
			graphql.MarshalString(msg).MarshalGQL(&buf)
		}
	})
}
