package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/savvysolve/api/models"
)

// The states of a screen share (screen_share_sessions.status).
const (
	ScreenShareActive = "active"
	ScreenShareEnded  = "ended"
)

// ScreenShareByID returns one screen share.
func ScreenShareByID(ctx context.Context, db DB, id string) (*models.ScreenShareSession, error) {
	if !ValidID(id) {
		return nil, mapErr(sql.ErrNoRows, "screen share")
	}
	sc := new(models.ScreenShareSession)
	err := db.NewSelect().Model(sc).Where("sc.id = ?", id).Scan(ctx)
	return sc, mapErr(err, "screen share")
}

// InsertScreenShare inserts sc; a second active screen share of a session is
// CONFLICT (the partial unique index screen_share_sessions_one_active_key).
func InsertScreenShare(ctx context.Context, db DB, sc *models.ScreenShareSession) error {
	_, err := db.NewInsert().Model(sc).Returning("*").Exec(ctx)
	return mapErr(err, "active screen share")
}

// EndScreenShare ends an active screen share now; ok=false when it is not active.
func EndScreenShare(ctx context.Context, db DB, id string) (*models.ScreenShareSession, bool, error) {
	sc := new(models.ScreenShareSession)
	err := db.NewUpdate().
		Model(sc).
		Set("status = ?", ScreenShareEnded).
		Set("ended_at = now()").
		Set("updated_at = now()").
		Where("id = ? AND status = ?", id, ScreenShareActive).
		Returning("*").
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, mapErr(err, "screen share")
	}
	return sc, true, nil
}

// EndActiveScreenShares ends every active screen share of a session now and
// returns how many there were.
func EndActiveScreenShares(ctx context.Context, db DB, sessionID string) (int, error) {
	res, err := db.NewUpdate().
		Model((*models.ScreenShareSession)(nil)).
		Set("status = ?", ScreenShareEnded).
		Set("ended_at = now()").
		Set("updated_at = now()").
		Where("session_id = ? AND status = ?", sessionID, ScreenShareActive).
		Exec(ctx)
	if err != nil {
		return 0, mapErr(err, "screen share")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
