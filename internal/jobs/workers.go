package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/webhooks"
	"github.com/savvysolve/api/models"
)

// ClerkEventArgs is the job that applies a stored Clerk delivery.
type ClerkEventArgs struct {
	EventID string `json:"event_id"` // webhook_events.id
}

// Kind names the job in river_job.
func (ClerkEventArgs) Kind() string { return "clerk_event" }

// TelnyxEventArgs is the job that applies a stored Telnyx delivery.
type TelnyxEventArgs struct {
	EventID string `json:"event_id"` // webhook_events.id
}

// Kind names the job in river_job.
func (TelnyxEventArgs) Kind() string { return "telnyx_event" }

// applyEvent runs apply on the stored event id in one transaction that holds
// the event's row lock, and marks the event processed in the same
// transaction: a job that runs twice (a retry after a lost completion, two
// workers) applies the event once. An event already processed is skipped.
func applyEvent(ctx context.Context, db *bun.DB, log *slog.Logger, id string,
	apply func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error,
) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		e, err := store.WebhookEventForUpdate(ctx, tx, id)
		if apperr.CodeOf(err) == apperr.NotFound {
			return giveUp(ctx, log, id, fmt.Errorf("webhook event %s does not exist", id))
		}
		if err != nil {
			return err
		}
		if e.ProcessedAt != nil {
			return nil
		}
		payload, err := json.Marshal(e.Payload)
		if err != nil {
			return err
		}
		if err := apply(ctx, tx, e, payload); err != nil {
			return err
		}
		return store.MarkWebhookEventProcessed(ctx, tx, e.ID)
	})
}

// giveUp ends a job that can never succeed (a payload that cannot be
// applied): no retries; the delivery stays unprocessed for a person to look at.
func giveUp(ctx context.Context, log *slog.Logger, eventID string, err error) error {
	log.ErrorContext(ctx, "webhook event cannot be applied; job cancelled, event kept unprocessed in webhook_events",
		"event", eventID, "err", err)
	return river.JobCancel(err)
}

// clerkWorker applies Clerk user events to users.
type clerkWorker struct {
	river.WorkerDefaults[ClerkEventArgs]
	db  *bun.DB
	log *slog.Logger
}

func (w *clerkWorker) Work(ctx context.Context, job *river.Job[ClerkEventArgs]) error {
	return applyEvent(ctx, w.db, w.log, job.Args.EventID, func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error {
		ev, err := webhooks.ParseClerk(payload)
		if err != nil {
			return giveUp(ctx, w.log, e.ID, err)
		}
		u := ev.Data
		if u.ID == "" {
			return giveUp(ctx, w.log, e.ID, fmt.Errorf("%s without a user id", ev.Type))
		}
		// Events about one user apply one at a time, each seeing the last.
		if err := store.LockSubject(ctx, tx, models.SourceClerk, u.ID); err != nil {
			return err
		}
		switch ev.Type {
		case webhooks.ClerkUserDeleted:
			found, err := store.AnonymiseUser(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			w.log.InfoContext(ctx, "clerk user deleted: personal data removed, rows kept", "clerk_id", u.ID, "known", found)
			return store.RedactWebhookPayloads(ctx, tx, models.SourceClerk, u.ID)
		case webhooks.ClerkUserCreated, webhooks.ClerkUserUpdated:
			deleted, err := store.EventApplied(ctx, tx, models.SourceClerk, u.ID, webhooks.ClerkUserDeleted)
			if err != nil {
				return err
			}
			newer, err := store.NewerEventApplied(ctx, tx, e)
			if err != nil {
				return err
			}
			if deleted || newer {
				// Late: a later state (or the deletion) is already applied.
				w.log.InfoContext(ctx, "clerk event older than one already applied: skipped", "clerk_id", u.ID, "type", ev.Type, "deleted", deleted)
				if deleted {
					return store.RedactWebhookPayloads(ctx, tx, models.SourceClerk, u.ID)
				}
				return nil
			}
			applied, err := store.UpsertClerkUser(ctx, tx, store.ClerkUser{
				ClerkID: u.ID, Email: u.PrimaryEmail(), Name: u.Name(), Phone: u.PrimaryPhone(),
			})
			if err != nil {
				return err
			}
			if !applied { // the user was anonymised: it stays so
				return store.RedactWebhookPayloads(ctx, tx, models.SourceClerk, u.ID)
			}
			return nil
		}
		return nil
	})
}

// telnyxWorker applies Telnyx call and message events to call_logs and sms_logs.
type telnyxWorker struct {
	river.WorkerDefaults[TelnyxEventArgs]
	db  *bun.DB
	log *slog.Logger
}

func (w *telnyxWorker) Work(ctx context.Context, job *river.Job[TelnyxEventArgs]) error {
	last := job.Attempt >= job.MaxAttempts
	return applyEvent(ctx, w.db, w.log, job.Args.EventID, func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error {
		ev, err := webhooks.ParseTelnyx(payload)
		if err != nil {
			return giveUp(ctx, w.log, e.ID, err)
		}
		when := e.ReceivedAt
		if t := ev.When(); t != nil {
			when = *t
		}
		switch t := ev.Data.EventType; {
		case webhooks.IsCallEvent(t):
			return w.call(ctx, tx, e, ev, when, last)
		case webhooks.IsMessageEvent(t):
			return w.message(ctx, tx, e, ev, last)
		}
		return nil
	})
}

func (w *telnyxWorker) call(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, ev *webhooks.TelnyxEvent, when time.Time, last bool) error {
	c, err := ev.Call()
	if err != nil {
		return giveUp(ctx, w.log, e.ID, err)
	}
	if c.ID() == "" {
		return giveUp(ctx, w.log, e.ID, fmt.Errorf("%s without a call id", ev.Data.EventType))
	}
	ce := store.CallEvent{ProviderID: c.ID(), Direction: models.Inbound, From: c.From, To: c.To, Status: "initiated"}
	customer := c.From
	if c.Direction == "outgoing" || c.Direction == "outbound" {
		ce.Direction, customer = models.Outbound, c.To
	}
	switch ev.Data.EventType {
	case webhooks.TelnyxCallAnswered:
		ce.Status, ce.StartedAt = "answered", &when
	case webhooks.TelnyxCallHangup:
		ce.Status, ce.EndedAt = "hangup", &when
		if t, err := time.Parse(time.RFC3339Nano, c.EndTime); err == nil {
			ce.EndedAt = &t
		}
	case webhooks.TelnyxCallRecordingSaved:
		// Says nothing of the call's state: "initiated" is the lowest rank.
		for _, u := range []string{c.RecordingURLs.MP3, c.RecordingURLs.WAV} {
			if u != "" {
				ce.RecordingURL = &u
				break
			}
		}
	}
	if ce.TicketID, ce.SessionID, err = w.link(ctx, tx, c.ClientState, customer, last); err != nil {
		return err
	}
	_, err = store.UpsertCallLog(ctx, tx, ce)
	return err
}

func (w *telnyxWorker) message(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, ev *webhooks.TelnyxEvent, last bool) error {
	m, err := ev.Message()
	if err != nil {
		return giveUp(ctx, w.log, e.ID, err)
	}
	if m.ID == "" {
		return giveUp(ctx, w.log, e.ID, fmt.Errorf("%s without a message id", ev.Data.EventType))
	}
	se := store.SmsEvent{ProviderID: m.ID, Direction: models.Outbound, From: m.From.PhoneNumber, Body: m.Text}
	if len(m.To) > 0 {
		se.To, se.Status = m.To[0].PhoneNumber, m.To[0].Status
	}
	customer := se.To
	if m.Direction == "inbound" || (m.Direction == "" && ev.Data.EventType == webhooks.TelnyxMessageReceived) {
		se.Direction, customer = models.Inbound, se.From
	}
	switch {
	case ev.Data.EventType == webhooks.TelnyxMessageReceived:
		se.Status = "received"
	case se.Status == "" && ev.Data.EventType == webhooks.TelnyxMessageSent:
		se.Status = "sent"
	case se.Status == "":
		se.Status = "finalized"
	}
	if se.TicketID, se.SessionID, err = w.link(ctx, tx, m.ClientState, customer, last); err != nil {
		return err
	}
	_, err = store.UpsertSmsLog(ctx, tx, se)
	return err
}

// link finds what a call or text belongs to: the session or ticket its
// client_state names, else the newest open ticket of the customer's phone
// number (and that ticket's open session), else nothing: unlinked logs are
// kept too. A client_state naming a row that does not exist (yet) fails the
// attempt, so the job retries; on the last attempt the log is kept without it.
func (w *telnyxWorker) link(ctx context.Context, tx bun.Tx, clientState, phone string, last bool) (ticketID, sessionID *string, err error) {
	cs, ok := webhooks.ParseClientState(clientState)
	if named := cmp.Or(cs.SessionID, cs.TicketID); ok && !store.ValidID(named) {
		// Not an id of ours: it can never appear, so waiting for it is pointless.
		w.log.WarnContext(ctx, "client_state names no valid session or ticket id; linking by phone number", "session", cs.SessionID, "ticket", cs.TicketID)
		ok = false
	}
	if ok {
		ticketID, sessionID, err = linkClientState(ctx, tx, cs)
		switch {
		case err == nil:
			return ticketID, sessionID, nil
		case apperr.CodeOf(err) != apperr.NotFound:
			return nil, nil, err
		case !last:
			return nil, nil, fmt.Errorf("client_state names session %q / ticket %q, which does not exist (yet): %w", cs.SessionID, cs.TicketID, err)
		}
		w.log.WarnContext(ctx, "client_state names a session or ticket that does not exist; linking by phone number", "session", cs.SessionID, "ticket", cs.TicketID)
	}
	t, err := store.OpenTicketByPhone(ctx, tx, phone)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return withOpenSession(ctx, tx, t.ID)
}

func linkClientState(ctx context.Context, tx bun.Tx, cs webhooks.ClientState) (ticketID, sessionID *string, err error) {
	if cs.SessionID != "" {
		s, err := store.SessionByID(ctx, tx, cs.SessionID, false)
		if err != nil {
			return nil, nil, err
		}
		return &s.TicketID, &s.ID, nil
	}
	t, err := store.TicketByID(ctx, tx, cs.TicketID, false)
	if err != nil {
		return nil, nil, err
	}
	return withOpenSession(ctx, tx, t.ID)
}

// withOpenSession links to a ticket and to its open session, if it has one.
func withOpenSession(ctx context.Context, tx bun.Tx, ticketID string) (*string, *string, error) {
	s, err := store.OpenSessionOfTicket(ctx, tx, ticketID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return &ticketID, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &ticketID, &s.ID, nil
}
