// Package seed fills a database with a small, stable data set for people
// exploring the API and for tests: every row has a fixed id, and every insert
// skips rows that exist, so seeding twice changes nothing.
package seed

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/pricing"
	"github.com/savvysolve/api/models"
)

// The clerk_ids of the seeded users; their emails are <clerk_id>@savvysolve.test.
const (
	Admin     = "seed_admin"
	Solver1   = "seed_solver_1" // active
	Solver2   = "seed_solver_2" // onboarding
	Customer1 = "seed_customer_1"
	Customer2 = "seed_customer_2"
	Customer3 = "seed_customer_3"
	Solver3   = "seed_solver_3" // inactive (offline)
)

// ClerkIDs lists the seeded users in a stable order.
var ClerkIDs = []string{Admin, Solver1, Solver2, Customer1, Customer2, Customer3, Solver3}

// Fixed ids, so people and tests can name seeded rows.
const (
	UserAdmin     = "00000000-0000-4000-8000-000000000001"
	UserSolver1   = "00000000-0000-4000-8000-000000000002"
	UserSolver2   = "00000000-0000-4000-8000-000000000003"
	UserCustomer1 = "00000000-0000-4000-8000-000000000004"
	UserCustomer2 = "00000000-0000-4000-8000-000000000005"
	UserCustomer3 = "00000000-0000-4000-8000-000000000006"
	UserSolver3   = "00000000-0000-4000-8000-000000000007"

	SolverActive     = "00000000-0000-4000-8000-000000000101"
	SolverOnboarding = "00000000-0000-4000-8000-000000000102"
	SolverInactive   = "00000000-0000-4000-8000-000000000103"

	TicketPending   = "00000000-0000-4000-8000-000000000201"
	TicketUrgent    = "00000000-0000-4000-8000-000000000202"
	TicketClaimed   = "00000000-0000-4000-8000-000000000203"
	TicketCompleted = "00000000-0000-4000-8000-000000000204"
	TicketCancelled = "00000000-0000-4000-8000-000000000205"
	// TicketReleased was claimed, then handed back to the queue with a reason.
	TicketReleased = "00000000-0000-4000-8000-000000000206"

	SessionCompleted = "00000000-0000-4000-8000-000000000301"
	RatingCompleted  = "00000000-0000-4000-8000-000000000401"
	// ScreenShareEnded is a screen share of SessionCompleted, ended with it.
	ScreenShareEnded = "00000000-0000-4000-8000-000000000601"

	// ReleaseReason is TicketReleased's statusReason.
	ReleaseReason = "Needs a specialist for this brand of smart speaker."
)

// Run inserts the seed rows that are missing, in one transaction.
func Run(ctx context.Context, db *bun.DB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, rows := range data(time.Now().UTC().Truncate(time.Second)) {
			if _, err := tx.NewInsert().Model(rows).On("CONFLICT (id) DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

func ptr[T any](v T) *T { return &v }

func user(id, clerkID, name, phone string, role models.UserRole) *models.User {
	return &models.User{ID: id, ClerkID: clerkID, Email: clerkID + "@savvysolve.test", Name: &name, Phone: &phone, Role: role}
}

// data returns the rows in insertion order (parents first).
func data(now time.Time) []any {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	started, ended := ago(26*time.Hour), ago(26*time.Hour-14*time.Minute-20*time.Second)
	price := pricing.For(models.TierStandard)
	seconds := int(ended.Sub(started) / time.Second)
	total := pricing.Total(price, seconds)
	earnings := pricing.Earnings(total, 70)
	price.TotalCents = &total
	info := func(name, email, phone string) models.CustomerInfo {
		return models.CustomerInfo{Name: name, Email: &email, Phone: &phone}
	}
	return []any{
		&[]*models.User{
			user(UserAdmin, Admin, "Ada Admin", "+15550000001", models.RoleAdmin),
			user(UserSolver1, Solver1, "Sam Solver", "+15550000002", models.RoleSolver),
			user(UserSolver2, Solver2, "Olive Onboarding", "+15550000003", models.RoleSolver),
			user(UserCustomer1, Customer1, "Casey Customer", "+15550000004", models.RoleCustomer),
			user(UserCustomer2, Customer2, "Dana Doe", "+15550000005", models.RoleCustomer),
			user(UserCustomer3, Customer3, "Eli Example", "+15550000006", models.RoleCustomer),
			user(UserSolver3, Solver3, "Ian Inactive", "+15550000007", models.RoleSolver),
		},
		&[]*models.Solver{
			{ID: SolverActive, UserID: UserSolver1, Type: models.SolverGeneral, Status: models.SolverActive, RevenueSharePercent: 70,
				Stats: models.SolverStats{AverageRating: ptr(5.0), TotalRatings: 1, CompletedSessions: 1, TotalEarningsCents: earnings}},
			{ID: SolverOnboarding, UserID: UserSolver2, Type: models.SolverSpecialist, Status: models.SolverOnboarding, RevenueSharePercent: 70},
			{ID: SolverInactive, UserID: UserSolver3, Type: models.SolverGeneral, Status: models.SolverInactive, RevenueSharePercent: 70},
		},
		&[]*models.Ticket{
			{ID: TicketPending, CustomerID: ptr(UserCustomer1), CustomerInfo: info("Casey Customer", "seed_customer_1@savvysolve.test", "+15550000004"),
				Description: "My laptop will not connect to the home Wi-Fi since the last update.", DeviceType: models.DeviceComputer,
				Urgency: models.UrgencyMedium, Status: models.TicketPending, CreatedAt: ago(3 * time.Hour)},
			{ID: TicketUrgent, CustomerID: ptr(UserCustomer2), CustomerInfo: info("Dana Doe", "seed_customer_2@savvysolve.test", "+15550000005"),
				Description: "Phone is stuck on the boot logo and I need it for work today.", DeviceType: models.DevicePhone,
				Urgency: models.UrgencyCritical, Status: models.TicketPending, CreatedAt: ago(2 * time.Hour)},
			{ID: TicketClaimed, CustomerID: ptr(UserCustomer3), CustomerInfo: info("Eli Example", "seed_customer_3@savvysolve.test", "+15550000006"),
				Description: "Printer prints blank pages even with new cartridges.", DeviceType: models.DevicePrinter,
				Urgency: models.UrgencyLow, Status: models.TicketClaimed, SolverID: ptr(SolverActive), ClaimedAt: ptr(ago(time.Hour)), CreatedAt: ago(5 * time.Hour)},
			{ID: TicketCompleted, CustomerID: ptr(UserCustomer1), CustomerInfo: info("Casey Customer", "seed_customer_1@savvysolve.test", "+15550000004"),
				Description: "Router keeps dropping the connection every few minutes.", DeviceType: models.DeviceNetwork,
				Urgency: models.UrgencyHigh, Status: models.TicketCompleted, SolverID: ptr(SolverActive), ClaimedAt: ptr(ago(27 * time.Hour)), CreatedAt: ago(28 * time.Hour)},
			{ID: TicketCancelled, CustomerID: ptr(UserCustomer2), CustomerInfo: info("Dana Doe", "seed_customer_2@savvysolve.test", "+15550000005"),
				Description: "Smart TV apps will not open.", DeviceType: models.DeviceTV,
				Urgency: models.UrgencyLow, Status: models.TicketCancelled, StatusReason: ptr("fixed it myself"), CreatedAt: ago(48 * time.Hour)},
			{ID: TicketReleased, CustomerID: ptr(UserCustomer3), CustomerInfo: info("Eli Example", "seed_customer_3@savvysolve.test", "+15550000006"),
				Description: "Smart speaker keeps losing its Wi-Fi connection overnight.", DeviceType: models.DeviceSmartHome,
				Urgency: models.UrgencyMedium, Status: models.TicketPending, StatusReason: ptr(ReleaseReason), CreatedAt: ago(4 * time.Hour)},
		},
		&[]*models.Session{
			{ID: SessionCompleted, TicketID: TicketCompleted, SolverID: SolverActive, Tier: models.TierStandard, Pricing: &price,
				Duration: &seconds, Earnings: &earnings, StartedAt: &started, EndedAt: &ended, MessageCount: 3, CreatedAt: started},
		},
		&[]*models.SessionMessage{
			{ID: "00000000-0000-4000-8000-000000000501", SessionID: SessionCompleted, Seq: 1, Sender: models.SenderCustomer, AuthorID: ptr(UserCustomer1),
				Body: "Hi! The router drops every few minutes.", CreatedAt: started.Add(10 * time.Second)},
			{ID: "00000000-0000-4000-8000-000000000502", SessionID: SessionCompleted, Seq: 2, Sender: models.SenderSolver, AuthorID: ptr(UserSolver1),
				Body: "Let's update its firmware and move it to channel 6.", CreatedAt: started.Add(40 * time.Second)},
			{ID: "00000000-0000-4000-8000-000000000503", SessionID: SessionCompleted, Seq: 3, Sender: models.SenderCustomer, AuthorID: ptr(UserCustomer1),
				Body: "Stable for ten minutes now, thank you!", CreatedAt: ended.Add(-30 * time.Second)},
		},
		&[]*models.ScreenShareSession{
			{ID: ScreenShareEnded, SessionID: SessionCompleted, Provider: "google_meet", Status: "ended",
				JoinURL: ptr("https://meet.google.com/abc-defg-hij"), StartedAt: ptr(started.Add(2 * time.Minute)),
				EndedAt: ptr(started.Add(9 * time.Minute)), CreatedAt: started.Add(2 * time.Minute)},
		},
		&[]*models.Rating{
			{ID: RatingCompleted, SessionID: SessionCompleted, SolverID: SolverActive, Rating: 5, Comment: ptr("Quick and friendly."), CreatedAt: ended.Add(time.Minute)},
		},
	}
}
