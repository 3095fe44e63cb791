package models

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Enums are stored in lower case (the PostgreSQL enum labels) and spoken in
// upper case in GraphQL; the Marshal/Unmarshal methods translate, so the
// GraphQL schema binds straight to these types.

// UserRole is a user's role (enum user_role).
type UserRole string

// The user roles.
const (
	RoleCustomer UserRole = "customer"
	RoleSolver   UserRole = "solver"
	RoleAdmin    UserRole = "admin"
)

// SolverType is the kind of help a solver gives (enum solver_type).
type SolverType string

// The solver types.
const (
	SolverGeneral    SolverType = "general"
	SolverSpecialist SolverType = "specialist"
)

// SolverStatus is where a solver stands (enum solver_status).
type SolverStatus string

// The solver statuses.
const (
	SolverOnboarding SolverStatus = "onboarding"
	SolverActive     SolverStatus = "active"
	SolverInactive   SolverStatus = "inactive"
	SolverSuspended  SolverStatus = "suspended"
)

// DeviceType is the device a ticket is about (enum device_type).
type DeviceType string

// The device types.
const (
	DevicePhone     DeviceType = "phone"
	DeviceTablet    DeviceType = "tablet"
	DeviceComputer  DeviceType = "computer"
	DevicePrinter   DeviceType = "printer"
	DeviceNetwork   DeviceType = "network"
	DeviceSmartHome DeviceType = "smart_home"
	DeviceTV        DeviceType = "tv"
	DeviceOther     DeviceType = "other"
)

// Urgency is how soon a customer needs help (enum urgency, least urgent first).
type Urgency string

// The urgencies.
const (
	UrgencyLow      Urgency = "low"
	UrgencyMedium   Urgency = "medium"
	UrgencyHigh     Urgency = "high"
	UrgencyCritical Urgency = "critical"
)

// TicketStatus is a ticket's place in its life (enum ticket_status).
type TicketStatus string

// The ticket statuses.
const (
	TicketPending    TicketStatus = "pending"
	TicketClaimed    TicketStatus = "claimed"
	TicketInProgress TicketStatus = "in_progress"
	TicketCompleted  TicketStatus = "completed"
	TicketCancelled  TicketStatus = "cancelled"
	TicketRefunded   TicketStatus = "refunded"
)

// TicketTier is a session's price tier (enum ticket_tier).
type TicketTier string

// The tiers.
const (
	TierStandard TicketTier = "standard"
	TierPriority TicketTier = "priority"
	TierPremium  TicketTier = "premium"
)

// MessageSender says who wrote a chat message (enum message_sender).
type MessageSender string

// The senders.
const (
	SenderCustomer MessageSender = "customer"
	SenderSolver   MessageSender = "solver"
	SenderSystem   MessageSender = "system"
)

// Direction is the way a call or text travelled (enum direction).
type Direction string

// The directions.
const (
	Inbound  Direction = "inbound"
	Outbound Direction = "outbound"
)

// QueueEventKind says whether a ticket entered or left the queue (GraphQL only).
type QueueEventKind string

// The queue event kinds.
const (
	QueueAdded   QueueEventKind = "added"
	QueueRemoved QueueEventKind = "removed"
)

// PaymentStatus is where a session's payment stands (GraphQL only: stored
// inside sessions.payment_info, not as a PostgreSQL enum).
type PaymentStatus string

// The payment statuses.
const (
	PaymentUnbilled        PaymentStatus = "unbilled"
	PaymentRequiresPayment PaymentStatus = "requires_payment"
	PaymentProcessing      PaymentStatus = "processing"
	PaymentSucceeded       PaymentStatus = "succeeded"
	PaymentFailed          PaymentStatus = "failed"
	PaymentRefunded        PaymentStatus = "refunded"
)

var enumValues = map[string][]string{
	"UserRole":       {"customer", "solver", "admin"},
	"SolverType":     {"general", "specialist"},
	"SolverStatus":   {"onboarding", "active", "inactive", "suspended"},
	"DeviceType":     {"phone", "tablet", "computer", "printer", "network", "smart_home", "tv", "other"},
	"Urgency":        {"low", "medium", "high", "critical"},
	"TicketStatus":   {"pending", "claimed", "in_progress", "completed", "cancelled", "refunded"},
	"TicketTier":     {"standard", "priority", "premium"},
	"MessageSender":  {"customer", "solver", "system"},
	"Direction":      {"inbound", "outbound"},
	"QueueEventKind": {"added", "removed"},
	"PaymentStatus":  {"unbilled", "requires_payment", "processing", "succeeded", "failed", "refunded"},
}

// EnumValues lists the stored values of the enum named like its Go type.
func EnumValues(name string) []string { return enumValues[name] }

func writeEnum(w io.Writer, v string) { io.WriteString(w, strconv.Quote(strings.ToUpper(v))) }

func readEnum(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", name)
	}
	low := strings.ToLower(s)
	for _, x := range enumValues[name] {
		if x == low && s == strings.ToUpper(s) {
			return low, nil
		}
	}
	return "", fmt.Errorf("%s is not a valid %s", s, name)
}

func (e UserRole) MarshalGQL(w io.Writer)       { writeEnum(w, string(e)) }
func (e SolverType) MarshalGQL(w io.Writer)     { writeEnum(w, string(e)) }
func (e SolverStatus) MarshalGQL(w io.Writer)   { writeEnum(w, string(e)) }
func (e DeviceType) MarshalGQL(w io.Writer)     { writeEnum(w, string(e)) }
func (e Urgency) MarshalGQL(w io.Writer)        { writeEnum(w, string(e)) }
func (e TicketStatus) MarshalGQL(w io.Writer)   { writeEnum(w, string(e)) }
func (e TicketTier) MarshalGQL(w io.Writer)     { writeEnum(w, string(e)) }
func (e MessageSender) MarshalGQL(w io.Writer)  { writeEnum(w, string(e)) }
func (e Direction) MarshalGQL(w io.Writer)      { writeEnum(w, string(e)) }
func (e QueueEventKind) MarshalGQL(w io.Writer) { writeEnum(w, string(e)) }
func (e PaymentStatus) MarshalGQL(w io.Writer)  { writeEnum(w, string(e)) }

func (e *UserRole) UnmarshalGQL(v any) error       { return unmarshal(e, "UserRole", v) }
func (e *SolverType) UnmarshalGQL(v any) error     { return unmarshal(e, "SolverType", v) }
func (e *SolverStatus) UnmarshalGQL(v any) error   { return unmarshal(e, "SolverStatus", v) }
func (e *DeviceType) UnmarshalGQL(v any) error     { return unmarshal(e, "DeviceType", v) }
func (e *Urgency) UnmarshalGQL(v any) error        { return unmarshal(e, "Urgency", v) }
func (e *TicketStatus) UnmarshalGQL(v any) error   { return unmarshal(e, "TicketStatus", v) }
func (e *TicketTier) UnmarshalGQL(v any) error     { return unmarshal(e, "TicketTier", v) }
func (e *MessageSender) UnmarshalGQL(v any) error  { return unmarshal(e, "MessageSender", v) }
func (e *Direction) UnmarshalGQL(v any) error      { return unmarshal(e, "Direction", v) }
func (e *QueueEventKind) UnmarshalGQL(v any) error { return unmarshal(e, "QueueEventKind", v) }
func (e *PaymentStatus) UnmarshalGQL(v any) error  { return unmarshal(e, "PaymentStatus", v) }

func unmarshal[T ~string](e *T, name string, v any) error {
	s, err := readEnum(name, v)
	if err != nil {
		return err
	}
	*e = T(s)
	return nil
}
