package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/savvysolve/api/internal/database"
)

// rows is what a native read scans: pgx's own rows on the pool, database/sql's
// inside a transaction. Both scan a column into the same Go types.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readRows runs query (Bun's ? placeholders, formatted by Bun) and calls each
// for every row. On the pool it runs through pgx's own interface, so each
// value is decoded once, straight into its destination: through database/sql
// and Bun's reflective models, a value is converted to a driver.Value, then
// to its field, which cost a third of a nested chat history's CPU (bench,
// history). It is for the hot reads of many rows; the rest stays with Bun.
func readRows(ctx context.Context, db DB, each func(rows) error, query string, args ...any) error {
	query = schema.NewQueryGen(db.Dialect()).FormatQuery(query, args...)
	pool, ok := db.(*bun.DB)
	if !ok { // a transaction: Bun runs its hooks
		rs, err := db.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rs.Close()
		return scanAll(rs, each)
	}
	return database.RunHooks(ctx, pool, query, func(ctx context.Context) error {
		conn, err := pool.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			c, ok := dc.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("store: the pool's driver is %T, not pgx", dc)
			}
			rs, err := c.Conn().Query(ctx, query)
			if err != nil {
				return err
			}
			defer rs.Close()
			return scanAll(rs, each)
		})
	})
}

func scanAll(rs rows, each func(rows) error) error {
	for rs.Next() {
		if err := each(rs); err != nil {
			return err
		}
	}
	return rs.Err()
}

var _ rows = (*sql.Rows)(nil)
