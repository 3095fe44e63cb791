// Package store holds the SQL of the service: Bun queries on bun.IDB, so each
// function runs alike on the pool and inside a transaction (the reads of many
// rows scan pgx's own rows on the pool: see native.go). Driver errors are
// mapped to apperr codes here and nowhere else.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
)

// DB is what store functions run on: the pool or a transaction.
type DB = bun.IDB

// mapErr turns driver errors into client errors with a code; kind names the
// object for NOT_FOUND. Errors it does not know stay internal.
func mapErr(err error, kind string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFoundf(kind)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The caller's deadline passed (pgx reports it as a timeout too):
		// the request took too long, the database is not down.
		return apperr.Deadline
	}
	if unavailable(err) {
		return errUnavailable
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err
	}
	switch pg.Code {
	case "23505": // unique_violation
		return apperr.New(apperr.Conflict, "%s already exists", kind)
	case "23503": // foreign_key_violation
		return apperr.New(apperr.BadUserInput, "%s refers to something that does not exist, or is still referred to", kind)
	case "23514", "23502", "22001": // check, not null, string too long
		return apperr.New(apperr.BadUserInput, "%s is not valid", kind)
	case "57P01", "57P02", "57P03", "08000", "08003", "08006": // shutting down, starting, connection lost
		return errUnavailable
	case "57014": // query_canceled (statement timeout)
		return apperr.New(apperr.Internal, "the database took too long")
	}
	return err
}

// TxErr maps the error of a transaction's BEGIN or COMMIT, as the store's
// functions map those of their statements.
func TxErr(err error) error { return mapErr(err, "transaction") }

// errUnavailable answers requests while the database cannot be reached: they
// fail fast with a clear message instead of hanging or leaking driver text.
var errUnavailable = apperr.New(apperr.Unavailable, "the database is unavailable; try again shortly")

// unavailable reports errors of reaching the database (refused, reset, timed
// out connecting), as opposed to errors of a statement.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err)
}

// ValidID reports whether id can be a row id: a UUID in its canonical
// 8-4-4-4-12 hex form (the form the database returns, so that rows match
// their keys). Ids that cannot are reported as NOT_FOUND by callers, like any
// id that names nothing. It runs for every key of every batch: a scan, not a
// regular expression (a twentieth of a page of tickets' CPU).
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// validIDs keeps the ids that can exist, so a malformed key in a batch does not
// fail the whole statement.
func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if ValidID(id) {
			out = append(out, id)
		}
	}
	return out
}
