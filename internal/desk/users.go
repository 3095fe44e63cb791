package desk

// The Clerk user lifecycle: who a user token names (SignIn), and what
// Clerk's user.created, user.updated and user.deleted change
// (ApplyClerkEvent). Clerk owns sign-up; this database keeps a row per user
// for the role and for what refers to it. The row comes from whichever
// arrives first, the user's first request or Clerk's webhook, and the
// webhook corrects it; a deleted user never comes back.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/webhooks"
	"github.com/savvysolve/api/models"
)

// maxClerkIDLen bounds a token's sub: Clerk's ids have about 32 characters,
// and users.clerk_id (255) must also hold the placeholder address around it.
const maxClerkIDLen = 200

var (
	errDeletedUser = apperr.New(apperr.Unauthent, "this account was deleted; sign up again to use the service")
	errBadSubject  = apperr.New(apperr.Unauthent, "the token's subject is not a user id")
)

var _ auth.Users = (*Desk)(nil)

// SignIn returns the user a verified token names. A user the database does
// not know yet (Clerk's user.created has not arrived, or never will) is
// created at once as a CUSTOMER, with the token's email claim when it has a
// valid one, else a placeholder address that Clerk's webhook replaces later.
// Concurrent first requests of one user create one row. A user deleted by
// Clerk's user.deleted is refused (UNAUTHENTICATED) and never recreated.
func (d *Desk) SignIn(ctx context.Context, id auth.Identity) (*models.User, error) {
	if id.ClerkID == "" || len(id.ClerkID) > maxClerkIDLen || !utf8.ValidString(id.ClerkID) || strings.ContainsRune(id.ClerkID, 0) {
		return nil, errBadSubject
	}
	u, err := store.UserByClerkID(ctx, d.db, id.ClerkID)
	if apperr.CodeOf(err) == apperr.NotFound {
		u, err = store.SignInUser(ctx, d.db, id.ClerkID, tokenEmail(id.Email))
	}
	if err != nil {
		return nil, err
	}
	if u.DeletedAt != nil {
		return nil, errDeletedUser
	}
	return u, nil
}

// tokenEmail is a token's email claim when it is one plain address that
// fits users.email, else nil.
func tokenEmail(s string) *string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 255 {
		return nil
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return nil
	}
	return &s
}

// ErrUnappliable marks a provider event (a webhook delivery) that can never
// be applied, whatever the number of attempts: a malformed payload, one that
// names nothing. Its job gives up at once and the delivery is kept for a
// person to look at.
var ErrUnappliable = errors.New("the event cannot be applied")

func unappliable(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrUnappliable)
}

// ApplyClerkEvent applies a stored Clerk delivery e (payload is its body)
// in tx, which holds e's row lock:
//   - user.created and user.updated fill in or correct the user's email,
//     name and phone (creating the row when the user never signed in); an
//     event older than one already applied is skipped, and so is any event
//     about a deleted user;
//   - user.deleted anonymises the user and marks it deleted (see
//     store.DeleteUser), and removes the user's data from the stored
//     payloads.
//
// Events about one user apply one at a time, each seeing the last.
func ApplyClerkEvent(ctx context.Context, tx bun.Tx, log *slog.Logger, e *models.WebhookEvent, payload []byte) error {
	ev, err := webhooks.ParseClerk(payload)
	if err != nil {
		return unappliable("%v", err)
	}
	u := ev.Data
	if u.ID == "" {
		return unappliable("%s without a user id", ev.Type)
	}
	if err := store.LockSubject(ctx, tx, models.SourceClerk, u.ID); err != nil {
		return err
	}
	switch ev.Type {
	case webhooks.ClerkUserDeleted:
		found, err := store.DeleteUser(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "clerk user deleted: personal data removed, rows kept", "clerk_id", u.ID, "known", found)
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
			log.InfoContext(ctx, "clerk event older than one already applied: skipped", "clerk_id", u.ID, "type", ev.Type, "deleted", deleted)
			if deleted {
				return store.RedactWebhookPayloads(ctx, tx, models.SourceClerk, u.ID)
			}
			return nil
		}
		cu := store.ClerkUser{ClerkID: u.ID, Name: u.Name(), Phone: u.PrimaryPhone()}
		if email := u.PrimaryEmail(); email != "" {
			cu.Email = &email
		}
		applied, err := store.UpsertClerkUser(ctx, tx, cu)
		if err != nil {
			return err
		}
		if !applied { // the user was deleted: it stays so
			return store.RedactWebhookPayloads(ctx, tx, models.SourceClerk, u.ID)
		}
	}
	return nil
}
