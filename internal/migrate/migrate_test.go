package migrate_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/migrate"
	"github.com/savvysolve/api/migrations"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The repository's files, relative to this package's directory.
const (
	migrationsPath = "../../migrations"
	schemaPath     = "../../schema.hcl"
)

// sqlFiles lists the migration files of the repository.
func sqlFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(migrationsPath, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no migration files")
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

func embedded(t *testing.T) atlasmigrate.Dir {
	t.Helper()
	dir, err := migrations.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func openSQL(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := database.OpenSQL(url, database.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// revisionRows returns version -> applied = total of the revision table.
func revisionRows(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied = total AND applied > 0 AND error IS NULL FROM atlas_schema_revisions.atlas_schema_revisions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var v string
		var done bool
		if err := rows.Scan(&v, &done); err != nil {
			t.Fatal(err)
		}
		out[v] = done
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func version(file string) string { return strings.SplitN(file, "_", 2)[0] }

func TestApplyConcurrentlyRunsEachFileOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t, true)
	files := sqlFiles(t)

	const workers = 8
	var (
		wg     sync.WaitGroup
		counts [workers]int
		errs   [workers]error
		start  = make(chan struct{})
	)
	for i := range workers {
		db := openSQL(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, err := migrations.Dir()
			if err != nil {
				errs[i] = err
				return
			}
			<-start
			counts[i], errs[i] = migrate.Apply(ctx, db, dir, quiet)
		}()
	}
	close(start)
	wg.Wait()

	total := 0
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("worker %d: %v", i, errs[i])
		}
		total += counts[i]
	}
	if total != len(files) {
		t.Errorf("applied %d files in all (per worker %v), want %d", total, counts, len(files))
	}
	db := openSQL(t, url)
	revs := revisionRows(t, db)
	if len(revs) != len(files) {
		t.Errorf("%d revisions, want %d: %v", len(revs), len(files), revs)
	}
	for _, f := range files {
		if done, ok := revs[version(f)]; !ok || !done {
			t.Errorf("revision of %s: present %v, complete %v", f, ok, done)
		}
	}
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		t.Error("no tables in public after the migrations")
	}
}

func TestApplyTwiceAndPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQL(t, dbtest.NewURL(t, true))
	dir := embedded(t)
	files := sqlFiles(t)

	pending := func(want int) {
		t.Helper()
		n, err := migrate.PendingCount(ctx, db, dir)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("PendingCount = %d, want %d", n, want)
		}
	}
	status := func(wantApplied, wantPending int) []*atlasmigrate.Revision {
		t.Helper()
		applied, pend, err := migrate.Status(ctx, db, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != wantApplied || len(pend) != wantPending {
			t.Errorf("Status: %d applied, %d pending; want %d, %d", len(applied), len(pend), wantApplied, wantPending)
		}
		return applied
	}

	pending(len(files))
	status(0, len(files))

	n, err := migrate.Apply(ctx, db, dir, quiet)
	if err != nil || n != len(files) {
		t.Fatalf("first Apply = %d, %v; want %d, nil", n, err, len(files))
	}
	pending(0)
	applied := status(len(files), 0)
	for i, rev := range applied {
		if i >= len(files) {
			break
		}
		if rev.Version != version(files[i]) || rev.Applied != rev.Total || rev.Total == 0 || rev.Error != "" || rev.Hash == "" {
			t.Errorf("revision %d = %+v, want version %s fully applied", i, rev, version(files[i]))
		}
		if want := strings.TrimSuffix(strings.SplitN(files[i], "_", 2)[1], ".sql"); rev.Description != want {
			t.Errorf("revision %s description = %q, want %q", rev.Version, rev.Description, want)
		}
	}

	n, err = migrate.Apply(ctx, db, dir, quiet)
	if err != nil || n != 0 {
		t.Fatalf("second Apply = %d, %v; want 0, nil", n, err)
	}
	pending(0)
	status(len(files), 0)
	if revs := revisionRows(t, db); len(revs) != len(files) {
		t.Errorf("%d revisions after the second Apply, want %d", len(revs), len(files))
	}
}

func TestApplyRefusesAnEditedDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQL(t, dbtest.NewURL(t, true))
	dir := embedded(t)
	files := sqlFiles(t)
	b, err := dir.Open(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(b)
	b.Close()
	if err := dir.WriteFile(files[len(files)-1], append(body, "\n-- edited\n"...)); err != nil {
		t.Fatal(err)
	}
	if n, err := migrate.Apply(ctx, db, dir, quiet); err == nil || !strings.Contains(err.Error(), "atlas.sum") || n != 0 {
		t.Errorf("Apply on an edited directory = %d, %v; want 0 and an atlas.sum error", n, err)
	}
	if n, err := migrate.PendingCount(ctx, db, embedded(t)); err != nil || n != len(files) {
		t.Errorf("PendingCount = %d, %v; want %d (nothing applied)", n, err, len(files))
	}
}

// TestApplyNewFile applies the committed directory plus one more file.
func TestApplyNewFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name, body string
		wantErr    string // "" when the file must apply
		exists     string // to_regclass argument that must (or, on error, must not) exist afterwards
	}{
		{
			name:    "failing file leaves nothing behind",
			body:    "-- Purpose: x\n-- Reversible: No\n-- Rollback:\n\nCREATE TABLE half_done (id int);\nSELECT no_such_function();\n",
			wantErr: "no_such_function",
			exists:  "public.half_done",
		},
		{
			name:   "txmode none runs outside a transaction",
			body:   "-- atlas:txmode none\n\n-- Purpose: x\n-- Reversible: Yes\n-- Rollback:\n\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
			exists: "public.users_email_idx",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openSQL(t, dbtest.NewURL(t, true))
			dir := embedded(t)
			files := sqlFiles(t)
			const extra = "20991231000000_extra.sql"
			if err := dir.WriteFile(extra, []byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			if err := migrate.Rehash(dir); err != nil {
				t.Fatal(err)
			}
			n, err := migrate.Apply(ctx, db, dir, quiet)
			wantN := len(files) + 1
			if tc.wantErr != "" {
				wantN = len(files)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), extra) {
					t.Errorf("Apply error = %v, want one naming %s and %q", err, extra, tc.wantErr)
				}
			} else if err != nil {
				t.Errorf("Apply: %v", err)
			}
			if n != wantN {
				t.Errorf("Apply = %d, want %d", n, wantN)
			}
			var exists bool
			if err := db.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, tc.exists).Scan(&exists); err != nil {
				t.Fatal(err)
			}
			if exists != (tc.wantErr == "") {
				t.Errorf("%s exists: %v", tc.exists, exists)
			}
			revs := revisionRows(t, db)
			if done, ok := revs["20991231000000"]; ok != (tc.wantErr == "") || ok && !done {
				t.Errorf("revision of %s: present %v, complete %v", extra, ok, done)
			}
			pending, err := migrate.PendingCount(ctx, db, dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := len(files) + 1 - wantN; pending != want {
				t.Errorf("PendingCount = %d, want %d", pending, want)
			}
		})
	}
}

// copyDir copies the repository's migration directory into a temporary one.
func copyDir(t *testing.T) (string, *atlasmigrate.LocalDir) {
	t.Helper()
	path := t.TempDir()
	for _, f := range append(sqlFiles(t), "atlas.sum") {
		b, err := os.ReadFile(filepath.Join(migrationsPath, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func readSchema(t *testing.T) []byte {
	t.Helper()
	hcl, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	return hcl
}

// withNickname is schema.hcl with a new nullable column users.nickname.
func withNickname(t *testing.T) []byte {
	t.Helper()
	hcl := string(readSchema(t))
	const anchor = "table \"users\" {\n  schema = schema.public\n"
	if !strings.Contains(hcl, anchor) {
		t.Fatalf("schema.hcl lacks %q", anchor)
	}
	return []byte(strings.Replace(hcl, anchor, anchor+"  column \"nickname\" {\n    type = text\n    null = true\n  }\n", 1))
}

// openDev opens a dev database of its own (Atlas wipes what it creates there).
func openDev(t *testing.T) *migrate.Dev {
	t.Helper()
	dev, err := migrate.OpenDev(context.Background(), dbtest.NewURL(t, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

func check(t *testing.T, dev *migrate.Dev, dir atlasmigrate.Dir, hcl []byte, live *sql.DB) []string {
	t.Helper()
	problems, err := dev.Check(context.Background(), dir, hcl, live)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return problems
}

// wantProblems fails unless problems has one entry per want, each containing its substrings.
func wantProblems(t *testing.T, problems []string, want ...[]string) {
	t.Helper()
	if len(problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n---\n"))
	}
	for i, subs := range want {
		for _, s := range subs {
			if !strings.Contains(problems[i], s) {
				t.Errorf("problem %d lacks %q:\n%s", i, s, problems[i])
			}
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare changes the copy of the directory and returns the schema and
		// live database to check with.
		prepare func(t *testing.T, path string, dir *atlasmigrate.LocalDir) ([]byte, *sql.DB)
		want    [][]string // substrings of each expected problem
	}{
		{
			name: "committed files",
			prepare: func(t *testing.T, _ string, _ *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				return readSchema(t), nil
			},
		},
		{
			name: "edited migration",
			prepare: func(t *testing.T, path string, _ *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				files := sqlFiles(t)
				f, err := os.OpenFile(filepath.Join(path, files[0]), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteString("-- an innocent comment\n"); err != nil {
					t.Fatal(err)
				}
				f.Close()
				return readSchema(t), nil
			},
			want: [][]string{{"atlas.sum does not match the migration files", "never be edited"}},
		},
		{
			name: "schema.hcl ahead of the files",
			prepare: func(t *testing.T, _ string, _ *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				return withNickname(t), nil
			},
			want: [][]string{{"schema.hcl differs from the migration directory", `ADD COLUMN "nickname" text NULL`}},
		},
		{
			name: "file ahead of schema.hcl",
			prepare: func(t *testing.T, path string, dir *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				body := "-- Purpose: drop users.phone\n-- Reversible: No\n-- Rollback:\n\nALTER TABLE \"users\" DROP COLUMN \"phone\";\n"
				if err := dir.WriteFile("20991231000000_drop_phone.sql", []byte(body)); err != nil {
					t.Fatal(err)
				}
				if err := migrate.Rehash(dir); err != nil {
					t.Fatal(err)
				}
				return readSchema(t), nil
			},
			want: [][]string{{"schema.hcl differs", `ADD COLUMN "phone"`}},
		},
		{
			name: "file without header",
			prepare: func(t *testing.T, path string, dir *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				if err := dir.WriteFile("20991231000000_no_header.sql", []byte("COMMENT ON TABLE \"users\" IS NULL;\n")); err != nil {
					t.Fatal(err)
				}
				if err := dir.WriteFile("20991231000001_bad_verdict.sql",
					[]byte("-- Purpose: nothing\n-- Reversible: Maybe\n-- Rollback:\n\nCOMMENT ON TABLE \"users\" IS NULL;\n")); err != nil {
					t.Fatal(err)
				}
				if err := migrate.Rehash(dir); err != nil {
					t.Fatal(err)
				}
				return readSchema(t), nil
			},
			want: [][]string{
				{"20991231000000_no_header.sql: header lacks Purpose, Reversible, Rollback"},
				{"20991231000001_bad_verdict.sql: header lacks Reversible: Yes|No|Partial"},
			},
		},
		{
			name: "live database in step",
			prepare: func(t *testing.T, _ string, _ *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				return readSchema(t), openSQL(t, dbtest.NewURL(t, false))
			},
		},
		{
			name: "live database drifted",
			prepare: func(t *testing.T, _ string, _ *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				live := openSQL(t, dbtest.NewURL(t, false))
				if _, err := live.Exec(`ALTER TABLE users ADD COLUMN extra text`); err != nil {
					t.Fatal(err)
				}
				return readSchema(t), live
			},
			want: [][]string{{"the live database differs from schema.hcl", `DROP COLUMN "extra"`}},
		},
		{
			name: "live database behind schema.hcl",
			prepare: func(t *testing.T, _ string, _ *atlasmigrate.LocalDir) ([]byte, *sql.DB) {
				live := openSQL(t, dbtest.NewURL(t, false))
				if _, err := live.Exec(`DROP INDEX tickets_status_idx`); err != nil {
					t.Fatal(err)
				}
				return readSchema(t), live
			},
			want: [][]string{{"the live database differs from schema.hcl", `"tickets_status_idx"`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, dir := copyDir(t)
			hcl, live := tc.prepare(t, path, dir)
			problems := check(t, openDev(t), dir, hcl, live)
			wantProblems(t, problems, tc.want...)
		})
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		hcl    func(*testing.T) []byte
		wants  []string // substrings of the new file
		undo   string   // substring of the problem Check reports with the old schema.hcl
		column string   // users column that must be nullable after applying (or absent, with gone)
		gone   bool
	}{
		{
			name: "add_user_nickname",
			hcl:  withNickname,
			wants: []string{"-- Purpose: add user nickname\n", "-- Reversible: Yes\n",
				`--   ALTER TABLE "users" DROP COLUMN "nickname";`, `ALTER TABLE "users" ADD COLUMN "nickname" text NULL;`},
			undo:   `DROP COLUMN "nickname"`,
			column: "nickname",
		},
		{
			name: "drop_user_phone",
			hcl: func(t *testing.T) []byte {
				hcl := string(readSchema(t))
				const col = "  column \"phone\" {\n    type = varchar(50)\n    null = true\n  }\n"
				if strings.Count(hcl, col) < 1 {
					t.Fatalf("schema.hcl lacks %q", col)
				}
				return []byte(strings.Replace(hcl, col, "", 1)) // the first: users.phone
			},
			wants: []string{"-- Purpose: drop user phone\n", "-- Reversible: Partial\n",
				`ALTER TABLE "users" DROP COLUMN "phone";`},
			undo:   `ADD COLUMN "phone"`,
			column: "phone",
			gone:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, dir := copyDir(t)
			dev := openDev(t)
			hcl := tc.hcl(t)
			before := sqlFiles(t)

			name, err := dev.Diff(ctx, dir, hcl, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			entries, err := filepath.Glob(filepath.Join(path, "*.sql"))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(before)+1 {
				t.Fatalf("%d files after Diff, want %d", len(entries), len(before)+1)
			}
			if newest := filepath.Base(entries[len(entries)-1]); name != newest || !strings.HasSuffix(name, "_"+tc.name+".sql") {
				t.Fatalf("Diff wrote %q, newest file is %q", name, newest)
			}
			body, err := os.ReadFile(filepath.Join(path, name))
			if err != nil {
				t.Fatal(err)
			}
			text := string(body)
			if !strings.HasPrefix(text, "-- Purpose:") {
				t.Errorf("new file does not start with its Purpose:\n%s", text)
			}
			for _, want := range tc.wants {
				if !strings.Contains(text, want) {
					t.Errorf("new file lacks %q:\n%s", want, text)
				}
			}
			if err := atlasmigrate.Validate(dir); err != nil {
				t.Errorf("atlas.sum not rewritten: %v", err)
			}

			// The directory now matches the new schema, and no longer the old one.
			wantProblems(t, check(t, dev, dir, hcl, nil))
			wantProblems(t, check(t, dev, dir, readSchema(t), nil), []string{"schema.hcl differs", tc.undo})
			if again, err := dev.Diff(ctx, dir, hcl, "again"); err != nil || again != "" {
				t.Errorf("second Diff = %q, %v; want nothing to write", again, err)
			}

			// And the new directory applies on a fresh database, which then
			// agrees with the new schema.
			db := openSQL(t, dbtest.NewURL(t, true))
			if n, err := migrate.Apply(ctx, db, dir, quiet); err != nil || n != len(before)+1 {
				t.Fatalf("Apply = %d, %v; want %d", n, err, len(before)+1)
			}
			var nullable string
			err = db.QueryRow(`SELECT is_nullable FROM information_schema.columns WHERE table_name = 'users' AND column_name = $1`, tc.column).Scan(&nullable)
			switch {
			case tc.gone && err != sql.ErrNoRows:
				t.Errorf("users.%s after Apply: %q, %v; want no column", tc.column, nullable, err)
			case !tc.gone && (err != nil || nullable != "YES"):
				t.Errorf("users.%s after Apply: %q, %v; want a nullable column", tc.column, nullable, err)
			}
			wantProblems(t, check(t, dev, dir, hcl, db))
		})
	}
}

// TestDiffNamesTheNewFile: Diff returns the file it wrote even when a file
// written by hand carries a later version (a version in the future sorts after
// the one Diff takes from the clock).
func TestDiffNamesTheNewFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, dir := copyDir(t)
	const later = "20991231000000_hand_written.sql"
	if err := dir.WriteFile(later, []byte("-- Purpose: nothing\n-- Reversible: Yes\n-- Rollback:\n\nCOMMENT ON TABLE \"users\" IS NULL;\n")); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Rehash(dir); err != nil {
		t.Fatal(err)
	}
	before, err := filepath.Glob(filepath.Join(path, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	name, err := openDev(t).Diff(ctx, dir, withNickname(t), "add_user_nickname")
	if err != nil {
		t.Fatal(err)
	}
	after, err := filepath.Glob(filepath.Join(path, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, f := range after {
		if !slices.Contains(before, f) {
			added = append(added, filepath.Base(f))
		}
	}
	if len(added) != 1 || name != added[0] {
		t.Errorf("Diff returned %q, the files it added are %v", name, added)
	}
}
