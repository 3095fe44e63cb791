package migrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
)

// The Atlas CLI keeps its history in atlas_schema_revisions.atlas_schema_revisions;
// using the same table lets a person with the CLI run `atlas migrate status` on a
// database this server migrated, and the other way round.
const (
	revisionSchema = "atlas_schema_revisions"
	revisionTable  = revisionSchema + "." + revisionSchema
	// The CLI stores its cloud identity in the same table; it is not a migration.
	cloudIdentifier = ".atlas_cloud_identifier"
)

// revisions implements migrate.RevisionReadWriter on the CLI's table.
type revisions struct {
	db execQuerier
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

func (r *revisions) Ident() *migrate.TableIdent {
	return &migrate.TableIdent{Name: revisionSchema, Schema: revisionSchema}
}

// init creates the table when it is missing, in the CLI's layout.
func (r *revisions) init(ctx context.Context) error {
	_, err := r.db.ExecContext(ctx, `
CREATE SCHEMA IF NOT EXISTS atlas_schema_revisions;
CREATE TABLE IF NOT EXISTS atlas_schema_revisions.atlas_schema_revisions (
  version          varchar NOT NULL PRIMARY KEY,
  description      varchar NOT NULL,
  type             bigint NOT NULL DEFAULT 2,
  applied          bigint NOT NULL DEFAULT 0,
  total            bigint NOT NULL DEFAULT 0,
  executed_at      timestamptz NOT NULL,
  execution_time   bigint NOT NULL,
  error            text NULL,
  error_stmt       text NULL,
  hash             varchar NOT NULL,
  partial_hashes   jsonb NULL,
  operator_version varchar NOT NULL
)`)
	return err
}

// exists reports whether the revision table exists (a database never migrated has none).
func (r *revisions) exists(ctx context.Context) (bool, error) {
	var ok bool
	err := r.db.QueryRowContext(ctx, `SELECT to_regclass('atlas_schema_revisions.atlas_schema_revisions') IS NOT NULL`).Scan(&ok)
	return ok, err
}

const revisionColumns = `version, description, type, applied, total, executed_at, execution_time,
  coalesce(error, ''), coalesce(error_stmt, ''), hash, partial_hashes, operator_version`

func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	if ok, err := r.exists(ctx); err != nil || !ok {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, `SELECT `+revisionColumns+` FROM `+revisionTable+
		` WHERE version <> $1 ORDER BY version`, cloudIdentifier)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, err
		}
		revs = append(revs, rev)
	}
	return revs, rows.Err()
}

func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	if ok, err := r.exists(ctx); err != nil {
		return nil, err
	} else if !ok {
		return nil, migrate.ErrRevisionNotExist
	}
	rows, err := r.db.QueryContext(ctx, `SELECT `+revisionColumns+` FROM `+revisionTable+` WHERE version = $1`, version)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, migrate.ErrRevisionNotExist
	}
	return scanRevision(rows)
}

func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	partial, err := json.Marshal(rev.PartialHashes)
	if err != nil {
		return err
	}
	_, err = r.db.ExecContext(ctx, `
INSERT INTO `+revisionTable+` (version, description, type, applied, total, executed_at,
  execution_time, error, error_stmt, hash, partial_hashes, operator_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), nullif($9, ''), $10, $11, $12)
ON CONFLICT (version) DO UPDATE SET description = excluded.description, type = excluded.type,
  applied = excluded.applied, total = excluded.total, executed_at = excluded.executed_at,
  execution_time = excluded.execution_time, error = excluded.error, error_stmt = excluded.error_stmt,
  hash = excluded.hash, partial_hashes = excluded.partial_hashes, operator_version = excluded.operator_version`,
		rev.Version, rev.Description, int64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt,
		int64(rev.ExecutionTime), rev.Error, rev.ErrorStmt, strings.TrimPrefix(rev.Hash, "h1:"),
		string(partial), rev.OperatorVersion)
	if err != nil {
		return fmt.Errorf("write revision %s: %w", rev.Version, err)
	}
	return nil
}

func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	_, err := r.db.ExecContext(ctx, `DELETE FROM `+revisionTable+` WHERE version = $1`, version)
	return err
}

func scanRevision(rows *sql.Rows) (*migrate.Revision, error) {
	var (
		rev     migrate.Revision
		typ     int64
		execNs  int64
		partial []byte
	)
	err := rows.Scan(&rev.Version, &rev.Description, &typ, &rev.Applied, &rev.Total, &rev.ExecutedAt,
		&execNs, &rev.Error, &rev.ErrorStmt, &rev.Hash, &partial, &rev.OperatorVersion)
	if err != nil {
		return nil, err
	}
	rev.Type = migrate.RevisionType(typ)
	rev.ExecutionTime = time.Duration(execNs)
	if len(partial) > 0 && string(partial) != "null" {
		if err := json.Unmarshal(partial, &rev.PartialHashes); err != nil {
			return nil, errors.New("revision " + rev.Version + ": bad partial_hashes")
		}
	}
	return &rev, nil
}
