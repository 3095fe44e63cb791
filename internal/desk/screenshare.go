package desk

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Screen sharing: the session's solver (or an admin) starts and ends screen
// shares of an IN_PROGRESS session, at most one active at a time; endSession
// ends any still active. Every change is a change of the session
// (sessionUpdated). Writers lock the session row first, so the checks and
// the partial unique index agree without deadlocks.

// mayShareScreen: the session's solver or an admin.
func mayShareScreen(v auth.Viewer, s *models.Session) bool {
	return v.IsAdmin() || (v.Solver != nil && v.Solver.ID == s.SolverID)
}

func checkScreenShare(provider string, joinURL *string) (string, *string, error) {
	provider = strings.TrimSpace(provider)
	if n := utf8.RuneCountInString(provider); n < 1 || n > 50 {
		return "", nil, apperr.Invalid("provider", "provider must have 1 to 50 characters")
	}
	if joinURL = trimmed(joinURL); joinURL != nil {
		u, err := url.Parse(*joinURL)
		if err != nil || len(*joinURL) > 2000 || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return "", nil, apperr.Invalid("joinUrl", "joinUrl must be an http(s) link of at most 2000 characters")
		}
	}
	return provider, joinURL, nil
}

// StartScreenShare starts a screen share of an IN_PROGRESS session.
func (d *Desk) StartScreenShare(ctx context.Context, sessionID, provider string, joinURL *string) (*models.ScreenShareSession, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	provider, joinURL, err := checkScreenShare(provider, joinURL)
	if err != nil {
		return nil, err
	}
	var sc *models.ScreenShareSession
	err = d.tx(ctx, func(tx bun.Tx) error {
		s, _, err := d.participant(ctx, tx, v, sessionID)
		if err != nil {
			return err
		}
		if !mayShareScreen(v, s) {
			return apperr.New(apperr.Forbidden, "only the session's solver or an admin may share a screen")
		}
		if s.StartedAt == nil || s.EndedAt != nil {
			return apperr.New(apperr.Conflict, "screens are shared during an IN_PROGRESS session only")
		}
		now := time.Now()
		sc = &models.ScreenShareSession{SessionID: s.ID, Provider: provider, Status: store.ScreenShareActive, JoinURL: joinURL, StartedAt: &now}
		if err := store.InsertScreenShare(ctx, tx, sc); err != nil {
			if apperr.CodeOf(err) == apperr.Conflict {
				return apperr.New(apperr.Conflict, "the session already has an active screen share: end it first")
			}
			return err
		}
		return sessionChanged(ctx, tx, s.ID)
	})
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// EndScreenShare ends an active screen share: the session's solver or an admin.
func (d *Desk) EndScreenShare(ctx context.Context, id string) (*models.ScreenShareSession, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	var out *models.ScreenShareSession
	err := d.tx(ctx, func(tx bun.Tx) error {
		sc, err := store.ScreenShareByID(ctx, tx, id)
		if err != nil {
			return err
		}
		s, _, err := d.participant(ctx, tx, v, sc.SessionID)
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.NotFoundf("screen share")
		}
		if err != nil {
			return err
		}
		if !mayShareScreen(v, s) {
			return apperr.New(apperr.Forbidden, "only the session's solver or an admin may end a screen share")
		}
		sc, ok, err := store.EndScreenShare(ctx, tx, sc.ID)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.Conflict, "the screen share has ended already")
		}
		out = sc
		return sessionChanged(ctx, tx, s.ID)
	})
	return out, err
}

// sessionChanged marks a session changed and announces it (sessionUpdated),
// inside the writing transaction.
func sessionChanged(ctx context.Context, tx bun.IDB, sessionID string) error {
	if err := store.TouchSession(ctx, tx, sessionID); err != nil {
		return err
	}
	return events.Publish(ctx, tx, events.Event{Kind: events.Session, ID: sessionID})
}
