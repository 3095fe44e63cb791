package model

import "github.com/savvysolve/api/models"

// The edges of the connections compute their cursor only when a query asks
// for it: most pages are read without (pageInfo.endCursor has the last one),
// and encoding one per row was a good part of what a page of tickets cost.

// TicketEdge is one ticket of a TicketConnection.
type TicketEdge struct {
	Node   *models.Ticket
	cursor func(*models.Ticket) string
}

// NewTicketEdge returns the edge of t, whose cursor cursor encodes.
func NewTicketEdge(t *models.Ticket, cursor func(*models.Ticket) string) *TicketEdge {
	return &TicketEdge{Node: t, cursor: cursor}
}

// Cursor is the edge's cursor.
func (e *TicketEdge) Cursor() string { return e.cursor(e.Node) }

// SessionMessageEdge is one message of a SessionMessageConnection.
type SessionMessageEdge struct {
	Node   *models.SessionMessage
	cursor func(*models.SessionMessage) string
}

// NewSessionMessageEdge returns the edge of m, whose cursor cursor encodes.
func NewSessionMessageEdge(m *models.SessionMessage, cursor func(*models.SessionMessage) string) *SessionMessageEdge {
	return &SessionMessageEdge{Node: m, cursor: cursor}
}

// Cursor is the edge's cursor.
func (e *SessionMessageEdge) Cursor() string { return e.cursor(e.Node) }

// SolverEdge is one solver of a SolverConnection.
type SolverEdge struct {
	Node   *models.Solver
	cursor func(*models.Solver) string
}

// NewSolverEdge returns the edge of s, whose cursor cursor encodes.
func NewSolverEdge(s *models.Solver, cursor func(*models.Solver) string) *SolverEdge {
	return &SolverEdge{Node: s, cursor: cursor}
}

// Cursor is the edge's cursor.
func (e *SolverEdge) Cursor() string { return e.cursor(e.Node) }

// RatingEdge is one rating of a RatingConnection.
type RatingEdge struct {
	Node   *models.Rating
	cursor func(*models.Rating) string
}

// NewRatingEdge returns the edge of r, whose cursor cursor encodes.
func NewRatingEdge(r *models.Rating, cursor func(*models.Rating) string) *RatingEdge {
	return &RatingEdge{Node: r, cursor: cursor}
}

// Cursor is the edge's cursor.
func (e *RatingEdge) Cursor() string { return e.cursor(e.Node) }
