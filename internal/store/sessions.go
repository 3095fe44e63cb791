package store

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/models"
)

// SessionsByIDs returns the sessions with the given ids, in no particular order.
func SessionsByIDs(ctx context.Context, db DB, ids []string) ([]*models.Session, error) {
	var ss []*models.Session
	err := selectInto(ctx, db, db.NewSelect().Model(&ss).Where("ss.id IN (?)", bun.List(validIDs(ids))), &ss)
	return ss, mapErr(err, "session")
}

// SessionsByTicketIDs returns the sessions of the given tickets, oldest first.
func SessionsByTicketIDs(ctx context.Context, db DB, ticketIDs []string) ([]*models.Session, error) {
	var ss []*models.Session
	err := selectInto(ctx, db, db.NewSelect().
		Model(&ss).
		Where("ss.ticket_id IN (?)", bun.List(validIDs(ticketIDs))).
		OrderExpr("ss.created_at, ss.id"), &ss)
	return ss, mapErr(err, "session")
}

// SessionByID returns one session; with lock, the row stays locked until the
// transaction ends (sendMessage relies on it to number messages in commit order).
func SessionByID(ctx context.Context, db DB, id string, lock bool) (*models.Session, error) {
	if !ValidID(id) {
		return nil, mapErr(sql.ErrNoRows, "session")
	}
	s := new(models.Session)
	q := db.NewSelect().Model(s).Where("ss.id = ?", id)
	if lock {
		q = q.For("UPDATE")
	}
	return s, mapErr(q.Scan(ctx), "session")
}

// SessionWithTicket returns one session with its ticket (s.Ticket), in one statement.
func SessionWithTicket(ctx context.Context, db DB, id string) (*models.Session, error) {
	if !ValidID(id) {
		return nil, mapErr(sql.ErrNoRows, "session")
	}
	s := new(models.Session)
	err := db.NewSelect().Model(s).Relation("Ticket").Where("ss.id = ?", id).Scan(ctx)
	return s, mapErr(err, "session")
}

// InsertSession inserts s and fills in its generated columns.
func InsertSession(ctx context.Context, db DB, s *models.Session) error {
	_, err := db.NewInsert().Model(s).Returning("*").Exec(ctx)
	return mapErr(err, "session")
}

// EndSession writes the end of a session: ended_at, duration, pricing and earnings.
func EndSession(ctx context.Context, db DB, s *models.Session) error {
	_, err := db.NewUpdate().
		Model(s).
		Column("ended_at", "duration", "pricing", "earnings").
		Set("updated_at = now()").
		WherePK().
		Returning("*").
		Exec(ctx)
	return mapErr(err, "session")
}

// CallLogsBySessionIDs returns the calls of the given sessions, oldest first.
func CallLogsBySessionIDs(ctx context.Context, db DB, ids []string) ([]*models.CallLog, error) {
	var ls []*models.CallLog
	err := selectInto(ctx, db, db.NewSelect().
		Model(&ls).
		Where("cl.session_id IN (?)", bun.List(validIDs(ids))).
		OrderExpr("cl.created_at, cl.id"), &ls)
	return ls, mapErr(err, "call log")
}

// SmsLogsByTicketIDs returns the texts of the given tickets, oldest first.
func SmsLogsByTicketIDs(ctx context.Context, db DB, ids []string) ([]*models.SmsLog, error) {
	var ls []*models.SmsLog
	err := selectInto(ctx, db, db.NewSelect().
		Model(&ls).
		Where("sl.ticket_id IN (?)", bun.List(validIDs(ids))).
		OrderExpr("sl.created_at, sl.id"), &ls)
	return ls, mapErr(err, "sms log")
}

// ScreenSharesBySessionIDs returns the screen shares of the given sessions, oldest first.
func ScreenSharesBySessionIDs(ctx context.Context, db DB, ids []string) ([]*models.ScreenShareSession, error) {
	var ls []*models.ScreenShareSession
	err := selectInto(ctx, db, db.NewSelect().
		Model(&ls).
		Where("sc.session_id IN (?)", bun.List(validIDs(ids))).
		OrderExpr("sc.created_at, sc.id"), &ls)
	return ls, mapErr(err, "screen share")
}
