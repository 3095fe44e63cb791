package store

import (
	"context"

	"github.com/uptrace/bun"
)

// Span is what a page read learns about its whole list besides the page:
// how many items match, and whether any of them come before the page (at or
// before its `after` cursor: the connection's hasPreviousPage).
type Span struct {
	Total    int
	Previous bool
}

// span counts the rows of q, and tells whether any of them satisfy previous
// (the condition "at or before the cursor"; "" when there is no cursor), in
// one statement: the page's count and its hasPreviousPage cost nothing more
// than the count did alone.
func span(ctx context.Context, q *bun.SelectQuery, previous string, args ...any) (Span, error) {
	var s Span
	if previous == "" {
		previous, args = "false", nil
	}
	err := q.ColumnExpr("count(*)").
		ColumnExpr("coalesce(bool_or("+previous+"), false)", args...).
		Scan(ctx, &s.Total, &s.Previous)
	return s, err
}
