package api

import (
	"context"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
)

// textGuard refuses, before any resolver runs, string inputs that
// PostgreSQL's text cannot hold: the NUL character (U+0000). Bun writes
// values into the SQL text and PostgreSQL ends a statement at a NUL, so
// such a value would fail deep inside a write as a syntax error; here it is
// the client's BAD_USER_INPUT, naming the field. (Invalid UTF-8 cannot reach
// this far: JSON decoding replaces it.)
type textGuard struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = textGuard{}

func (textGuard) ExtensionName() string                   { return "TextGuard" }
func (textGuard) Validate(graphql.ExecutableSchema) error { return nil }

func (textGuard) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	w := textWalker{vars: op.Variables, seen: map[*ast.FragmentDefinition]bool{}}
	w.walk(op.Operation.SelectionSet)
	if w.field == "" {
		return nil
	}
	return refusal(apperr.BadUserInput, w.field, op.Operation.Position,
		"%s contains a NUL character (U+0000), which text cannot hold", w.field)
}

// textWalker finds the first argument holding a NUL, with its variables resolved.
type textWalker struct {
	vars  map[string]any
	seen  map[*ast.FragmentDefinition]bool
	field string
}

func (w *textWalker) walk(set ast.SelectionSet) {
	for _, sel := range set {
		if w.field != "" {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				v, err := a.Value.Value(w.vars)
				if err == nil && w.find(inputPath(a.Name), v) {
					return
				}
			}
			w.walk(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition != nil && !w.seen[s.Definition] {
				w.seen[s.Definition] = true
				w.walk(s.Definition.SelectionSet)
			}
		case *ast.InlineFragment:
			w.walk(s.SelectionSet)
		}
	}
}

// inputPath names an argument as the domain names its fields: the fields of
// an `input` object by themselves (description, customerInfo.name).
func inputPath(arg string) string {
	if arg == "input" {
		return ""
	}
	return arg
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// find reports whether v holds a NUL anywhere, and sets w.field to where.
func (w *textWalker) find(path string, v any) bool {
	switch v := v.(type) {
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			w.field = path
			return true
		}
	case []any:
		for _, e := range v {
			if w.find(path, e) {
				return true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the same field is named on every try
		for _, k := range keys {
			if strings.IndexByte(k, 0) >= 0 || w.find(join(path, k), v[k]) {
				if w.field == "" {
					w.field = join(path, k)
				}
				return true
			}
		}
	}
	return false
}
