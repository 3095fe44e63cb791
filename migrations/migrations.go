// Package migrations embeds the versioned migration files, so the one server
// binary can apply them wherever it runs.
//
// The files are written by `go run . db diff NAME` (or by hand, then re-hashed)
// and never edited once applied; atlas.sum guards that.
package migrations

import (
	"embed"
	"io/fs"

	"ariga.io/atlas/sql/migrate"
)

//go:embed *.sql atlas.sum
var files embed.FS

// Dir returns the embedded migration directory.
func Dir() (migrate.Dir, error) {
	d := &migrate.MemDir{}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		if err := d.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return d, nil
}
