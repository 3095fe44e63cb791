package migrate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlclient"
	"github.com/jackc/pgx/v5/stdlib"
)

// Atlas's sqlclient looks up the database/sql driver named "postgres" (lib/pq's
// name). Registering pgx under it lets Atlas open a dev URL bound to one schema
// (search_path), which the plain postgres.Open cannot express.
func init() {
	for _, d := range sql.Drivers() {
		if d == "postgres" {
			return
		}
	}
	sql.Register("postgres", stdlib.GetDefaultDriver())
}

// Extensions the migrations create by hand (Atlas's library cannot manage them).
// The dev database needs them before it can normalize schema.hcl.
const devPrelude = `CREATE EXTENSION IF NOT EXISTS pg_trgm`

// Dev is a clean database that Atlas may freely change to normalize schema.hcl
// and replay the migration directory (`atlas migrate diff`'s dev database).
type Dev struct {
	client *sqlclient.Client
}

// OpenDev connects to an empty dev database at url, bound to the public schema.
func OpenDev(ctx context.Context, url string) (*Dev, error) {
	url = withSearchPath(url)
	c, err := sqlclient.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("migrate: open dev database: %w", err)
	}
	if _, err := c.ExecContext(ctx, devPrelude); err != nil {
		c.Close()
		return nil, fmt.Errorf("migrate: prepare dev database: %w", err)
	}
	return &Dev{client: c}, nil
}

// Close closes the dev connection.
func (d *Dev) Close() error { return d.client.Close() }

func withSearchPath(url string) string {
	if strings.Contains(url, "search_path=") {
		return url
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=public"
}

// Desired evaluates schema.hcl and normalizes it on the dev database, so that
// it compares equal to what PostgreSQL reports (without this, a changed CHECK
// expression under the same name goes unnoticed).
func (d *Dev) Desired(ctx context.Context, hcl []byte) (*schema.Schema, error) {
	var s schema.Schema
	if err := postgres.EvalHCLBytes(hcl, &s, nil); err != nil {
		return nil, fmt.Errorf("migrate: schema.hcl: %w", err)
	}
	n, err := d.client.Driver.(schema.Normalizer).NormalizeSchema(ctx, &s)
	if err != nil {
		return nil, fmt.Errorf("migrate: normalize schema.hcl: %w", err)
	}
	return n, nil
}

func (d *Dev) planner(dir migrate.Dir) *migrate.Planner {
	return migrate.NewPlanner(d.client.Driver, dir,
		migrate.PlanWithDiffOptions(schema.DiffNormalized()),
		migrate.PlanWithSchemaQualifier(""),
		migrate.PlanWithIndent("  "),
		migrate.PlanFormat(headerFormatter{}),
	)
}

// Plan returns the changes that bring the state of dir to schema.hcl, or
// migrate.ErrNoPlan when they agree.
func (d *Dev) Plan(ctx context.Context, dir migrate.Dir, hcl []byte, name string) (*migrate.Plan, error) {
	desired, err := d.Desired(ctx, hcl)
	if err != nil {
		return nil, err
	}
	return d.planner(dir).PlanSchema(ctx, name, migrate.Realm(schema.NewRealm(desired)))
}

// Diff writes the next migration file of dir (with its header) and rewrites
// atlas.sum: the library's `atlas migrate diff NAME`. It returns the file's
// name, or "" when schema.hcl and dir already agree.
func (d *Dev) Diff(ctx context.Context, dir migrate.Dir, hcl []byte, name string) (string, error) {
	if err := migrate.Validate(dir); err != nil {
		return "", fmt.Errorf("migrate: atlas.sum: %w", err)
	}
	plan, err := d.Plan(ctx, dir, hcl, name)
	if errors.Is(err, migrate.ErrNoPlan) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	before, err := dir.Files()
	if err != nil {
		return "", err
	}
	if err := d.planner(dir).WritePlan(plan); err != nil {
		return "", err
	}
	after, err := dir.Files()
	if err != nil {
		return "", err
	}
	// The new file is the one that was not there before, not the last one: a
	// file written by hand may carry a later version than the clock's.
	known := make(map[string]bool, len(before))
	for _, f := range before {
		known[f.Name()] = true
	}
	var added []string
	for _, f := range after {
		if !known[f.Name()] {
			added = append(added, f.Name())
		}
	}
	if len(added) != 1 {
		return "", fmt.Errorf("migrate: expected one new file, found %d", len(added))
	}
	return added[0], nil
}

// Check lists every way in which dir, schema.hcl and (when live is not nil) a
// live database disagree; an empty list means all is well.
func (d *Dev) Check(ctx context.Context, dir migrate.Dir, hcl []byte, live *sql.DB) ([]string, error) {
	var problems []string
	if err := migrate.Validate(dir); err != nil {
		// Nothing else can be trusted with a broken directory.
		return []string{"atlas.sum does not match the migration files (" + err.Error() + "): an applied migration must never be edited; revert it and add a new one, or run `go run . db hash` after writing a new file by hand"}, nil
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if missing := missingHeader(f.Bytes()); len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: header lacks %s", f.Name(), strings.Join(missing, ", ")))
		}
	}
	plan, err := d.Plan(ctx, dir, hcl, "check")
	switch {
	case errors.Is(err, migrate.ErrNoPlan):
	case err != nil:
		return nil, err
	default:
		problems = append(problems, "schema.hcl differs from the migration directory; run `go run . db diff NAME`. Missing statements:\n"+statements(plan))
	}
	if live != nil {
		p, err := d.checkLive(ctx, hcl, live)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	}
	return problems, nil
}

func (d *Dev) checkLive(ctx context.Context, hcl []byte, live *sql.DB) ([]string, error) {
	desired, err := d.Desired(ctx, hcl)
	if err != nil {
		return nil, err
	}
	conn, err := live.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, err
	}
	// River's tables are River's to manage (see ApplyRiver), not schema.hcl's.
	current, err := drv.InspectSchema(ctx, "public", &schema.InspectOptions{Exclude: riverTables})
	if err != nil {
		return nil, err
	}
	changes, err := drv.SchemaDiff(current, desired, schema.DiffNormalized())
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	plan, err := drv.PlanChanges(ctx, "drift", changes, func(o *migrate.PlanOptions) { o.SchemaQualifier = new(string) })
	if err != nil {
		return nil, err
	}
	return []string{"the live database differs from schema.hcl; statements that would fix it:\n" + statements(plan)}, nil
}

func statements(p *migrate.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  %s;\n", c.Cmd)
	}
	return b.String()
}

// Every migration file starts with this header, so a reader knows what it is
// for and how to undo it without reading the SQL.
var headerFields = []string{"Purpose", "Reversible", "Rollback"}

func missingHeader(b []byte) []string {
	var missing []string
	for _, f := range headerFields {
		if !regexp.MustCompile(`(?m)^-- ` + f + `:`).Match(b) {
			missing = append(missing, f)
		}
	}
	if !regexp.MustCompile(`(?m)^-- Reversible: (Yes|No|Partial)\b`).Match(b) && !slices.Contains(missing, "Reversible") {
		missing = append(missing, "Reversible: Yes|No|Partial")
	}
	return missing
}

// headerFormatter is Atlas's default file format with our header on top. The
// rollback statements are the reverse statements Atlas computes for each change.
type headerFormatter struct{}

func (headerFormatter) Format(p *migrate.Plan) ([]migrate.File, error) {
	files, err := migrate.DefaultFormatter.Format(p)
	if err != nil {
		return nil, err
	}
	head := header(p)
	out := make([]migrate.File, len(files))
	for i, f := range files {
		out[i] = migrate.NewLocalFile(f.Name(), append([]byte(head), f.Bytes()...))
	}
	return out, nil
}

func header(p *migrate.Plan) string {
	var rollback []string
	reversible, destructive := 0, false
	for i := len(p.Changes) - 1; i >= 0; i-- {
		c := p.Changes[i]
		if strings.HasPrefix(strings.ToUpper(c.Cmd), "DROP") || strings.Contains(strings.ToUpper(c.Cmd), " DROP ") {
			destructive = true
		}
		stmts, err := c.ReverseStmts()
		if err != nil || len(stmts) == 0 {
			continue
		}
		reversible++
		rollback = append(rollback, stmts...)
	}
	verdict := "Yes"
	switch {
	case reversible == 0:
		verdict = "No"
	case reversible < len(p.Changes) || destructive:
		// Dropped data does not come back with the rollback.
		verdict = "Partial"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "-- Purpose: %s\n", strings.ReplaceAll(p.Name, "_", " "))
	fmt.Fprintf(&b, "-- Reversible: %s\n", verdict)
	b.WriteString("-- Rollback:\n")
	for _, s := range rollback {
		fmt.Fprintf(&b, "--   %s;\n", strings.ReplaceAll(s, "\n", "\n--   "))
	}
	b.WriteString("\n")
	return b.String()
}

// Rehash rewrites atlas.sum for dir: `atlas migrate hash`, for files written by hand.
func Rehash(dir migrate.Dir) error {
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	return migrate.WriteSumFile(dir, sum)
}
