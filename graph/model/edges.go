package model

import "github.com/savvysolve/api/models"

// Edge is one node of a connection. Its cursor is encoded only when a query
// asks for it: most pages are read without (pageInfo.endCursor has the last
// one), and encoding one per row was a good part of what a page cost.
type Edge[T any] struct {
	Node   T
	cursor func(T) string
}

// NewEdge returns the edge of node, whose cursor cursor encodes.
func NewEdge[T any](node T, cursor func(T) string) *Edge[T] {
	return &Edge[T]{Node: node, cursor: cursor}
}

// Cursor is the edge's cursor.
func (e *Edge[T]) Cursor() string { return e.cursor(e.Node) }

// The edges of the schema's connections.
type (
	TicketEdge         = Edge[*models.Ticket]
	SessionMessageEdge = Edge[*models.SessionMessage]
	SolverEdge         = Edge[*models.Solver]
	RatingEdge         = Edge[*models.Rating]
	SessionEdge        = Edge[*models.Session]
	UserEdge           = Edge[*models.User]
)
