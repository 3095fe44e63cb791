package main

import (
	"fmt"
	"io"

	"github.com/savvysolve/api/internal/api"
)

// schemaCmd prints the server's schema (SDL): `go run . schema > schema.graphql`.
func schemaCmd(w io.Writer, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("usage: schema (prints the SDL; no arguments)")
	}
	_, err := io.WriteString(w, api.SDL())
	return err
}
