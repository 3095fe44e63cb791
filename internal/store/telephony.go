package store

import (
	"context"
	"strings"
	"time"

	"github.com/savvysolve/api/models"
)

// Telnyx events of one call or message may arrive in any order, and their
// jobs may run concurrently. The upserts below therefore merge each event
// into the row in one statement (ON CONFLICT DO UPDATE, which locks the row),
// and the merge does not depend on the order: the status only moves forward
// (by rank), timestamps keep the earliest value seen, links and numbers are
// set once. Whatever order the events are applied in, the row ends the same.

// callRank orders call states: a state of lower rank never replaces one of
// higher rank, so a late call.answered cannot un-end a hung-up call.
func callRank(col string) string {
	return `(CASE ` + col + ` WHEN 'initiated' THEN 1 WHEN 'answered' THEN 2 WHEN 'hangup' THEN 3 ELSE 0 END)`
}

// smsRank orders message states: queued < sending < sent < any final state
// (delivered, delivery_failed, received, ...).
func smsRank(col string) string {
	return `(CASE ` + col + ` WHEN '' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'sent' THEN 3 ELSE 4 END)`
}

// CallEvent is what one Telnyx call event says about a call.
type CallEvent struct {
	ProviderID string // the call's call_control_id
	Direction  models.Direction
	From, To   string
	// Status is initiated, answered or hangup; an event that says nothing of
	// the state (call.recording.saved) passes initiated, the lowest.
	Status       string
	TicketID     *string
	SessionID    *string
	StartedAt    *time.Time // when answered
	EndedAt      *time.Time // when hung up
	RecordingURL *string
}

// UpsertCallLog merges one call event into the call's log row.
func UpsertCallLog(ctx context.Context, db DB, c CallEvent) (*models.CallLog, error) {
	l := new(models.CallLog)
	const started, ended = "LEAST(cl.started_at, EXCLUDED.started_at)", "LEAST(cl.ended_at, EXCLUDED.ended_at)"
	err := db.NewRaw(`
INSERT INTO call_logs AS cl (provider_id, direction, from_number, to_number, status, ticket_id, session_id,
  started_at, ended_at, recording_url, duration)
VALUES (?0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
  CASE WHEN ?7::timestamptz IS NOT NULL AND ?8::timestamptz IS NOT NULL
    THEN GREATEST(0, round(extract(epoch FROM ?8::timestamptz - ?7::timestamptz)))::int END)
ON CONFLICT (provider_id) DO UPDATE SET
  status = CASE WHEN `+callRank("EXCLUDED.status")+` > `+callRank("cl.status")+` THEN EXCLUDED.status ELSE cl.status END,
  from_number = CASE WHEN cl.from_number = '' THEN EXCLUDED.from_number ELSE cl.from_number END,
  to_number = CASE WHEN cl.to_number = '' THEN EXCLUDED.to_number ELSE cl.to_number END,
  ticket_id = COALESCE(cl.ticket_id, EXCLUDED.ticket_id),
  session_id = COALESCE(cl.session_id, EXCLUDED.session_id),
  started_at = `+started+`,
  ended_at = `+ended+`,
  duration = CASE WHEN `+started+` IS NOT NULL AND `+ended+` IS NOT NULL
    THEN GREATEST(0, round(extract(epoch FROM `+ended+` - `+started+`)))::int END,
  recording_url = COALESCE(EXCLUDED.recording_url, cl.recording_url),
  updated_at = now()
RETURNING *`,
		c.ProviderID, c.Direction, c.From, c.To, c.Status, c.TicketID, c.SessionID,
		c.StartedAt, c.EndedAt, c.RecordingURL).Scan(ctx, l)
	return l, mapErr(err, "call log")
}

// SmsEvent is what one Telnyx message event says about a text.
type SmsEvent struct {
	ProviderID string // the message's id
	Direction  models.Direction
	From, To   string
	Body       string
	Status     string // Telnyx's delivery state (queued, sent, delivered, received, ...)
	TicketID   *string
	SessionID  *string
}

// UpsertSmsLog merges one message event into the text's log row.
func UpsertSmsLog(ctx context.Context, db DB, m SmsEvent) (*models.SmsLog, error) {
	l := new(models.SmsLog)
	err := db.NewRaw(`
INSERT INTO sms_logs AS sl (provider_id, direction, from_number, to_number, body, status, ticket_id, session_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (provider_id) DO UPDATE SET
  status = CASE WHEN `+smsRank("EXCLUDED.status")+` > `+smsRank("sl.status")+` THEN EXCLUDED.status ELSE sl.status END,
  from_number = CASE WHEN sl.from_number = '' THEN EXCLUDED.from_number ELSE sl.from_number END,
  to_number = CASE WHEN sl.to_number = '' THEN EXCLUDED.to_number ELSE sl.to_number END,
  body = CASE WHEN sl.body = '' THEN EXCLUDED.body ELSE sl.body END,
  ticket_id = COALESCE(sl.ticket_id, EXCLUDED.ticket_id),
  session_id = COALESCE(sl.session_id, EXCLUDED.session_id),
  updated_at = now()
RETURNING *`,
		m.ProviderID, m.Direction, m.From, m.To, m.Body, m.Status, m.TicketID, m.SessionID).Scan(ctx, l)
	return l, mapErr(err, "sms log")
}

// OpenTicketByPhone returns the newest open ticket (pending, claimed or in
// progress) whose customer has this phone number, on the ticket's contact
// details or the customer's account; NOT_FOUND when there is none. Numbers
// compare by their digits, and by their last ten digits when both have that
// many, so "+1 (555) 010-0000" finds "555-010-0000".
func OpenTicketByPhone(ctx context.Context, db DB, phone string) (*models.Ticket, error) {
	digits := onlyDigits(phone)
	if len(digits) < 7 {
		return nil, notFound("ticket")
	}
	t := new(models.Ticket)
	err := db.NewSelect().
		Model(t).
		Join("LEFT JOIN users AS u ON u.id = t.customer_id").
		Where("t.status IN ('pending', 'claimed', 'in_progress')").
		Where(`EXISTS (
			SELECT 1 FROM (VALUES (regexp_replace(t.customer_info->>'phone', '[^0-9]', '', 'g')),
			                      (regexp_replace(u.phone, '[^0-9]', '', 'g'))) AS p(d)
			WHERE p.d = ?0 OR (length(p.d) >= 10 AND length(?0) >= 10 AND right(p.d, 10) = right(?0, 10)))`, digits).
		OrderExpr("t.created_at DESC, t.id DESC").
		Limit(1).
		Scan(ctx)
	return t, mapErr(err, "ticket")
}

// OpenSessionOfTicket returns the ticket's newest session that has not
// ended; NOT_FOUND when there is none.
func OpenSessionOfTicket(ctx context.Context, db DB, ticketID string) (*models.Session, error) {
	s := new(models.Session)
	if !ValidID(ticketID) {
		return nil, notFound("session")
	}
	err := db.NewSelect().
		Model(s).
		Where("ss.ticket_id = ? AND ss.ended_at IS NULL", ticketID).
		OrderExpr("ss.created_at DESC, ss.id DESC").
		Limit(1).
		Scan(ctx)
	return s, mapErr(err, "session")
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
