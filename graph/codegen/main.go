// Command codegen regenerates graph/ (and new resolver stubs) from
// gqlgen.yml with gqlgen, as `go tool gqlgen generate` would, then rewrites
// a few calls of the generated code to graph/inline.go, for what gqlgen's
// templates have no option for:
//   - concurrent list marshalling and field resolution run on the calling
//     goroutine for operations that read ahead, and go back to gqlgen for
//     the rest (resolverFields builds gqlgen's closure only for the latter);
//   - an object's @defer bookkeeping is set up only when a field is deferred;
//   - an object is written without a map of its aliases;
//   - the response of a query or mutation is written into a pooled buffer
//     (see Release);
//   - an object's fields are collected and its field set allocated without
//     an allocation per object (objects);
//   - String and ID values are written with a scan of their bytes (quoted);
//   - an inline query's field contexts of objects come from blocks too
//     (fieldContexts);
//   - a field bound to a struct field of a scalar or enum type is marshalled
//     at once (boundFields), and one of an object or list type with its
//     field context only (boundFields too).
//
// `make generate` runs it; CI checks that its output is committed.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"regexp"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

// rewrites replace calls of gqlgen's runtime in the generated file; each
// must match, so that a change of gqlgen's output fails here, not silently.
var rewrites = []struct{ old, new string }{
	{"graphql.MarshalSliceConcurrently(", "marshalSlice("},
	{"\tdeferred := graphql.NewDeferredGroup(ctx)\n", "\tdeferred := newDeferredGroup(ctx, fields)\n"},
	{"\treturn out\n}\n", "\treturn object{fields, out}\n}\n"},
	{"\t\t\tvar buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n", "\t\t\tbuf := responseBuffer()\n\t\t\tdata.MarshalGQL(buf)\n"},
	{"type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n}",
		"type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n\tobjects objects\n}"},
	{"graphql.CollectFields(ec.OperationContext, sel, ", "ec.objects.collect(ec.OperationContext, sel, "},
	{"out := graphql.NewFieldSet(fields)", "out := ec.objects.fieldSet(ctx, fields)"},
	{"graphql.MarshalString(", "marshalString("},
	{"graphql.MarshalID(", "marshalString("},
}

func main() {
	log.SetFlags(0)
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatal(err)
	}
	if err := api.Generate(cfg); err != nil {
		log.Fatal(err)
	}
	if err := rewrite(cfg.Exec.Filename); err != nil {
		log.Fatal(err)
	}
}

func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, r := range rewrites {
		if !bytes.Contains(src, []byte(r.old)) {
			return fmt.Errorf("%s: no %q to rewrite: has gqlgen's output changed?", path, r.old)
		}
		src = bytes.ReplaceAll(src, []byte(r.old), []byte(r.new))
	}
	if src, err = boundFields(src); err != nil {
		return err
	}
	if src, err = fieldContexts(src); err != nil {
		return err
	}
	if src, err = resolverFields(src); err != nil {
		return err
	}
	if src, err = format.Source(src); err != nil {
		return err
	}
	return os.WriteFile(path, src, 0o644)
}

// boundField matches the generated resolution of a field bound to a struct
// field (no resolver, no middleware of its own): $1 the function's head, $2
// its body, $3 its field context function, $4 the value (obj.X), $5 the
// marshal function.
var boundField = regexp.MustCompile(`(?m)^(func \(ec \*executionContext\) _\w+\(ctx context\.Context, field graphql\.CollectedField, obj \*[\w.\[\]*]+\) \(ret graphql\.Marshaler\) \{\n)` +
	`(\treturn graphql\.ResolveField\(\n\t\tctx,\n\t\tec\.OperationContext,\n\t\tfield,\n` +
	`\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{\n\t\t\treturn ec\.(fieldContext_\w+)\(ctx, field\)\n\t\t\},\n` +
	`\t\tfunc\(ctx context\.Context\) \(any, error\) \{\n\t\t\treturn (obj\.\w+), nil\n\t\t\},\n\t\tnil,\n` +
	`\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v [^)]+\) graphql\.Marshaler \{\n\t\t\treturn ec\.([^(\s]+)\(ctx, selections, v\)\n\t\t\},\n` +
	`\t\t(?:true|false),\n\t\t(?:true|false),\n\t\)\n)\}\n`)

// scalarMarshal matches the marshal functions of scalars and enums that
// cannot fail: no error to place, so no field context to build. A non-null
// Time fails when zero: its fast path is guarded.
var scalarMarshal = regexp.MustCompile(`^marshal(NString2string|NInt2int|NID2string|NBoolean2bool|OString2ᚖstring|OInt2ᚖint|OTime2ᚖtimeᚐTime|NTime2timeᚐTime|N\w+2githubᚗcomᚋsavvysolveᚋapiᚋmodelsᚐ\w+)$`)

// boundFields gives every bound scalar or enum field a fast path: the value
// is marshalled at once, without the field context, context, closures and
// boxing that graphql.ResolveField allocates for each field of each object
// (most of a large response's allocations); a String, ID or Time is marshalled
// through a pointer to the field (stringAt, timeAt), which costs no allocation. Only a field's own middleware
// could tell the difference, and the server's one field interceptor
// (observe.Trace) skips fields without a resolver. The slow path stays for
// the zero Time that a non-null field must report as an error.
//
// A bound field of one of our object or list types (a connection's edges
// and pageInfo, an edge's node) keeps its field context, which places the
// errors of the fields below it, but skips the resolver closures and
// middleware; a nil value takes the slow path, which reports it.
func boundFields(src []byte) ([]byte, error) {
	scalars, objects := 0, 0
	out := boundField.ReplaceAllFunc(src, func(m []byte) []byte {
		g := boundField.FindSubmatch(m)
		head, body, fieldContext, value, marshal := g[1], g[2], string(g[3]), string(g[4]), string(g[5])
		switch {
		case boundObject.MatchString(marshal):
			objects++
			return fmt.Appendf(nil, "%s\tif v := %s; v != nil {\n\t\tif fc, err := ec.%s(ctx, field); err == nil {\n"+
				"\t\t\tctx = graphql.WithFieldContext(ctx, fc)\n\t\t\tdefer func() {\n\t\t\t\tif r := recover(); r != nil {\n"+
				"\t\t\t\t\tec.Error(ctx, ec.Recover(ctx, r))\n\t\t\t\t\tret = graphql.Null\n\t\t\t\t}\n\t\t\t}()\n"+
				"\t\t\treturn ec.%s(ctx, field.Selections, v)\n\t\t}\n\t}\n%s}\n", head, value, fieldContext, marshal, body)
		case !infallible(src, marshal):
			return m
		case marshal == "marshalNTime2timeᚐTime":
			scalars++
			return fmt.Appendf(nil, "%s\tif !%s.IsZero() {\n\t\treturn timeAt{&%s}\n\t}\n%s}\n", head, value, value, body)
		case marshal == "marshalNString2string" || marshal == "marshalNID2string":
			scalars++
			return fmt.Appendf(nil, "%s\treturn stringAt{&%s}\n}\n", head, value)
		case marshal == "marshalOString2ᚖstring":
			scalars++
			return fmt.Appendf(nil, "%s\tif %s == nil {\n\t\treturn graphql.Null\n\t}\n\treturn stringAt{%s}\n}\n", head, value, value)
		case marshal == "marshalOTime2ᚖtimeᚐTime":
			scalars++
			return fmt.Appendf(nil, "%s\tif %s == nil || %s.IsZero() {\n\t\treturn graphql.Null\n\t}\n\treturn timeAt{%s}\n}\n", head, value, value, value)
		}
		scalars++
		return fmt.Appendf(nil, "%s\treturn ec.%s(ctx, field.Selections, %s)\n}\n", head, marshal, value)
	})
	if scalars == 0 || objects == 0 {
		return nil, fmt.Errorf("no bound scalar or object field found: has gqlgen's output changed?")
	}
	return out, nil
}

// boundObject matches the marshal functions of our object types, and lists
// of them, held by pointer or slice (nil when unset).
var boundObject = regexp.MustCompile(`^marshal[NO]\w+2(ᚖ|ᚕᚖ)githubᚗcomᚋsavvysolveᚋ`)

// infallible says whether the marshal function cannot report an error: a
// built-in scalar's listed in scalarMarshal, or an enum's, which returns its
// value as it is.
func infallible(src []byte, marshal string) bool {
	if !scalarMarshal.MatchString(marshal) {
		return false
	}
	if !strings.Contains(marshal, "savvysolve") {
		return true
	}
	enum := regexp.MustCompile(regexp.QuoteMeta("func (ec *executionContext) "+marshal+"(ctx context.Context, sel ast.SelectionSet, v models.") +
		`\w+\) graphql\.Marshaler \{\n\treturn v\n\}`)
	return enum.Match(src)
}

// fieldContext matches the generated field context of a field of an object
// or list type: $1 the literal's fields.
var fieldContext = regexp.MustCompile(`(?m)^\tfc = &graphql\.FieldContext\{\n((?:\t\t.*\n)+?)\t\}\n\treturn fc, nil\n`)

// fieldContexts has every field context of an object or list field come
// from objects.fieldContext: in blocks for an inline query, rather than an
// allocation for each object of a response.
func fieldContexts(src []byte) ([]byte, error) {
	n := 0
	out := fieldContext.ReplaceAllFunc(src, func(m []byte) []byte {
		n++
		return fmt.Appendf(nil, "\tfc = ec.objects.fieldContext(graphql.FieldContext{\n%s\t})\n\treturn fc, nil\n", fieldContext.FindSubmatch(m)[1])
	})
	if n == 0 {
		return nil, fmt.Errorf("no field context literal found: has gqlgen's output changed?")
	}
	return out, nil
}

// resolverField matches the generated concurrent resolution of a resolver
// field: $1 the indent, $2 recoverFromPanic, $3 nonNull, $4 the call.
var resolverField = regexp.MustCompile(`(?m)^(\t+)out\.ResolveConcurrently\(ec\.OperationContext, &deferred, i,\n\t+(true|false), (true|false),\n` +
	`\t+func\(ctx context\.Context\) graphql\.Marshaler \{\n\t+return (ec\._\w+\(ctx, field, obj\))\n\t+\}\)\n`)

// resolverFields resolves a resolver field at once in an operation that runs
// inline (loaders.Inline), and concurrently as gqlgen does in the others. The
// closure gqlgen needs for the latter is built only there: built for every
// field of every object, it was an allocation each. (The field's own
// graphql.ResolveField recovers its panics, as gqlgen's outer layer would.)
func resolverFields(src []byte) ([]byte, error) {
	n := 0
	out := resolverField.ReplaceAllFunc(src, func(m []byte) []byte {
		n++
		g := resolverField.FindSubmatch(m)
		in, recoverFromPanic, nonNull, call := g[1], g[2], g[3], g[4]
		return fmt.Appendf(nil, "%[1]sif field.IsDeferred() || !inline(ctx) {\n"+
			"%[1]s\tout.ResolveConcurrently(ec.OperationContext, &deferred, i, %[2]s, %[3]s, func(ctx context.Context) graphql.Marshaler {\n"+
			"%[1]s\t\treturn %[4]s\n%[1]s\t})\n"+
			"%[1]s} else if out.Values[i] = %[4]s; invalid(out.Values[i], %[3]s) {\n"+
			"%[1]s\tatomic.AddUint32(&out.Invalids, 1)\n%[1]s}\n", in, recoverFromPanic, nonNull, call)
	})
	if n == 0 {
		return nil, fmt.Errorf("no concurrent resolver field found: has gqlgen's output changed?")
	}
	return out, nil
}
