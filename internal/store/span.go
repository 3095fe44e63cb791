package store

import (
	"context"

	"github.com/savvysolve/api/internal/page"

	"github.com/uptrace/bun"
)

// span counts the rows of q, and tells whether any of them satisfy previous
// (the condition "at or before the cursor"; "" when there is no cursor), in
// one statement: the page's count and its hasPreviousPage cost nothing more
// than the count did alone.
func span(ctx context.Context, q *bun.SelectQuery, previous string, args ...any) (page.Span, error) {
	var s page.Span
	if previous == "" {
		previous, args = "false", nil
	}
	err := q.ColumnExpr("count(*)").
		ColumnExpr("coalesce(bool_or("+previous+"), false)", args...).
		Scan(ctx, &s.Total, &s.Previous)
	return s, err
}
