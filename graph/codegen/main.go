// Command codegen regenerates graph/ (and new resolver stubs) from
// gqlgen.yml with gqlgen, as `go tool gqlgen generate` would, then points a
// few calls of the generated code at graph/inline.go: concurrent list
// marshalling and field resolution, which run on the calling goroutine for
// operations that read ahead and go back to gqlgen for the rest; the
// @defer bookkeeping of every object, set up only when a field is deferred;
// and the writing of an object. gqlgen's templates have no option for any
// of it. `make generate` runs it; CI checks that its output is
// committed.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

// rewrites replace calls of gqlgen's runtime in the generated file; each
// must match, so that a change of gqlgen's output fails here, not silently.
var rewrites = []struct{ old, new string }{
	{"graphql.MarshalSliceConcurrently(", "marshalSlice("},
	{"out.ResolveConcurrently(ec.OperationContext, &deferred, i,", "resolveField(ctx, field, out, ec.OperationContext, &deferred, i,"},
	{"\tdeferred := graphql.NewDeferredGroup(ctx)\n", "\tdeferred := newDeferredGroup(ctx, fields)\n"},
	{"\treturn out\n}\n", "\treturn object{fields, out}\n}\n"},
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
	if src, err = format.Source(src); err != nil {
		return err
	}
	return os.WriteFile(path, src, 0o644)
}
