package store

import (
	"context"
	"strconv"

	"github.com/savvysolve/api/internal/page"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/models"
)

// MessagePage asks for a page of a session's messages between two sequence
// numbers (both exclusive; 0 means no bound): the N oldest of that range, or
// with Backward the N newest (a chat opening at its latest message).
type MessagePage struct {
	SessionID string
	AfterSeq  int
	BeforeSeq int
	N         int
	Backward  bool
}

// noBound stands for "up to the newest message" in BeforeSeq.
const noBound = 1<<31 - 1

// MessagePages reads one page of messages for each key in one statement: a
// LATERAL join runs the (session_id, seq) index scan once per key, so twenty
// sessions cost one round trip, not twenty. For each key it returns up to
// N+1 messages of the range (the extra one tells that more follow: forward,
// or backward), plus the nearest message at or before AfterSeq and the
// nearest at or after BeforeSeq, if any (they tell whether messages lie
// outside the range, for hasPreviousPage and hasNextPage; a range without a
// bound skips its probe, a one-time filter). Rows come ordered
// by session and seq, each with its author (m.Author) joined in, read once
// per author (shareAuthors): a chat shows who wrote what, and a page of a
// hundred messages would otherwise wait for a second round of loads. Keys of
// one session may share rows: callers pick each key's rows by range (see
// loaders).
func MessagePages(ctx context.Context, db DB, keys []MessagePage) ([]*models.SessionMessage, error) {
	n := len(keys)
	ids, after, before, limits, back := make([]string, 0, n), make([]int, 0, n), make([]int, 0, n), make([]int, 0, n), make([]bool, 0, n)
	for _, k := range keys {
		if ValidID(k.SessionID) {
			b := k.BeforeSeq
			if b <= 0 {
				b = noBound
			}
			ids, after, before = append(ids, k.SessionID), append(after, k.AfterSeq), append(before, b)
			limits, back = append(limits, k.N+1), append(back, k.Backward)
		}
	}
	ms, err := readMessages(ctx, db, messagePages, pgArray(ids), pgArray(after), pgArray(before), pgArray(limits), pgArray(back))
	if err != nil {
		return nil, mapErr(err, "message")
	}
	shareAuthors(ms)
	return ms, nil
}

// messagePages is MessagePages' statement.
var messagePages = `SELECT ` + messageColumns + `, ` + optionalUserColumns + `
		FROM (SELECT y.*, row_number() OVER (PARTITION BY y.author_id) = 1 AS first_of_author
			FROM unnest(?::uuid[], ?::int[], ?::int[], ?::int[], ?::bool[]) AS k(session_id, after_seq, before_seq, lim, back)
			CROSS JOIN LATERAL (
			(SELECT * FROM session_messages x
			WHERE NOT k.back AND x.session_id = k.session_id AND x.seq > k.after_seq AND x.seq < k.before_seq
			ORDER BY x.seq LIMIT k.lim)
			UNION ALL
			(SELECT * FROM session_messages x
			WHERE k.back AND x.session_id = k.session_id AND x.seq > k.after_seq AND x.seq < k.before_seq
			ORDER BY x.seq DESC LIMIT k.lim)
			UNION ALL
			(SELECT * FROM session_messages x
			WHERE k.after_seq > 0 AND x.session_id = k.session_id AND x.seq <= k.after_seq
			ORDER BY x.seq DESC LIMIT 1)
			UNION ALL
			(SELECT * FROM session_messages x
			WHERE k.before_seq < ` + strconv.Itoa(noBound) + ` AND x.session_id = k.session_id AND x.seq >= k.before_seq
			ORDER BY x.seq LIMIT 1)) AS y) AS m
		LEFT JOIN users AS u ON u.id = m.author_id AND m.first_of_author
		ORDER BY m.session_id, m.seq`

// shareAuthors points every message at its author, read once per author:
// the statement joins an author's row to its first message only, since the
// same few people write most messages of a page and each joined row costs
// its columns' decoding.
func shareAuthors(ms []*models.SessionMessage) {
	authors := map[string]*models.User{}
	for _, m := range ms {
		if m.Author != nil && m.Author.ID != "" {
			authors[m.Author.ID] = m.Author
		}
	}
	for _, m := range ms {
		m.Author = nil
		if m.AuthorID != nil {
			m.Author = authors[*m.AuthorID]
		}
	}
}

// MessagesAfter returns up to limit messages of a session after seq, oldest
// first, with their authors.
func MessagesAfter(ctx context.Context, db DB, sessionID string, afterSeq, limit int) ([]*models.SessionMessage, error) {
	ms, err := readMessages(ctx, db, messagesWithAuthors+`
		WHERE m.session_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, sessionID, afterSeq, limit)
	return ms, mapErr(err, "message")
}

// MessagesByIDs returns the messages with the given ids, with their authors,
// in no particular order. (The live hub reads new messages with it: every
// subscriber then has the author without a load of its own.)
func MessagesByIDs(ctx context.Context, db DB, ids []string) ([]*models.SessionMessage, error) {
	ms, err := readMessages(ctx, db, messagesWithAuthors+`
		WHERE m.id IN (?)`, bun.List(validIDs(ids)))
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

// MessageCursorSeq reads the sequence number out of a MessageCursor that came
// in the argument arg (after, before).
func MessageCursorSeq(arg, c string) (int, error) {
	var seq int
	if err := page.Decode(arg, c, &seq); err != nil {
		return 0, err
	}
	return seq, nil
}

// messagesWithAuthors selects messages (alias m) with their authors, for a
// WHERE clause to follow.
const messagesWithAuthors = `SELECT ` + messageColumns + `, ` + optionalUserColumns + `
		FROM session_messages AS m LEFT JOIN users AS u ON u.id = m.author_id`

// readMessages reads messages with their authors: query selects
// messageColumns and optionalUserColumns (a LEFT JOIN of users as u).
func readMessages(ctx context.Context, db DB, query string, args ...any) ([]*models.SessionMessage, error) {
	var ms []*models.SessionMessage
	var r messageRow
	var sc scanner
	dest := r.dest()
	err := readRows(ctx, db, func(rs rows) error {
		if err := sc.scan(rs, dest...); err != nil {
			return err
		}
		ms = append(ms, r.message())
		return nil
	}, query, args...)
	return ms, err
}
