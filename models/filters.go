package models

import "time"

// TicketFilter narrows a ticket list. Scope fields (CustomerID, SolverID,
// TicketID) come from the viewer; the others from the client.
type TicketFilter struct {
	Status     []TicketStatus
	Urgency    []Urgency
	DeviceType []DeviceType
	SolverID   *string
	CustomerID *string
	TicketID   *string
	Search     string
}

// SessionFilter narrows the session history. Scope fields (CustomerID,
// TicketID, and SolverID for solvers) come from the viewer; the others from
// the client.
type SessionFilter struct {
	SolverID      *string
	CustomerID    *string // sessions of the tickets this user opened
	TicketID      *string
	Active        *bool // true: started and not ended; false: ended
	StartedAfter  *time.Time
	StartedBefore *time.Time
}

// UserFilter narrows the user list.
type UserFilter struct {
	Role   *UserRole
	Search string // a substring of the name or the email, case-insensitive
}
