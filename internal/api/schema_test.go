package api_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/internal/api"
)

// schemaFile is the committed SDL for frontend code generation.
const schemaFile = "../../schema.graphql"

// TestSchemaFile: the committed schema.graphql is what `go run . schema`
// prints, and it describes exactly what the server serves: every type,
// field, argument (with its default), input field and enum value, with its
// description and deprecation, as the real handler's introspection answers.
func TestSchemaFile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != api.SDL() {
		t.Fatalf("%s is stale: run `make generate` (or `go run . schema > schema.graphql`) and commit it", schemaFile)
	}
	parsed, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(b)})
	if gerr != nil {
		t.Fatalf("%s does not load: %v", schemaFile, gerr)
	}
	want := describeSDL(parsed)

	e := newEnv(t)
	got := describeIntrospection(t, e.must("", introspectionQuery, nil))
	if len(want) < 100 {
		t.Fatalf("only %d schema elements: %v", len(want), want)
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			t.Errorf("in %s, not served: %s", schemaFile, l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			t.Errorf("served, not in %s: %s", schemaFile, l)
		}
	}
}

// introspectionQuery reads what describeIntrospection compares.
const introspectionQuery = `{ __schema {
	queryType { name } mutationType { name } subscriptionType { name }
	types { kind name description
		fields(includeDeprecated: true) { name description isDeprecated deprecationReason type { ...T } args { ...V } }
		inputFields { ...V }
		enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
		possibleTypes { name } interfaces { name } } } }
fragment V on __InputValue { name description defaultValue type { ...T } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

var builtinScalars = []string{"String", "Int", "Float", "Boolean", "ID"}

// A schema element is one line: "kind path: type = default | description | deprecation".
func element(kind, path, typ, def, desc, deprecated string) string {
	return fmt.Sprintf("%s %s: %s = %s | %q | %s", kind, path, typ, def, desc, deprecated)
}

func describeSDL(s *ast.Schema) []string {
	var out []string
	out = append(out, "roots "+rootName(s.Query)+" "+rootName(s.Mutation)+" "+rootName(s.Subscription))
	for name, d := range s.Types {
		if d.BuiltIn || strings.HasPrefix(name, "__") || slices.Contains(builtinScalars, name) {
			continue
		}
		var related []string
		for _, p := range s.GetPossibleTypes(d) {
			related = append(related, p.Name)
		}
		if d.Kind == ast.Union || d.Kind == ast.Interface {
			slices.Sort(related)
		} else {
			related = nil
		}
		out = append(out, element(string(d.Kind), name, strings.Join(related, ","), strings.Join(d.Interfaces, ","), d.Description, ""))
		for _, f := range d.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			kind := "field"
			if d.Kind == ast.InputObject {
				kind = "input"
			}
			out = append(out, element(kind, name+"."+f.Name, f.Type.String(), sdlDefault(f.DefaultValue), f.Description, sdlDeprecation(f.Directives)))
			for _, a := range f.Arguments {
				out = append(out, element("arg", name+"."+f.Name+"."+a.Name, a.Type.String(), sdlDefault(a.DefaultValue), a.Description, ""))
			}
		}
		for _, v := range d.EnumValues {
			out = append(out, element("value", name+"."+v.Name, "", "", v.Description, sdlDeprecation(v.Directives)))
		}
	}
	return out
}

func rootName(d *ast.Definition) string {
	if d == nil {
		return "-"
	}
	return d.Name
}

func sdlDefault(v *ast.Value) string {
	if v == nil {
		return "-"
	}
	return v.String()
}

func sdlDeprecation(ds ast.DirectiveList) string {
	d := ds.ForName("deprecated")
	if d == nil {
		return "-"
	}
	reason := "No longer supported"
	if a := d.Arguments.ForName("reason"); a != nil {
		reason = a.Value.Raw
	}
	return "deprecated: " + reason
}

// describeIntrospection turns an introspection result into describeSDL's lines.
func describeIntrospection(t *testing.T, data map[string]any) []string {
	t.Helper()
	s := get(data, "__schema")
	var out []string
	root := func(k string) string {
		if n, ok := get(s, k, "name").(string); ok {
			return n
		}
		return "-"
	}
	out = append(out, "roots "+root("queryType")+" "+root("mutationType")+" "+root("subscriptionType"))
	kinds := map[string]ast.DefinitionKind{"SCALAR": ast.Scalar, "OBJECT": ast.Object, "INTERFACE": ast.Interface,
		"UNION": ast.Union, "ENUM": ast.Enum, "INPUT_OBJECT": ast.InputObject}
	for _, tv := range get(s, "types").([]any) {
		name := str(tv, "name")
		if strings.HasPrefix(name, "__") || slices.Contains(builtinScalars, name) {
			continue
		}
		kind := kinds[str(tv, "kind")]
		var related, ifaces []string
		for _, p := range list(get(tv, "possibleTypes")) {
			related = append(related, str(p, "name"))
		}
		slices.Sort(related)
		for _, i := range list(get(tv, "interfaces")) {
			ifaces = append(ifaces, str(i, "name"))
		}
		out = append(out, element(string(kind), name, strings.Join(related, ","), strings.Join(ifaces, ","), desc(tv), ""))
		for _, f := range list(get(tv, "fields")) {
			out = append(out, element("field", name+"."+str(f, "name"), typeRef(get(f, "type")), "-", desc(f), deprecation(f)))
			for _, a := range list(get(f, "args")) {
				out = append(out, element("arg", name+"."+str(f, "name")+"."+str(a, "name"), typeRef(get(a, "type")), defaultValue(a), desc(a), ""))
			}
		}
		for _, f := range list(get(tv, "inputFields")) {
			out = append(out, element("input", name+"."+str(f, "name"), typeRef(get(f, "type")), defaultValue(f), desc(f), "-"))
		}
		for _, v := range list(get(tv, "enumValues")) {
			out = append(out, element("value", name+"."+str(v, "name"), "", "", desc(v), deprecation(v)))
		}
	}
	return out
}

func list(v any) []any { l, _ := v.([]any); return l }

func desc(v any) string { s, _ := get(v, "description").(string); return s }

func defaultValue(v any) string {
	if s, ok := get(v, "defaultValue").(string); ok {
		return s
	}
	return "-"
}

func deprecation(v any) string {
	if get(v, "isDeprecated") != true {
		return "-"
	}
	return "deprecated: " + str(v, "deprecationReason")
}

// typeRef writes an introspected type reference the way ast.Type.String does.
func typeRef(v any) string {
	switch str(v, "kind") {
	case "NON_NULL":
		return typeRef(get(v, "ofType")) + "!"
	case "LIST":
		return "[" + typeRef(get(v, "ofType")) + "]"
	}
	return str(v, "name")
}
