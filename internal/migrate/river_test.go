package migrate_test

import (
	"context"
	"sync"
	"testing"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/migrate"
)

// TestApplyRiver installs River's tables once (replicas racing included), and
// the live drift check, which knows nothing of them, still passes.
func TestApplyRiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQL(t, dbtest.NewURL(t, true))
	if _, err := migrate.Apply(ctx, db, embedded(t), quiet); err != nil {
		t.Fatal(err)
	}

	const workers = 4
	var (
		wg      sync.WaitGroup
		applied [workers][]int
		errs    [workers]error
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = migrate.ApplyRiver(ctx, db, quiet)
		}()
	}
	wg.Wait()
	total := 0
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("worker %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	var versions int
	if err := db.QueryRow(`SELECT count(*) FROM river_migration`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions == 0 || total != versions {
		t.Errorf("applied %d River versions in all (%v), river_migration has %d", total, applied, versions)
	}
	if again, err := migrate.ApplyRiver(ctx, db, quiet); err != nil || len(again) != 0 {
		t.Errorf("second ApplyRiver = %v, %v; want nothing applied", again, err)
	}
	var jobTable bool
	if err := db.QueryRow(`SELECT to_regclass('public.river_job') IS NOT NULL`).Scan(&jobTable); err != nil || !jobTable {
		t.Fatalf("river_job exists: %v, %v", jobTable, err)
	}

	wantProblems(t, check(t, openDev(t), embedded(t), readSchema(t), db))
}
