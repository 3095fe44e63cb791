package store

import (
	"context"

	"github.com/savvysolve/api/internal/page"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/models"
)

// MessagePage asks for First messages of a session after sequence number AfterSeq.
type MessagePage struct {
	SessionID string
	AfterSeq  int
	First     int
}

// MessagePages reads one page of messages for each key in one statement: a
// LATERAL join runs the (session_id, seq) index scan once per key, so twenty
// sessions cost one round trip, not twenty. Each page holds up to First+1
// messages (the extra one tells that more follow), oldest first, each with
// its author (m.Author) joined in: a chat shows who wrote what, and a page of
// a hundred messages would otherwise wait for a second round of loads.
func MessagePages(ctx context.Context, db DB, keys []MessagePage) ([]*models.SessionMessage, error) {
	ids, after, limits := make([]string, 0, len(keys)), make([]int, 0, len(keys)), make([]int, 0, len(keys))
	for _, k := range keys {
		if ValidID(k.SessionID) {
			ids, after, limits = append(ids, k.SessionID), append(after, k.AfterSeq), append(limits, k.First+1)
		}
	}
	var ms []*models.SessionMessage
	err := db.NewSelect().
		Model(&ms).
		ModelTableExpr(`unnest(?::uuid[], ?::int[], ?::int[]) AS k(session_id, after_seq, lim)
			CROSS JOIN LATERAL (
			SELECT * FROM session_messages x
			WHERE x.session_id = k.session_id AND x.seq > k.after_seq
			ORDER BY x.seq LIMIT k.lim) AS m`, pgArray(ids), pgArray(after), pgArray(limits)).
		Relation("Author").
		OrderExpr("m.session_id, m.seq").
		Scan(ctx)
	return ms, mapErr(err, "message")
}

// MessagesAfter returns up to limit messages of a session after seq, oldest
// first, with their authors.
func MessagesAfter(ctx context.Context, db DB, sessionID string, afterSeq, limit int) ([]*models.SessionMessage, error) {
	var ms []*models.SessionMessage
	err := db.NewSelect().
		Model(&ms).
		Relation("Author").
		Where("m.session_id = ? AND m.seq > ?", sessionID, afterSeq).
		OrderExpr("m.seq").
		Limit(int64(limit)).
		Scan(ctx)
	return ms, mapErr(err, "message")
}

// MessagesByIDs returns the messages with the given ids, with their authors,
// in no particular order. (The live hub reads new messages with it: every
// subscriber then has the author without a load of its own.)
func MessagesByIDs(ctx context.Context, db DB, ids []string) ([]*models.SessionMessage, error) {
	var ms []*models.SessionMessage
	err := db.NewSelect().Model(&ms).Relation("Author").Where("m.id IN (?)", bun.List(validIDs(ids))).Scan(ctx)
	return ms, mapErr(err, "message")
}

// InsertMessage appends m to its session: it takes the next sequence number by
// incrementing sessions.message_count, which locks the session row until the
// transaction ends, so a session's messages commit in sequence order and a
// reader following seq never skips one that commits late.
func InsertMessage(ctx context.Context, db DB, m *models.SessionMessage) error {
	err := db.NewUpdate().
		Model((*models.Session)(nil)).
		Set("message_count = message_count + 1").
		Where("id = ?", m.SessionID).
		Returning("message_count").
		Scan(ctx, &m.Seq)
	if err != nil {
		return mapErr(err, "session")
	}
	_, err = db.NewInsert().Model(m).Returning("*").Exec(ctx)
	return mapErr(err, "message")
}

// MessageCursor is the cursor of m in its session's messages.
func MessageCursor(m *models.SessionMessage) string { return page.Cursor(m.Seq) }

// MessageCursorSeq reads the sequence number out of a MessageCursor.
func MessageCursorSeq(c string) (int, error) {
	var seq int
	if err := page.Decode("after", c, &seq); err != nil {
		return 0, err
	}
	return seq, nil
}
