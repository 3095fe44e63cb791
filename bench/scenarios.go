package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/models"
)

// The read scenarios' operations.
const (
	qDashboard = `query Dashboard($first: Int!) { ticketQueue(first: $first) { totalCount
  edges { node { id description urgency status createdAt
    solver { id user { name } }
    sessions { id startedAt
      messages(first: 20) { edges { node { id body createdAt author { name } } } }
      rating { rating comment } } } } } }`

	qAssigned = `query Assigned($first: Int!) { tickets(first: $first) { totalCount
  edges { node { id description urgency status createdAt customerInfo { name }
    solver { id user { name } }
    sessions { id startedAt
      messages(first: 20) { edges { node { id body createdAt author { name } } } }
      rating { rating comment } } } } } }`

	// qHistory is chat history: the newest completed tickets (each has a
	// solver and sessions), with their sessions' first messages and ratings.
	// The same request every time: an admin's first page.
	qHistory = `query History($first: Int!) { tickets(first: $first, filter: {status: [COMPLETED]}) {
  edges { node { id status createdAt
    solver { id user { name } }
    sessions { id startedAt endedAt
      messages(first: 10) { edges { node { id body createdAt author { name } } } }
      rating { id rating } } } } } }`

	qSession = `query Session($id: ID!) { session(id: $id) { id tier startedAt endedAt
  ticket { id status description }
  solver { id user { name } }
  messages(first: 50) { edges { node { id sender body createdAt author { name } } } pageInfo { hasNextPage endCursor } }
  rating { rating comment }
  callLogs { id status durationSeconds } } }`

	qSolver = `query Solver($id: ID!) { solver(id: $id) { id type status
  stats { averageRating totalRatings completedSessions totalEarningsCents }
  ratings(first: 10) { totalCount
    edges { node { id rating comment createdAt session { id ticket { id status description } } } } } } }`

	qTicket = `query Ticket($id: ID!) { ticket(id: $id) { status } }`
)

// The write mix's mutations: one ticket's life, as a guest customer and a solver.
const (
	mCreate = `mutation Create($in: CreateTicketInput!) { createTicket(input: $in) { accessToken ticket { id status } } }`
	mClaim  = `mutation Claim($id: ID!) { claimTicket(ticketId: $id) { id status } }`
	mStart  = `mutation Start($id: ID!) { startSession(ticketId: $id, tier: PRIORITY) { id } }`
	mSend   = `mutation Send($id: ID!, $body: String!) { sendMessage(sessionId: $id, body: $body) { id createdAt } }`
	mEnd    = `mutation End($id: ID!) { endSession(sessionId: $id) { id earningsCents } }`
	mRate   = `mutation Rate($id: ID!, $r: Int!, $c: String) { rateSession(sessionId: $id, rating: $r, comment: $c) { id } }`
)

// scenario is one kind of request.
type scenario struct {
	name  string
	title string
	read  bool
	// op returns the scenario's request generator on the given inputs.
	op func(g *gql, in *inputs) op
}

// inputs are what requests pick from: the rows loaded so far and tokens.
type inputs struct {
	tokens   map[string]string // clerk_id -> user JWT
	admin    string
	active   []string // JWTs of ACTIVE solvers
	solvers  []*models.Solver
	sessions []*models.Session
	tickets  []*models.Ticket
	data     *dataset

	// full-shaped picks: requests that reach every level of their query
	fullSessions []*models.Session
	fullSolvers  []*models.Solver
	fullAssigned []string // JWTs of solvers whose first page of tickets reaches every level

	seq *atomic.Int64
}

// sequential returns a copy of in whose picks go through the inputs in order.
func (in *inputs) sequential() *inputs {
	c := *in
	c.seq = new(atomic.Int64)
	return &c
}

// seq, when set, makes picks deterministic: the inputs in order, round robin
// (the counting pass, so that runs and data sizes compare request for request).
func pick[T any](in *inputs, xs []T) T {
	if in.seq != nil {
		return xs[int(in.seq.Add(1)-1)%len(xs)]
	}
	return xs[rand.IntN(len(xs))]
}

var readScenarios = []scenario{
	{name: "dashboard", title: "Dashboard: ticketQueue(first: 50) {solver {user} sessions {messages(first: 20) {author} rating}}", read: true,
		op: func(g *gql, in *inputs) op {
			return func(ctx context.Context) error {
				return g.do(ctx, pick(in, in.active), qDashboard, map[string]any{"first": 50}, nil)
			}
		}},
	{name: "assigned", title: "Solver's tickets: tickets(first: 50), same selection as the dashboard, on the solver's assigned tickets", read: true,
		op: func(g *gql, in *inputs) op {
			return func(ctx context.Context) error {
				s := pick(in, in.solvers)
				return g.do(ctx, in.tokens[in.data.solverCID[s.ID]], qAssigned, map[string]any{"first": 50}, nil)
			}
		}},
	{name: "history", title: "Chat history: tickets(first: 50, filter: {status: [COMPLETED]}) {solver {user} sessions {messages(first: 10) {author} rating}}, as an admin", read: true,
		op: func(g *gql, in *inputs) op {
			return func(ctx context.Context) error {
				return g.do(ctx, in.admin, qHistory, map[string]any{"first": historyPage}, nil)
			}
		}},
	{name: "session", title: "Session detail: session(id) {ticket solver {user} messages(first: 50) {author} rating callLogs}", read: true,
		op: func(g *gql, in *inputs) op {
			return func(ctx context.Context) error {
				s := pick(in, in.sessions)
				return g.do(ctx, in.tokens[in.data.solverCID[s.SolverID]], qSession, map[string]any{"id": s.ID}, nil)
			}
		}},
	{name: "solver", title: "Solver profile: solver(id) {stats ratings(first: 10) {session {ticket}}}", read: true,
		op: func(g *gql, in *inputs) op {
			return func(ctx context.Context) error {
				s := pick(in, in.solvers)
				return g.do(ctx, in.tokens[in.data.solverCID[s.ID]], qSolver, map[string]any{"id": s.ID}, nil)
			}
		}},
	{name: "ticket", title: "Point lookup: ticket(id) {status}, with the ticket's guest token", read: true,
		op: func(g *gql, in *inputs) op {
			return func(ctx context.Context) error {
				t := pick(in, in.tickets)
				return g.do(ctx, in.data.tokens[t.ID], qTicket, map[string]any{"id": t.ID}, nil)
			}
		}},
}

// The history scenario's page: tickets, and messages of each session.
const historyPage, historyMessages = 50, 10

// fullShapedOp is op restricted to requests that reach every level of the
// query, so its statement count is the query's shape and nothing else.
func fullShapedOp(name string, g *gql, in *inputs) op {
	switch name {
	case "session":
		return func(ctx context.Context) error {
			s := pick(in, in.fullSessions)
			return g.do(ctx, in.tokens[in.data.solverCID[s.SolverID]], qSession, map[string]any{"id": s.ID}, nil)
		}
	case "solver":
		return func(ctx context.Context) error {
			s := pick(in, in.fullSolvers)
			return g.do(ctx, in.tokens[in.data.solverCID[s.ID]], qSolver, map[string]any{"id": s.ID}, nil)
		}
	case "assigned":
		return func(ctx context.Context) error {
			return g.do(ctx, pick(in, in.fullAssigned), qAssigned, map[string]any{"first": 50}, nil)
		}
	}
	for _, sc := range readScenarios {
		if sc.name == name {
			return sc.op(g, in)
		}
	}
	return nil
}

// newInputs collects the loaded rows (tickets before index upTo) and signs a
// token for every user.
func newInputs(d *dataset, secret string, upTo int) (*inputs, error) {
	in := &inputs{tokens: map[string]string{}, data: d}
	for _, u := range d.users {
		tok, err := auth.SignHS256([]byte(secret), u.ClerkID, 24*time.Hour)
		if err != nil {
			return nil, err
		}
		in.tokens[u.ClerkID] = tok
	}
	in.admin = in.tokens[d.admin.ClerkID]
	in.solvers = d.solvers
	for _, s := range d.solvers {
		if s.Status == models.SolverActive {
			in.active = append(in.active, in.tokens[d.solverCID[s.ID]])
		}
	}
	in.tickets = d.tickets[:upTo]
	loaded := map[string]bool{}
	for _, s := range d.sessions {
		if d.ticketIdx[s.TicketID] < upTo {
			in.sessions = append(in.sessions, s)
			loaded[s.ID] = true
		}
	}
	// Which sessions reach every level: a message by a signed-in customer (an
	// author no other field of the query has loaded already), a rating, a call.
	authored, rated, called := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, m := range d.messages {
		if m.AuthorID != nil && m.Sender == models.SenderCustomer {
			authored[m.SessionID] = true
		}
	}
	ratedSolver := map[string]bool{}
	for _, r := range d.ratings {
		if loaded[r.SessionID] {
			rated[r.SessionID] = true
			ratedSolver[r.SolverID] = true
		}
	}
	for _, c := range d.callLogs {
		called[*c.SessionID] = true
	}
	for _, s := range in.sessions {
		if authored[s.ID] && rated[s.ID] && called[s.ID] {
			in.fullSessions = append(in.fullSessions, s)
		}
	}
	for _, s := range d.solvers {
		if ratedSolver[s.ID] {
			in.fullSolvers = append(in.fullSolvers, s)
		}
	}
	// A solver's first page of assigned tickets (newest first) reaches every
	// level when one of its sessions has authored messages and one a rating.
	bySolver := map[string][]*models.Ticket{}
	for _, t := range in.tickets {
		if t.SolverID != nil {
			bySolver[*t.SolverID] = append(bySolver[*t.SolverID], t)
		}
	}
	sessionsOf := map[string][]*models.Session{}
	for _, s := range in.sessions {
		sessionsOf[s.TicketID] = append(sessionsOf[s.TicketID], s)
	}
	for _, s := range d.solvers {
		ts := bySolver[s.ID]
		sort.Slice(ts, func(i, j int) bool { return ts[i].CreatedAt.After(ts[j].CreatedAt) })
		var hasMsg, hasRating bool
		for _, t := range ts[:min(50, len(ts))] {
			for _, ss := range sessionsOf[t.ID] {
				hasMsg = hasMsg || authored[ss.ID]
				hasRating = hasRating || rated[ss.ID]
			}
		}
		if hasMsg && hasRating {
			in.fullAssigned = append(in.fullAssigned, in.tokens[d.solverCID[s.ID]])
		}
	}
	if len(in.fullSessions) == 0 || len(in.fullSolvers) == 0 || len(in.fullAssigned) == 0 || len(in.active) == 0 {
		return nil, fmt.Errorf("data set too small: %d full sessions, %d rated solvers, %d full solver pages, %d active solvers",
			len(in.fullSessions), len(in.fullSolvers), len(in.fullAssigned), len(in.active))
	}
	// The history scenario sends one request, so it is its own full-shaped
	// pick: its page must reach every level.
	if !historyReachesAll(d, in.tickets, sessionsOf, rated) {
		return nil, fmt.Errorf("data set too small: the history page (%d newest COMPLETED tickets) has no session with a message by a signed-in customer among its first %d, or none with a rating",
			historyPage, historyMessages)
	}
	return in, nil
}

// historyReachesAll reports whether the history request's page (the newest
// COMPLETED tickets among ts, as the server orders them) reaches every level
// of its query: a solver, a session with a message by a signed-in customer
// among its first messages (an author no other field has loaded), a rating.
func historyReachesAll(d *dataset, ts []*models.Ticket, sessionsOf map[string][]*models.Session, rated map[string]bool) bool {
	var done []*models.Ticket
	for _, t := range ts {
		if t.Status == models.TicketCompleted {
			done = append(done, t)
		}
	}
	sort.Slice(done, func(i, j int) bool {
		if !done[i].CreatedAt.Equal(done[j].CreatedAt) {
			return done[i].CreatedAt.After(done[j].CreatedAt)
		}
		return done[i].ID > done[j].ID
	})
	early := map[string]bool{} // sessions with a customer's message among the first ones
	for _, m := range d.messages {
		if m.AuthorID != nil && m.Sender == models.SenderCustomer && m.Seq <= historyMessages {
			early[m.SessionID] = true
		}
	}
	var solver, authored, rating bool
	for _, t := range done[:min(historyPage, len(done))] {
		solver = solver || t.SolverID != nil
		for _, s := range sessionsOf[t.ID] {
			authored = authored || early[s.ID]
			rating = rating || rated[s.ID]
		}
	}
	return solver && authored && rating
}

// lifecycle is one ticket going through the write mix.
type lifecycle struct {
	step                       int
	ticketID, guest, sessionID string
	solver                     string // the claiming solver's JWT
}

// The steps of a lifecycle: create, claim, start, three messages, end, rate.
var writeSteps = []string{"createTicket", "claimTicket", "startSession", "sendMessage", "sendMessage", "sendMessage", "endSession", "rateSession"}

// writeMix hands out the next step of some ticket's life, starting a new
// ticket when none is waiting, so concurrent requests work on different
// tickets and the mix stays 1:1:1:3:1:1.
type writeMix struct {
	g     *gql
	in    *inputs
	ready chan *lifecycle
}

func newWriteMix(g *gql, in *inputs) *writeMix {
	return &writeMix{g: g, in: in, ready: make(chan *lifecycle, 1<<16)}
}

func (w *writeMix) op(ctx context.Context) error {
	var l *lifecycle
	select {
	case l = <-w.ready:
	default:
		l = &lifecycle{solver: pick(w.in, w.in.active)}
	}
	err := w.step(ctx, l)
	if err == nil && l.step < len(writeSteps) {
		select {
		case w.ready <- l:
		default:
		}
	}
	return err
}

// step runs l's next request.
func (w *writeMix) step(ctx context.Context, l *lifecycle) error {
	var err error
	switch l.step {
	case 0:
		var out struct {
			CreateTicket struct {
				AccessToken string
				Ticket      struct{ ID string }
			}
		}
		err = w.g.do(ctx, "", mCreate, map[string]any{"in": map[string]any{
			"customerInfo": map[string]any{"name": "Bench Guest", "email": "guest@example.com"},
			"description":  "The printer prints blank pages since the last update.",
			"deviceType":   "PRINTER", "urgency": "HIGH"}}, &out)
		l.ticketID, l.guest = out.CreateTicket.Ticket.ID, out.CreateTicket.AccessToken
	case 1:
		err = w.g.do(ctx, l.solver, mClaim, map[string]any{"id": l.ticketID}, nil)
	case 2:
		var out struct{ StartSession struct{ ID string } }
		err = w.g.do(ctx, l.solver, mStart, map[string]any{"id": l.ticketID}, &out)
		l.sessionID = out.StartSession.ID
	case 3, 5:
		err = w.g.do(ctx, l.guest, mSend, map[string]any{"id": l.sessionID, "body": "It still prints blank pages."}, nil)
	case 4:
		err = w.g.do(ctx, l.solver, mSend, map[string]any{"id": l.sessionID, "body": "Let's run the head cleaning."}, nil)
	case 6:
		err = w.g.do(ctx, l.solver, mEnd, map[string]any{"id": l.sessionID}, nil)
	case 7:
		err = w.g.do(ctx, l.guest, mRate, map[string]any{"id": l.sessionID, "r": 5, "c": "Fixed, thanks"}, nil)
	}
	if err == nil {
		l.step++
	}
	return err
}
