package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/savvysolve/api/internal/page"
)

// span counts the rows of q, and tells whether any of them satisfy previous
// (the condition "at or before the cursor"; "" when there is no cursor), in
// one statement: the page's count and its hasPreviousPage cost nothing more
// than the count did alone.
func span(ctx context.Context, db DB, q *bun.SelectQuery, previous string, args ...any) (page.Span, error) {
	var s page.Span
	if previous == "" {
		previous, args = "false", nil
	}
	query, err := q.ColumnExpr("count(*)").
		ColumnExpr("coalesce(bool_or("+previous+"), false)", args...).
		AppendQuery(schema.NewQueryGen(db.Dialect()), nil)
	if err != nil {
		return s, err
	}
	err = readRows(ctx, db, func(rs rows) error { return rs.Scan(&s.Total, &s.Previous) }, string(query))
	return s, err
}

// byCreation reads a page of the rows of model T's table (alias its alias in
// the queries) that filter keeps, ordered by (created_at, id), newest first
// or with oldest first, after the cursor p.After (a Cursor of created_at and
// id), up to p.First+1 rows (the extra one tells that more follow), with the
// page's span unless p.Uncounted. name names the rows in errors.
func byCreation[M any](ctx context.Context, db DB, alias, name string, oldestFirst bool,
	filter func(*bun.SelectQuery) *bun.SelectQuery, p page.Request) (rows []*M, sp page.Span, err error) {
	var at time.Time
	var id string
	key := "(" + alias + ".created_at, " + alias + ".id)"
	// The order names the columns one by one: ordered by the row (key) itself,
	// PostgreSQL cannot walk an index and sorts every row the filter keeps
	// (the history page of COMPLETED tickets: 4.3 ms against 0.3).
	before, after, order := " >= ", " < ", alias+".created_at DESC, "+alias+".id DESC" // at or before the cursor; after it
	if oldestFirst {
		before, after, order = " <= ", " > ", alias+".created_at, "+alias+".id"
	}
	var previous string
	if p.After != "" {
		if err := page.Decode("after", p.After, &at, &id); err != nil {
			return nil, sp, err
		}
		previous = key + before + "(?, ?::uuid)"
	}
	var model *M // a nil pointer of the model's type: the table, for the span
	if !p.Uncounted {
		if sp, err = span(ctx, db, db.NewSelect().Model(model).Apply(filter), previous, at, id); err != nil {
			return nil, sp, mapErr(err, name)
		}
	}
	q := db.NewSelect().Model(&rows).Apply(filter).OrderExpr(order).Limit(int64(p.First + 1))
	if p.After != "" {
		q = q.Where(key+after+"(?, ?::uuid)", at, id)
	}
	return rows, sp, mapErr(selectInto(ctx, db, q, &rows), name)
}

// SolverPage asks for First rows of a solver (its ratings, its sessions)
// after a cursor, newest first.
type SolverPage struct {
	SolverID string
	After    string
	First    int
}

// solverPages reads one page (up to First+1 rows) of table's rows for each
// key, with the number of the solver's rows and whether rows come before the
// page, in one statement: a LATERAL join per key. Rows carry the index of
// their key (key), the total (total) and previous; columns are the page's
// columns (of alias). A key whose solver has no rows returns one row with a
// zero id and the total 0. rows is a pointer to a slice of row structs.
func solverPages(ctx context.Context, db DB, keys []SolverPage, table, alias, columns string, rows any) error {
	n := len(keys)
	idx, ids, ats, afterIDs, limits := make([]int, 0, n), make([]string, 0, n), make([]*time.Time, 0, n), make([]*string, 0, n), make([]int, 0, n)
	for i, k := range keys {
		if !ValidID(k.SolverID) {
			continue
		}
		var at *time.Time
		var id *string
		if k.After != "" {
			at, id = new(time.Time), new(string)
			if err := page.Decode("after", k.After, at, id); err != nil {
				return err
			}
		}
		idx, ids, ats, afterIDs, limits = append(idx, i), append(ids, k.SolverID), append(ats, at), append(afterIDs, id), append(limits, k.First+1)
	}
	return db.NewSelect().
		TableExpr("unnest(?::int[], ?::uuid[], ?::timestamptz[], ?::uuid[], ?::int[]) AS k(key, solver_id, after_at, after_id, lim)",
			pgArray(idx), pgArray(ids), pgArray(ats), pgArray(afterIDs), pgArray(limits)).
		ColumnExpr(columns+", k.key, c.total, c.previous").
		Join(`CROSS JOIN LATERAL (
			SELECT count(*) AS total,
				coalesce(bool_or(k.after_at IS NOT NULL AND (created_at, id) >= (k.after_at, k.after_id)), false) AS previous
			FROM ? WHERE solver_id = k.solver_id) AS c`, bun.Ident(table)).
		Join(`LEFT JOIN LATERAL (
			SELECT * FROM ? x
			WHERE x.solver_id = k.solver_id AND (k.after_at IS NULL OR (x.created_at, x.id) < (k.after_at, k.after_id))
			ORDER BY x.created_at DESC, x.id DESC LIMIT k.lim) AS ? ON true`, bun.Ident(table), bun.Ident(alias)).
		OrderExpr("k.key, ?.created_at DESC, ?.id DESC", bun.Ident(alias), bun.Ident(alias)).
		Scan(ctx, rows)
}
