package store

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/savvysolve/api/models"
)

// Row scanners of the native reads (readRows): each holds one row's columns
// and the scan destinations that point into it, built once per statement.

// messageColumns are a message's columns (alias m), in messageRow's order.
const messageColumns = `m.id, m.session_id, m.seq, m.sender, m.author_id, m.body, m.created_at`

// optionalUserColumns are a user's columns (alias u) from a LEFT JOIN, in
// optionalUser's order.
const optionalUserColumns = `u.id, u.clerk_id, u.email, u.name, u.phone, u.role, u.stripe_customer_id, u.deleted_at, u.created_at, u.updated_at`

// messageRow is a message with its author, if joined (optionalUserColumns).
type messageRow struct {
	m      models.SessionMessage
	sender string
	author optionalUser
}

func (r *messageRow) dest() []any {
	return append([]any{&r.m.ID, &r.m.SessionID, &r.m.Seq, &r.sender, &r.m.AuthorID, &r.m.Body, &r.m.CreatedAt}, r.author.dest()...)
}

// message returns the row's message, a copy of its own.
func (r *messageRow) message() *models.SessionMessage {
	m := new(models.SessionMessage)
	*m = r.m
	m.Sender = models.MessageSender(r.sender)
	m.Author = r.author.user()
	return m
}

// optionalUser is a user's columns, all NULL where the join found none:
// those of the model's plain fields scan into nullable types, those of its
// pointer fields as the model holds them.
type optionalUser struct {
	id, clerkID, email, role        pgtype.Text
	name, phone, stripe             *string
	deletedAt, createdAt, updatedAt pgtype.Timestamptz
}

func (u *optionalUser) dest() []any {
	return []any{&u.id, &u.clerkID, &u.email, &u.name, &u.phone, &u.role, &u.stripe, &u.deletedAt, &u.createdAt, &u.updatedAt}
}

// user returns the row's user, or nil when the join found none.
func (u *optionalUser) user() *models.User {
	if !u.id.Valid {
		return nil
	}
	var deleted *time.Time
	if u.deletedAt.Valid {
		t := u.deletedAt.Time
		deleted = &t
	}
	return &models.User{ID: u.id.String, ClerkID: u.clerkID.String, Email: u.email.String, Name: u.name, Phone: u.phone,
		Role: models.UserRole(u.role.String), StripeCustomerID: u.stripe, DeletedAt: deleted,
		CreatedAt: u.createdAt.Time, UpdatedAt: u.updatedAt.Time}
}
