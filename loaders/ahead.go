package loaders

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/page"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Ahead reads ahead: given the rows a root resolver just read, it walks the
// field's selection set and fills every relation the query asks for below
// them, level by level, each level with one call of its batch function
// (Loader.Fill). The field resolvers that follow find their rows in the
// cache, so a request's statements depend on the shape of its query only,
// never on how its resolvers happen to be scheduled within a loader window.
//
// It reads, it never decides: resolvers still check what the viewer may see
// of each row. rows is a *T or []*T of the field's node type.
func (l *Loaders) Ahead(ctx context.Context, rows any) {
	fc := graphql.GetFieldContext(ctx)
	if !l.ahead || fc == nil || !graphql.HasOperationContext(ctx) {
		return
	}
	w := walker{ctx: ctx, op: graphql.GetOperationContext(ctx), l: l}
	sel := []ast.SelectionSet{fc.Field.Selections}
	if typ := fc.Field.Definition.Type.Name(); strings.HasSuffix(typ, "Connection") {
		sel = w.nodes(fc.Field.Selections, typ)
	}
	for _, s := range sel {
		switch rows := rows.(type) {
		case []*models.Ticket:
			w.tickets(rows, s)
		case *models.Ticket:
			w.tickets([]*models.Ticket{rows}, s)
		case []*models.Session:
			w.sessions(rows, s)
		case *models.Session:
			w.sessions([]*models.Session{rows}, s)
		case []*models.Solver:
			w.solvers(rows, s)
		case *models.Solver:
			w.solvers([]*models.Solver{rows}, s)
		case *models.User:
			w.users([]*models.User{rows}, s)
		case []*models.User:
			w.users(rows, s)
		}
	}
}

// walker fills the relations of one selection set, type by type.
type walker struct {
	ctx context.Context
	op  *graphql.OperationContext
	l   *Loaders
}

func (w walker) fields(sel ast.SelectionSet, typ string) []graphql.CollectedField {
	return graphql.CollectFields(w.op, sel, []string{typ})
}

// nodes returns the selection sets of edges.node below a connection field.
func (w walker) nodes(sel ast.SelectionSet, connection string) []ast.SelectionSet {
	edge := strings.TrimSuffix(connection, "Connection") + "Edge"
	var out []ast.SelectionSet
	for _, e := range w.fields(sel, connection) {
		if e.Name != "edges" {
			continue
		}
		for _, n := range w.fields(e.Selections, edge) {
			if n.Name == "node" {
				out = append(out, n.Selections)
			}
		}
	}
	return out
}

func (w walker) args(f graphql.CollectedField) map[string]any {
	return f.ArgumentMap(w.op.Variables)
}

func (w walker) tickets(ts []*models.Ticket, sel ast.SelectionSet) {
	if len(ts) == 0 {
		return
	}
	for _, f := range w.fields(sel, "Ticket") {
		switch f.Name {
		case "solver":
			w.solvers(present(w.l.SolverByID.Fill(w.ctx, keys(ts, func(t *models.Ticket) *string { return t.SolverID }))), f.Selections)
		case "sessions":
			ss := flat(w.l.SessionsByTicket.Fill(w.ctx, ids(ts, func(t *models.Ticket) string { return t.ID })))
			w.l.PrimeSessions(w.ctx, ss)
			w.sessions(ss, f.Selections)
		case "smsLogs":
			w.smsLogs(flat(w.l.SmsLogsByTicket.Fill(w.ctx, ids(ts, func(t *models.Ticket) string { return t.ID }))), f.Selections)
		case "callLogs":
			sessionLinks(w, flat(w.l.CallLogsByTicket.Fill(w.ctx, ids(ts, func(t *models.Ticket) string { return t.ID }))), "CallLog", f.Selections,
				func(c *models.CallLog) *string { return c.SessionID })
		}
	}
}

func (w walker) sessions(ss []*models.Session, sel ast.SelectionSet) {
	if len(ss) == 0 {
		return
	}
	sessionIDs := ids(ss, func(s *models.Session) string { return s.ID })
	for _, f := range w.fields(sel, "Session") {
		switch f.Name {
		case "ticket":
			w.tickets(present(w.l.TicketByID.Fill(w.ctx, ids(ss, func(s *models.Session) string { return s.TicketID }))), f.Selections)
		case "solver":
			w.solvers(present(w.l.SolverByID.Fill(w.ctx, ids(ss, func(s *models.Session) string { return s.SolverID }))), f.Selections)
		case "messages":
			w.messagePages(ss, f)
		case "callLogs":
			sessionLinks(w, flat(w.l.CallLogsBySession.Fill(w.ctx, sessionIDs)), "CallLog", f.Selections,
				func(c *models.CallLog) *string { return c.SessionID })
		case "screenShares":
			sessionLinks(w, flat(w.l.ScreenSharesBySession.Fill(w.ctx, sessionIDs)), "ScreenShareSession", f.Selections,
				func(s *models.ScreenShareSession) *string { return &s.SessionID })
		case "rating":
			w.ratings(present(w.l.RatingBySession.Fill(w.ctx, sessionIDs)), f.Selections)
		case "payment": // its rule reads the session's ticket
			w.l.TicketByID.Fill(w.ctx, ids(ss, func(s *models.Session) string { return s.TicketID }))
		}
	}
}

func (w walker) messagePages(ss []*models.Session, f graphql.CollectedField) {
	a := w.args(f)
	var pages []store.MessagePage
	for _, s := range ss {
		k, err := MessagePageKey(s.ID, intArg(a["first"]), strArg(a["after"]), intArg(a["last"]), strArg(a["before"]))
		if err != nil {
			return // the resolver reports it
		}
		pages = append(pages, k)
	}
	var ms []*models.SessionMessage
	for _, p := range w.l.MessagePage.Fill(w.ctx, pages) {
		ms = append(ms, p.Messages...)
	}
	for _, sel := range w.nodes(f.Selections, "SessionMessageConnection") {
		w.messages(ms, sel)
	}
}

func (w walker) messages(ms []*models.SessionMessage, sel ast.SelectionSet) {
	if len(ms) == 0 {
		return
	}
	for _, f := range w.fields(sel, "SessionMessage") {
		switch f.Name {
		case "session":
			w.sessions(present(w.l.SessionByID.Fill(w.ctx, ids(ms, func(m *models.SessionMessage) string { return m.SessionID }))), f.Selections)
		case "author": // read with the message (store.MessagePages)
			var authors []*models.User
			for _, m := range ms {
				if m.Author != nil {
					w.l.UserByID.Prime(w.ctx, m.Author.ID, m.Author)
					authors = append(authors, m.Author)
				}
			}
			w.users(authors, f.Selections)
		}
	}
}

func (w walker) solvers(ss []*models.Solver, sel ast.SelectionSet) {
	if len(ss) == 0 {
		return
	}
	for _, f := range w.fields(sel, "Solver") {
		switch f.Name {
		case "user":
			w.users(present(w.l.UserByID.Fill(w.ctx, ids(ss, func(s *models.Solver) string { return s.UserID }))), f.Selections)
		case "ratings":
			rs := solverPage(w, ss, f, w.l.RatingPage, RatingPageKey)
			for _, sel := range w.nodes(f.Selections, "RatingConnection") {
				w.ratings(rs, sel)
			}
		case "sessions":
			rows := solverPage(w, ss, f, w.l.SessionPage, SessionPageKey)
			w.l.PrimeSessions(w.ctx, rows)
			for _, sel := range w.nodes(f.Selections, "SessionConnection") {
				w.sessions(rows, sel)
			}
		}
	}
}

func (w walker) users(us []*models.User, sel ast.SelectionSet) {
	if len(us) == 0 {
		return
	}
	for _, f := range w.fields(sel, "User") {
		if f.Name == "solver" {
			w.solvers(present(w.l.SolverByUserID.Fill(w.ctx, ids(us, func(u *models.User) string { return u.ID }))), f.Selections)
		}
	}
}

func (w walker) ratings(rs []*models.Rating, sel ast.SelectionSet) {
	if len(rs) == 0 {
		return
	}
	for _, f := range w.fields(sel, "Rating") {
		switch f.Name {
		case "session":
			w.sessions(present(w.l.SessionByID.Fill(w.ctx, ids(rs, func(r *models.Rating) string { return r.SessionID }))), f.Selections)
		case "solver":
			w.solvers(present(w.l.SolverByID.Fill(w.ctx, ids(rs, func(r *models.Rating) string { return r.SolverID }))), f.Selections)
		}
	}
}

func (w walker) smsLogs(ls []*models.SmsLog, sel ast.SelectionSet) {
	if len(ls) == 0 {
		return
	}
	for _, f := range w.fields(sel, "SmsLog") {
		switch f.Name {
		case "ticket":
			w.tickets(present(w.l.TicketByID.Fill(w.ctx, keys(ls, func(l *models.SmsLog) *string { return l.TicketID }))), f.Selections)
		case "session":
			w.sessions(present(w.l.SessionByID.Fill(w.ctx, keys(ls, func(l *models.SmsLog) *string { return l.SessionID }))), f.Selections)
		}
	}
}

// sessionLinks fills the session of rows that link to one (call logs, screen shares).
func sessionLinks[T any](w walker, rows []T, typ string, sel ast.SelectionSet, session func(T) *string) {
	if len(rows) == 0 {
		return
	}
	for _, f := range w.fields(sel, typ) {
		if f.Name == "session" {
			w.sessions(present(w.l.SessionByID.Fill(w.ctx, keys(rows, session))), f.Selections)
		}
	}
}

// MessagePageKey is the loader key of a session's messages(first, after,
// last, before): `first` messages after the cursor `after`, or, when `last`
// is given (it wins over `first`), the `last` messages before the cursor
// `before`. after and before may be combined to read between two messages.
func MessagePageKey(sessionID string, first *int, after *string, last *int, before *string) (store.MessagePage, error) {
	k := store.MessagePage{SessionID: sessionID, N: 50}
	if first != nil {
		k.N = *first
	}
	if last != nil {
		k.N, k.Backward = *last, true
		if *last < 0 || *last > page.Max {
			return k, apperr.Invalid("last", "last must be between 0 and %d", page.Max)
		}
	} else if err := page.Check(k.N); err != nil {
		return k, err
	}
	var err error
	if after != nil && *after != "" {
		if k.AfterSeq, err = store.MessageCursorSeq("after", *after); err != nil {
			return k, err
		}
	}
	if before != nil && *before != "" {
		if k.BeforeSeq, err = store.MessageCursorSeq("before", *before); err != nil {
			return k, err
		}
	}
	return k, nil
}

// solverPage fills l with the page that f (a solver's ratings or sessions)
// asks of each solver, and returns the rows of all the pages (none when an
// argument is wrong: the resolver reports it).
func solverPage[T any](w walker, ss []*models.Solver, f graphql.CollectedField, l *Loader[store.SolverPage, SolverPage[T]],
	key func(string, *int, *string) (store.SolverPage, error)) []*T {
	a := w.args(f)
	pages := make([]store.SolverPage, 0, len(ss))
	for _, s := range ss {
		k, err := key(s.ID, intArg(a["first"]), strArg(a["after"]))
		if err != nil {
			return nil
		}
		pages = append(pages, k)
	}
	var rows []*T
	for _, p := range l.Fill(w.ctx, pages) {
		rows = append(rows, p.Rows...)
	}
	return rows
}

// RatingPageKey is the loader key of a solver's ratings(first, after).
func RatingPageKey(solverID string, first *int, after *string) (store.SolverPage, error) {
	return solverPageKey(solverID, first, after, 10)
}

// SessionPageKey is the loader key of a solver's sessions(first, after).
func SessionPageKey(solverID string, first *int, after *string) (store.SolverPage, error) {
	return solverPageKey(solverID, first, after, 20)
}

// solverPageKey is the key of first rows (defaultFirst when not given) of a
// solver after the cursor after.
func solverPageKey(solverID string, first *int, after *string, defaultFirst int) (store.SolverPage, error) {
	k := store.SolverPage{SolverID: solverID, First: defaultFirst}
	if first != nil {
		k.First = *first
	}
	if after != nil {
		k.After = *after
	}
	return k, page.Check(k.First)
}

// ids returns the key of every row.
func ids[T any](rows []T, key func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = key(r)
	}
	return out
}

// keys returns the keys of the rows that have one.
func keys[T any](rows []T, key func(T) *string) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if k := key(r); k != nil {
			out = append(out, *k)
		}
	}
	return out
}

// present drops the nil values of keys that had no row.
func present[T any](vs []*T) []*T {
	out := vs[:0:0]
	for _, v := range vs {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

func flat[T any](groups [][]T) []T {
	var out []T
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// intArg reads an Int argument as the operation gives it (a literal or a variable).
func intArg(v any) *int {
	var n int
	switch v := v.(type) {
	case int:
		n = v
	case int64:
		n = int(v)
	case float64:
		n = int(v)
	case json.Number:
		i, err := v.Int64()
		if err != nil {
			return nil
		}
		n = int(i)
	default:
		return nil
	}
	return &n
}

func strArg(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}
