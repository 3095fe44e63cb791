package desk

// Calls and texts (Telnyx): what each event changes in call_logs and
// sms_logs, and which ticket and session a call or text belongs to.

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/webhooks"
	"github.com/savvysolve/api/models"
)

// ApplyTelnyxEvent applies a stored Telnyx delivery e (payload is its body)
// in tx, which holds e's row lock: a call event is merged into its call's
// log, a message event into its text's log (in any order, see
// store.UpsertCallLog), each linked to a ticket and session (see link).
// final says that this is the last attempt: a link that cannot be made yet
// is then given up and the log kept without it.
func ApplyTelnyxEvent(ctx context.Context, tx bun.Tx, log *slog.Logger, e *models.WebhookEvent, payload []byte, final bool) error {
	ev, err := webhooks.ParseTelnyx(payload)
	if err != nil {
		return unappliable("%v", err)
	}
	when := e.ReceivedAt
	if t := ev.When(); t != nil {
		when = *t
	}
	l := linker{tx: tx, log: log, final: final}
	switch t := ev.Data.EventType; {
	case webhooks.IsCallEvent(t):
		return l.call(ctx, ev, when)
	case webhooks.IsMessageEvent(t):
		return l.message(ctx, ev)
	}
	return nil
}

type linker struct {
	tx    bun.Tx
	log   *slog.Logger
	final bool
}

func (l linker) call(ctx context.Context, ev *webhooks.TelnyxEvent, when time.Time) error {
	c, err := ev.Call()
	if err != nil {
		return unappliable("%v", err)
	}
	if c.ID() == "" {
		return unappliable("%s without a call id", ev.Data.EventType)
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
	if ce.TicketID, ce.SessionID, err = l.link(ctx, c.ClientState, customer); err != nil {
		return err
	}
	_, err = store.UpsertCallLog(ctx, l.tx, ce)
	return err
}

func (l linker) message(ctx context.Context, ev *webhooks.TelnyxEvent) error {
	m, err := ev.Message()
	if err != nil {
		return unappliable("%v", err)
	}
	if m.ID == "" {
		return unappliable("%s without a message id", ev.Data.EventType)
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
	if se.TicketID, se.SessionID, err = l.link(ctx, m.ClientState, customer); err != nil {
		return err
	}
	_, err = store.UpsertSmsLog(ctx, l.tx, se)
	return err
}

// link finds what a call or text belongs to: the session or ticket its
// client_state names, else the newest open ticket of the customer's phone
// number (and that ticket's open session), else nothing: unlinked logs are
// kept too. A client_state naming a row that does not exist (yet) fails the
// attempt, so the job retries; on the final attempt the log is kept without it.
func (l linker) link(ctx context.Context, clientState, phone string) (ticketID, sessionID *string, err error) {
	cs, ok := webhooks.ParseClientState(clientState)
	if named := cmp.Or(cs.SessionID, cs.TicketID); ok && !store.ValidID(named) {
		// Not an id of ours: it can never appear, so waiting for it is pointless.
		l.log.WarnContext(ctx, "client_state names no valid session or ticket id; linking by phone number", "session", cs.SessionID, "ticket", cs.TicketID)
		ok = false
	}
	if ok {
		ticketID, sessionID, err = l.linkClientState(ctx, cs)
		switch {
		case err == nil:
			return ticketID, sessionID, nil
		case apperr.CodeOf(err) != apperr.NotFound:
			return nil, nil, err
		case !l.final:
			return nil, nil, fmt.Errorf("client_state names session %q / ticket %q, which does not exist (yet): %w", cs.SessionID, cs.TicketID, err)
		}
		l.log.WarnContext(ctx, "client_state names a session or ticket that does not exist; linking by phone number", "session", cs.SessionID, "ticket", cs.TicketID)
	}
	t, err := store.OpenTicketByPhone(ctx, l.tx, phone)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return l.withOpenSession(ctx, t.ID)
}

func (l linker) linkClientState(ctx context.Context, cs webhooks.ClientState) (ticketID, sessionID *string, err error) {
	if cs.SessionID != "" {
		s, err := store.SessionByID(ctx, l.tx, cs.SessionID, false)
		if err != nil {
			return nil, nil, err
		}
		return &s.TicketID, &s.ID, nil
	}
	t, err := store.TicketByID(ctx, l.tx, cs.TicketID, false)
	if err != nil {
		return nil, nil, err
	}
	return l.withOpenSession(ctx, t.ID)
}

// withOpenSession links to a ticket and to its open session, if it has one.
func (l linker) withOpenSession(ctx context.Context, ticketID string) (*string, *string, error) {
	s, err := store.OpenSessionOfTicket(ctx, l.tx, ticketID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return &ticketID, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &ticketID, &s.ID, nil
}
