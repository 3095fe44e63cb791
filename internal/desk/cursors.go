package desk

import "github.com/savvysolve/api/internal/store"

// The cursors of the lists the desk serves: opaque positions in each list's
// order, which the store reads back from `after` and `before`.
var (
	TicketCursor  = store.TicketCursor
	QueueCursor   = store.QueueCursor
	SessionCursor = store.SessionCursor
	MessageCursor = store.MessageCursor
	SolverCursor  = store.SolverCursor
	RatingCursor  = store.RatingCursor
	UserCursor    = store.UserCursor
)
