package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/pricing"
	"github.com/savvysolve/api/models"
)

// dataset is the generated data, held in memory so scenarios can pick ids,
// tokens and owners without asking the database.
type dataset struct {
	admin     *models.User
	users     []*models.User
	solvers   []*models.Solver
	solverCID map[string]string // solver id -> its user's clerk_id
	tickets   []*models.Ticket
	tokens    map[string]string // ticket id -> guest access token
	sessions  []*models.Session
	messages  []*models.SessionMessage
	ratings   []*models.Rating
	callLogs  []*models.CallLog
	lastMsg   map[string]string // session id -> id of its last message
	ticketIdx map[string]int    // ticket id -> index in tickets (insertion stage)
}

// The statuses of the generated tickets, in shares of a hundred.
var statusShares = []struct {
	status models.TicketStatus
	share  int
}{
	{models.TicketPending, 15},
	{models.TicketClaimed, 8},
	{models.TicketInProgress, 25},
	{models.TicketCompleted, 42},
	{models.TicketCancelled, 7},
	{models.TicketRefunded, 3},
}

var words = strings.Fields(`the my laptop phone printer router wifi screen will not turn on keeps
crashing after update slow battery drains fast cannot connect to network bluetooth
speaker tv app email password reset account locked blue screen error code sound
camera black flickering overheating fan noisy install driver backup files lost
please help urgent thanks since yesterday every time I try restart did nothing`)

func sentence(r *rand.Rand, minWords, maxWords int) string {
	n := minWords + r.IntN(maxWords-minWords+1)
	b := make([]string, n)
	for i := range b {
		b[i] = words[r.IntN(len(words))]
	}
	s := strings.Join(b, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func uuidFrom(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func ptr[T any](v T) *T { return &v }

// generate builds the data set: solvers (most ACTIVE), customers, tickets in
// every state (a guest token each; 40 % opened by signed-in customers), one
// open session per IN_PROGRESS ticket and ended sessions on COMPLETED and
// REFUNDED ones, messages spread unevenly over sessions (numbered like the
// server numbers them), ratings of ended sessions, and call logs.
func generate(c *config, now time.Time) *dataset {
	r := rand.New(rand.NewPCG(42, 1))
	d := &dataset{solverCID: map[string]string{}, tokens: map[string]string{}, lastMsg: map[string]string{}, ticketIdx: map[string]int{}}
	user := func(clerk, name string, role models.UserRole) *models.User {
		u := &models.User{ID: uuidFrom(r), ClerkID: clerk, Email: clerk + "@bench.test", Name: ptr(name),
			Phone: ptr(fmt.Sprintf("+1555%07d", r.IntN(10_000_000))), Role: role,
			CreatedAt: now.Add(-200 * 24 * time.Hour), UpdatedAt: now.Add(-200 * 24 * time.Hour)}
		d.users = append(d.users, u)
		return u
	}
	d.admin = user("bench_admin", "Bench Admin", models.RoleAdmin)

	for i := range c.solvers {
		u := user(fmt.Sprintf("bench_solver_%d", i), fmt.Sprintf("Solver %d", i), models.RoleSolver)
		st := models.SolverActive
		switch {
		case i >= c.solvers-2 && c.solvers > 4:
			st = models.SolverOnboarding
		case i >= c.solvers-4 && c.solvers > 4:
			st = models.SolverInactive
		}
		typ := models.SolverGeneral
		if i%5 == 0 {
			typ = models.SolverSpecialist
		}
		s := &models.Solver{ID: uuidFrom(r), UserID: u.ID, Type: typ, Status: st, RevenueSharePercent: 70,
			CreatedAt: u.CreatedAt, UpdatedAt: u.CreatedAt}
		d.solvers = append(d.solvers, s)
		d.solverCID[s.ID] = u.ClerkID
	}
	// Tickets go to solvers who have worked (not onboarding ones).
	var workers []*models.Solver
	for _, s := range d.solvers {
		if s.Status != models.SolverOnboarding {
			workers = append(workers, s)
		}
	}
	customers := make([]*models.User, max(1, c.tickets/10))
	for i := range customers {
		customers[i] = user(fmt.Sprintf("bench_customer_%d", i), fmt.Sprintf("Customer %d", i), models.RoleCustomer)
	}

	// Statuses in fixed shares, spread evenly over the ticket list, so every
	// prefix of it (the small data set) has the same mix.
	var wheel []models.TicketStatus
	for _, s := range statusShares {
		for range s.share {
			wheel = append(wheel, s.status)
		}
	}
	r.Shuffle(len(wheel), func(i, j int) { wheel[i], wheel[j] = wheel[j], wheel[i] })
	devices := models.EnumValues("DeviceType")
	urgencies := models.EnumValues("Urgency")
	for i := range c.tickets {
		st := wheel[i%len(wheel)]
		// Open tickets are recent; worked ones older, so their sessions have ended by now.
		created := now.Add(-2*24*time.Hour - time.Duration(r.Int64N(int64(88*24*time.Hour))))
		if st == models.TicketPending || st == models.TicketClaimed {
			created = now.Add(-time.Duration(r.Int64N(int64(48 * time.Hour))))
		}
		token, hash := auth.NewTicketToken()
		t := &models.Ticket{ID: uuidFrom(r), Description: sentence(r, 8, 40), DeviceType: models.DeviceType(devices[r.IntN(len(devices))]),
			Urgency: models.Urgency(urgencies[r.IntN(len(urgencies))]), Status: st, CreatedAt: created, UpdatedAt: created,
			AccessTokenHash: hash}
		name := fmt.Sprintf("Guest %d", i)
		if r.IntN(10) < 4 {
			cu := customers[r.IntN(len(customers))]
			t.CustomerID, name = &cu.ID, *cu.Name
		}
		t.CustomerInfo = models.CustomerInfo{Name: name, Email: ptr(fmt.Sprintf("c%d@example.com", i))}
		if st != models.TicketPending && st != models.TicketCancelled || (st == models.TicketCancelled && r.IntN(2) == 0) {
			s := workers[r.IntN(len(workers))]
			claimed := created.Add(time.Duration(1+r.IntN(30)) * time.Minute)
			t.SolverID, t.ClaimedAt, t.UpdatedAt = &s.ID, &claimed, claimed
		}
		if st == models.TicketCancelled {
			t.StatusReason = ptr("no longer needed")
		}
		d.tickets = append(d.tickets, t)
		d.tokens[t.ID] = token
		d.ticketIdx[t.ID] = i
	}

	// Sessions: one open session per IN_PROGRESS ticket first, then ended
	// sessions over the COMPLETED and REFUNDED tickets, round robin.
	var open, done []*models.Ticket
	for _, t := range d.tickets {
		switch t.Status {
		case models.TicketInProgress:
			open = append(open, t)
		case models.TicketCompleted, models.TicketRefunded:
			done = append(done, t)
		}
	}
	tiers := []models.TicketTier{models.TierStandard, models.TierStandard, models.TierPriority, models.TierPremium}
	newSession := func(t *models.Ticket, ended bool, nth int) {
		tier := tiers[r.IntN(len(tiers))]
		p := pricing.For(tier)
		start := t.ClaimedAt.Add(time.Duration(2+r.IntN(20)+nth*90) * time.Minute)
		s := &models.Session{ID: uuidFrom(r), TicketID: t.ID, SolverID: *t.SolverID, Tier: tier, StartedAt: &start,
			CreatedAt: start, UpdatedAt: start}
		if ended {
			secs := 120 + r.IntN(3600)
			end := start.Add(time.Duration(secs) * time.Second)
			total := pricing.Total(p, secs)
			earn := pricing.Earnings(total, 70)
			p.TotalCents = &total
			s.EndedAt, s.Duration, s.Earnings, s.UpdatedAt = &end, &secs, &earn, end
		}
		s.Pricing = &p
		d.sessions = append(d.sessions, s)
	}
	for _, t := range open {
		if len(d.sessions) < c.sessions {
			newSession(t, false, 0)
		}
	}
	for i := 0; len(d.sessions) < c.sessions && len(done) > 0; i++ {
		newSession(done[i%len(done)], true, i/len(done))
	}
	// Sessions in the order of their tickets, so the small data set (a prefix
	// of the tickets) holds a prefix of the sessions.
	sort.SliceStable(d.sessions, func(i, j int) bool {
		return d.ticketIdx[d.sessions[i].TicketID] < d.ticketIdx[d.sessions[j].TicketID]
	})

	// Messages: uneven weights (some chats are long), numbered per session.
	ticketOf := map[string]*models.Ticket{}
	for _, t := range d.tickets {
		ticketOf[t.ID] = t
	}
	solverUser := map[string]string{}
	for _, s := range d.solvers {
		solverUser[s.ID] = s.UserID
	}
	if len(d.sessions) > 0 {
		cum := make([]float64, len(d.sessions))
		sum := 0.0
		for i := range d.sessions {
			sum += 0.1 + r.ExpFloat64()
			cum[i] = sum
		}
		counts := make([]int, len(d.sessions))
		for range c.messages {
			counts[sort.SearchFloat64s(cum, r.Float64()*sum)]++
		}
		for i, s := range d.sessions {
			t := ticketOf[s.TicketID]
			for seq := 1; seq <= counts[i]; seq++ {
				m := &models.SessionMessage{ID: uuidFrom(r), SessionID: s.ID, Seq: seq, Body: sentence(r, 3, 30),
					CreatedAt: s.StartedAt.Add(time.Duration(seq*20) * time.Second)}
				if seq%2 == 1 {
					m.Sender, m.AuthorID = models.SenderCustomer, t.CustomerID
				} else {
					m.Sender, m.AuthorID = models.SenderSolver, ptr(solverUser[s.SolverID])
				}
				d.messages = append(d.messages, m)
				d.lastMsg[s.ID] = m.ID
			}
			s.MessageCount = counts[i]
		}
	}

	// Ratings: some ended sessions, at most one each.
	var ended []*models.Session
	for _, s := range d.sessions {
		if s.EndedAt != nil {
			ended = append(ended, s)
		}
	}
	perm := r.Perm(len(ended))
	rated := map[int]bool{}
	for _, i := range perm[:min(c.ratings, len(ended))] {
		rated[i] = true
	}
	stars := []int{1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5}
	for i, s := range ended { // in session order: prefixes stay prefixes
		if !rated[i] {
			continue
		}
		rt := &models.Rating{ID: uuidFrom(r), SessionID: s.ID, SolverID: s.SolverID, Rating: stars[r.IntN(len(stars))],
			CreatedAt: s.EndedAt.Add(time.Duration(1+r.IntN(120)) * time.Minute)}
		if r.IntN(3) == 0 {
			rt.Comment = ptr(sentence(r, 3, 15))
		}
		d.ratings = append(d.ratings, rt)
	}

	// Call logs: one for every fourth session.
	for i, s := range d.sessions {
		if i%4 != 0 {
			continue
		}
		st := s.StartedAt.Add(time.Minute)
		d.callLogs = append(d.callLogs, &models.CallLog{ID: uuidFrom(r), TicketID: ptr(s.TicketID), SessionID: ptr(s.ID),
			ProviderID: fmt.Sprintf("bench-call-%d", i), Direction: models.Outbound, FromNumber: "+15550001000",
			ToNumber: "+15550002000", Status: "hangup", Duration: ptr(60 + r.IntN(600)), StartedAt: &st,
			CreatedAt: st, UpdatedAt: st})
	}
	return d
}

// stage is the part of the data set inserted in one step: the tickets from
// index lo to hi, with everything hanging off them (and, in the first step,
// every user and solver).
type stage struct{ lo, hi int }

// load inserts a stage with multi-row inserts through the Bun models, then
// recomputes the solvers' denormalized stats as the server's writes keep them.
func (d *dataset) load(ctx context.Context, db *bun.DB, st stage) error {
	in := func(ticketID string) bool { i := d.ticketIdx[ticketID]; return i >= st.lo && i < st.hi }
	sessionIn := map[string]bool{}
	var sessions []*models.Session
	for _, s := range d.sessions {
		if in(s.TicketID) {
			sessions = append(sessions, s)
			sessionIn[s.ID] = true
		}
	}
	var msgs []*models.SessionMessage
	for _, m := range d.messages {
		if sessionIn[m.SessionID] {
			msgs = append(msgs, m)
		}
	}
	var ratings []*models.Rating
	for _, rt := range d.ratings {
		if sessionIn[rt.SessionID] {
			ratings = append(ratings, rt)
		}
	}
	var calls []*models.CallLog
	for _, cl := range d.callLogs {
		if sessionIn[*cl.SessionID] {
			calls = append(calls, cl)
		}
	}
	if st.lo == 0 {
		if err := insertAll(ctx, db, d.users, 1000); err != nil {
			return err
		}
		if err := insertAll(ctx, db, d.solvers, 1000); err != nil {
			return err
		}
	}
	if err := insertAll(ctx, db, d.tickets[st.lo:st.hi], 1000); err != nil {
		return err
	}
	if err := insertAll(ctx, db, sessions, 1000); err != nil {
		return err
	}
	if err := insertAll(ctx, db, msgs, 2000); err != nil {
		return err
	}
	if err := insertAll(ctx, db, ratings, 1000); err != nil {
		return err
	}
	if err := insertAll(ctx, db, calls, 1000); err != nil {
		return err
	}
	if err := d.updateStats(ctx, db, st.hi); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, "ANALYZE")
	return err
}

func insertAll[T any](ctx context.Context, db *bun.DB, rows []T, chunk int) error {
	for i := 0; i < len(rows); i += chunk {
		part := rows[i:min(i+chunk, len(rows))]
		if _, err := db.NewInsert().Model(&part).Exec(ctx); err != nil {
			return fmt.Errorf("insert %T: %w", rows[0], err)
		}
	}
	return nil
}

// updateStats sets every solver's stats from the data loaded so far (tickets
// before index upTo).
func (d *dataset) updateStats(ctx context.Context, db *bun.DB, upTo int) error {
	type acc struct{ sum, n, done, earn int }
	by := map[string]*acc{}
	for _, s := range d.solvers {
		by[s.ID] = &acc{}
	}
	loaded := map[string]bool{}
	for _, s := range d.sessions {
		if d.ticketIdx[s.TicketID] < upTo {
			loaded[s.ID] = true
			if s.EndedAt != nil {
				by[s.SolverID].done++
				by[s.SolverID].earn += *s.Earnings
			}
		}
	}
	for _, rt := range d.ratings {
		if loaded[rt.SessionID] {
			by[rt.SolverID].sum += rt.Rating
			by[rt.SolverID].n++
		}
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range d.solvers {
			a := by[s.ID]
			s.Stats = models.SolverStats{TotalRatings: a.n, CompletedSessions: a.done, TotalEarningsCents: a.earn}
			if a.n > 0 {
				s.Stats.AverageRating = ptr(math.Round(float64(a.sum)/float64(a.n)*100) / 100)
			}
			if _, err := tx.NewUpdate().Model(s).Column("stats").WherePK().Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}
