// Package models holds the Bun models of the database tables, their enums and
// the typed contents of their jsonb columns. Pure data: no queries, no rules.
package models

import (
	"time"

	"github.com/uptrace/bun"
)

// User is a person with an account, synchronised from Clerk.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID               string   `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	ClerkID          string   `bun:"clerk_id,notnull"`
	Email            string   `bun:"email,notnull"`
	Name             *string  `bun:"name"`
	Phone            *string  `bun:"phone"`
	Role             UserRole `bun:"role,type:user_role,notnull,default:'customer'"`
	StripeCustomerID *string  `bun:"stripe_customer_id"`
	// DeletedAt is set when Clerk's user.deleted anonymised the user (the row stays).
	DeletedAt *time.Time `bun:"deleted_at"`
	CreatedAt time.Time  `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt time.Time  `bun:"updated_at,notnull,nullzero,default:current_timestamp"`

	Solver *Solver `bun:"rel:has-one,join:id=user_id"`
}

// SolverStats are a solver's denormalized running totals (solvers.stats).
type SolverStats struct {
	AverageRating      *float64 `json:"averageRating"`
	TotalRatings       int      `json:"totalRatings"`
	CompletedSessions  int      `json:"completedSessions"`
	TotalEarningsCents int      `json:"totalEarningsCents"`
}

// Solver is a user's solver profile.
type Solver struct {
	bun.BaseModel `bun:"table:solvers,alias:s"`

	ID                  string       `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	UserID              string       `bun:"user_id,type:uuid,notnull"`
	Type                SolverType   `bun:"type,type:solver_type,notnull,default:'general'"`
	Status              SolverStatus `bun:"status,type:solver_status,notnull,default:'onboarding'"`
	StripeConnectID     *string      `bun:"stripe_connect_id"`
	RevenueSharePercent int          `bun:"revenue_share_percent,notnull,default:70"`
	Stats               SolverStats  `bun:"stats,type:jsonb,notnull"`
	GoogleEmail         *string      `bun:"google_email"`
	CreatedAt           time.Time    `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt           time.Time    `bun:"updated_at,notnull,nullzero,default:current_timestamp"`

	User *User `bun:"rel:belongs-to,join:user_id=id"`
}

// CustomerInfo is how to reach a ticket's customer (tickets.customer_info).
type CustomerInfo struct {
	Name  string  `json:"name"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
}

// Ticket is a customer's request for help.
type Ticket struct {
	bun.BaseModel `bun:"table:tickets,alias:t"`

	ID           string       `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	CustomerInfo CustomerInfo `bun:"customer_info,type:jsonb,notnull"`
	Description  string       `bun:"description,notnull"`
	DeviceType   DeviceType   `bun:"device_type,type:device_type,notnull"`
	Urgency      Urgency      `bun:"urgency,type:urgency,notnull,default:'medium'"`
	Status       TicketStatus `bun:"status,type:ticket_status,notnull,default:'pending'"`
	SolverID     *string      `bun:"solver_id,type:uuid"`
	ClaimedAt    *time.Time   `bun:"claimed_at"`
	CreatedAt    time.Time    `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt    time.Time    `bun:"updated_at,notnull,nullzero,default:current_timestamp"`
	// CustomerID is the signed-in customer who opened the ticket; nil for guests.
	CustomerID *string `bun:"customer_id,type:uuid"`
	// StatusReason says why the ticket was cancelled or refunded.
	StatusReason *string `bun:"status_reason"`
	// AccessTokenHash is the SHA-256 of the guest's ticket token.
	AccessTokenHash []byte `bun:"access_token_hash"`

	Solver   *Solver    `bun:"rel:belongs-to,join:solver_id=id"`
	Sessions []*Session `bun:"rel:has-many,join:id=ticket_id"`
}

// Pricing is a session's price list and, once it ended, its total (sessions.pricing).
type Pricing struct {
	Tier           TicketTier `json:"tier"`
	BaseCents      int        `json:"baseCents"`
	PerMinuteCents int        `json:"perMinuteCents"`
	TotalCents     *int       `json:"totalCents"`
	Currency       string     `json:"currency"`
}

// PaymentInfo is what the customer pays for a session, through Stripe
// (sessions.payment_info). It is written when the session ends (status
// requires_payment, no intent yet), completed by the charge job once the
// PaymentIntent exists, and moved on by Stripe's webhooks and by refunds.
// Nil: the session was never billed (not ended, or ended without Stripe).
type PaymentInfo struct {
	Status      PaymentStatus `json:"status"`
	AmountCents int           `json:"amountCents"`
	Currency    string        `json:"currency"` // ISO 4217, upper case, as in Pricing
	// IntentID is the Stripe PaymentIntent (pi_...), set by the charge job.
	IntentID string `json:"intentId,omitempty"`
	// ClientSecret is the PaymentIntent's client secret, for the customer's
	// Stripe Elements; shown only to the session's customer while unpaid.
	ClientSecret string `json:"clientSecret,omitempty"`
	// CustomerID is the Stripe customer (cus_...) of a signed-in customer.
	CustomerID string `json:"customerId,omitempty"`
	// RefundID is the Stripe refund (re_...) made by refundTicket.
	RefundID string `json:"refundId,omitempty"`
	// RefundedCents is what Stripe reports refunded so far (partial refunds
	// included; the status becomes refunded only once the charge is refunded in full).
	RefundedCents int `json:"refundedCents,omitempty"`
	// FailureMessage is Stripe's reason for the last failed attempt to pay.
	FailureMessage string     `json:"failureMessage,omitempty"`
	PaidAt         *time.Time `json:"paidAt,omitempty"`
	RefundedAt     *time.Time `json:"refundedAt,omitempty"`
	// EventAt is when the newest Stripe event applied to the payment was
	// created: an older event that arrives late does not undo it.
	EventAt *time.Time `json:"eventAt,omitempty"`
}

// Session is a live working session between a solver and a customer.
type Session struct {
	bun.BaseModel `bun:"table:sessions,alias:ss"`

	ID           string       `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	TicketID     string       `bun:"ticket_id,type:uuid,notnull"`
	SolverID     string       `bun:"solver_id,type:uuid,notnull"`
	Duration     *int         `bun:"duration"`
	Tier         TicketTier   `bun:"tier,type:ticket_tier,notnull,default:'standard'"`
	Pricing      *Pricing     `bun:"pricing,type:jsonb"`
	Earnings     *int         `bun:"earnings"`
	PaymentInfo  *PaymentInfo `bun:"payment_info,type:jsonb"`
	MessageCount int          `bun:"message_count,notnull,default:0"`
	StartedAt    *time.Time   `bun:"started_at"`
	EndedAt      *time.Time   `bun:"ended_at"`
	CreatedAt    time.Time    `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt    time.Time    `bun:"updated_at,notnull,nullzero,default:current_timestamp"`

	Ticket   *Ticket           `bun:"rel:belongs-to,join:ticket_id=id"`
	Solver   *Solver           `bun:"rel:belongs-to,join:solver_id=id"`
	Messages []*SessionMessage `bun:"rel:has-many,join:id=session_id"`
	Rating   *Rating           `bun:"rel:has-one,join:id=session_id"`
}

// SessionMessage is one chat message; Seq orders a session's messages.
type SessionMessage struct {
	bun.BaseModel `bun:"table:session_messages,alias:m"`

	ID        string        `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	SessionID string        `bun:"session_id,type:uuid,notnull"`
	Seq       int           `bun:"seq,notnull"`
	Sender    MessageSender `bun:"sender,type:message_sender,notnull"`
	AuthorID  *string       `bun:"author_id,type:uuid"`
	Body      string        `bun:"body,notnull"`
	CreatedAt time.Time     `bun:"created_at,notnull,nullzero,default:current_timestamp"`

	Session *Session `bun:"rel:belongs-to,join:session_id=id"`
	Author  *User    `bun:"rel:belongs-to,join:author_id=id"`
}

// CallLog is a phone call through Telnyx.
type CallLog struct {
	bun.BaseModel `bun:"table:call_logs,alias:cl"`

	ID           string     `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	TicketID     *string    `bun:"ticket_id,type:uuid"`
	SessionID    *string    `bun:"session_id,type:uuid"`
	ProviderID   string     `bun:"provider_id,notnull"`
	Direction    Direction  `bun:"direction,type:direction,notnull"`
	FromNumber   string     `bun:"from_number,notnull"`
	ToNumber     string     `bun:"to_number,notnull"`
	Status       string     `bun:"status,notnull"`
	Duration     *int       `bun:"duration"`
	RecordingURL *string    `bun:"recording_url"`
	StartedAt    *time.Time `bun:"started_at"`
	EndedAt      *time.Time `bun:"ended_at"`
	CreatedAt    time.Time  `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt    time.Time  `bun:"updated_at,notnull,nullzero,default:current_timestamp"`
}

// SmsLog is a text message through Telnyx.
type SmsLog struct {
	bun.BaseModel `bun:"table:sms_logs,alias:sl"`

	ID         string    `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	TicketID   *string   `bun:"ticket_id,type:uuid"`
	SessionID  *string   `bun:"session_id,type:uuid"`
	ProviderID string    `bun:"provider_id,notnull"`
	Direction  Direction `bun:"direction,type:direction,notnull"`
	FromNumber string    `bun:"from_number,notnull"`
	ToNumber   string    `bun:"to_number,notnull"`
	Body       string    `bun:"body,notnull"`
	Status     string    `bun:"status,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt  time.Time `bun:"updated_at,notnull,nullzero,default:current_timestamp"`
}

// Rating is a customer's rating of an ended session.
type Rating struct {
	bun.BaseModel `bun:"table:ratings,alias:r"`

	ID        string    `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	SessionID string    `bun:"session_id,type:uuid,notnull"`
	SolverID  string    `bun:"solver_id,type:uuid,notnull"`
	Rating    int       `bun:"rating,notnull"`
	Comment   *string   `bun:"comment"`
	CreatedAt time.Time `bun:"created_at,notnull,nullzero,default:current_timestamp"`

	Session *Session `bun:"rel:belongs-to,join:session_id=id"`
	Solver  *Solver  `bun:"rel:belongs-to,join:solver_id=id"`
}

// ScreenShareSession is a screen share of a session.
type ScreenShareSession struct {
	bun.BaseModel `bun:"table:screen_share_sessions,alias:sc"`

	ID        string     `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	SessionID string     `bun:"session_id,type:uuid,notnull"`
	Provider  string     `bun:"provider,notnull"`
	Status    string     `bun:"status,notnull"`
	JoinURL   *string    `bun:"join_url"`
	StartedAt *time.Time `bun:"started_at"`
	EndedAt   *time.Time `bun:"ended_at"`
	CreatedAt time.Time  `bun:"created_at,notnull,nullzero,default:current_timestamp"`
	UpdatedAt time.Time  `bun:"updated_at,notnull,nullzero,default:current_timestamp"`
}

// All lists every model, one per table: the models-agree-with-database test and
// the seed use it.
func All() []any {
	return []any{
		(*User)(nil), (*Solver)(nil), (*Ticket)(nil), (*Session)(nil), (*SessionMessage)(nil),
		(*CallLog)(nil), (*SmsLog)(nil), (*Rating)(nil), (*ScreenShareSession)(nil),
		(*WebhookEvent)(nil),
	}
}

// TicketQueueEvent is a ticket entering or leaving the queue.
type TicketQueueEvent struct {
	Kind   QueueEventKind
	Ticket *Ticket
}
