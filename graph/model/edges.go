package model

import "github.com/savvysolve/api/models"

// Edge is one node of a connection. Its cursor is encoded only when a query
// asks for it: most pages are read without (pageInfo.endCursor has the last
// one), and encoding one per row was a good part of what a page cost.
type Edge[T any] struct {
	Node   T
	cursor func(T) string
}

// NewEdges returns the edges of nodes (all in one allocation), whose cursors
// cursor encodes.
func NewEdges[T any](nodes []T, cursor func(T) string) []*Edge[T] {
	es, slab := make([]*Edge[T], len(nodes)), make([]Edge[T], len(nodes))
	for i, n := range nodes {
		slab[i] = Edge[T]{Node: n, cursor: cursor}
		es[i] = &slab[i]
	}
	return es
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
