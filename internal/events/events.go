// Package events announces changes to every server replica through
// PostgreSQL's NOTIFY. Publish runs inside the writing transaction, so an
// event is delivered only once its change is committed, and never when it is
// rolled back. Payloads carry identifiers only; receivers load the rows.
package events

import (
	"context"
	"encoding/json"

	"github.com/uptrace/bun"
)

// Channel is the NOTIFY channel of all events.
const Channel = "savvysolve_events"

// Kind says what changed.
type Kind string

// The kinds of events.
const (
	// Message: a chat message was sent (ID is the message, SessionID and Seq locate it).
	Message Kind = "message"
	// Ticket: a ticket changed status (ID is the ticket; Queue says whether it
	// entered or left the queue with this change).
	Ticket Kind = "ticket"
	// Session: a session changed (ID is the session): it started or ended, a
	// screen share started or ended, its payment's status changed, it was rated.
	Session Kind = "session"
	// User: a user's row or its solver profile changed (ID is the user): the
	// store publishes it with every write to users and solvers, so that
	// every replica drops the viewer it keeps for that user (auth.Cache).
	// After changing such rows by hand, publish it too:
	//   SELECT pg_notify('savvysolve_events', '{"k":"user","id":"<user id>"}');
	User Kind = "user"
)

// Event is one change. Field names are short: payloads are limited to 8000 bytes.
type Event struct {
	Kind      Kind   `json:"k"`
	ID        string `json:"id"`
	SessionID string `json:"s,omitempty"`
	Seq       int    `json:"q,omitempty"`
	Queue     string `json:"qe,omitempty"` // "added" or "removed"
	Status    string `json:"st,omitempty"` // the ticket's status after the change
}

// Publish queues e for delivery when db's transaction commits, and hands it
// at once to the hook of ctx, if any (see WithHook).
func Publish(ctx context.Context, db bun.IDB, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err = db.ExecContext(ctx, "SELECT pg_notify(?, ?)", Channel, string(b)); err != nil {
		return err
	}
	if hook, _ := ctx.Value(hookKey{}).(func(Event)); hook != nil {
		hook(e)
	}
	return nil
}

type hookKey struct{}

// WithHook returns a context in which Publish also hands every event to
// hook, at once, before the transaction commits. The replica that makes a
// change uses it to drop what the change makes stale without waiting for
// its own NOTIFY, so that its client's next request sees the change. Only
// dropping belongs in a hook: the change may still roll back.
func WithHook(ctx context.Context, hook func(Event)) context.Context {
	return context.WithValue(ctx, hookKey{}, hook)
}
