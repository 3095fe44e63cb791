package webhooks

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The event types that change something here; other verified deliveries are
// stored as they come, already processed.
const (
	ClerkUserCreated = "user.created"
	ClerkUserUpdated = "user.updated"
	ClerkUserDeleted = "user.deleted"

	TelnyxCallInitiated      = "call.initiated"
	TelnyxCallAnswered       = "call.answered"
	TelnyxCallHangup         = "call.hangup"
	TelnyxCallRecordingSaved = "call.recording.saved"
	TelnyxMessageReceived    = "message.received"
	TelnyxMessageSent        = "message.sent"
	TelnyxMessageFinalized   = "message.finalized"
)

// ClerkHandles reports whether a Clerk event type has something to apply.
func ClerkHandles(eventType string) bool {
	switch eventType {
	case ClerkUserCreated, ClerkUserUpdated, ClerkUserDeleted:
		return true
	}
	return false
}

// TelnyxHandles reports whether a Telnyx event type has something to apply.
func TelnyxHandles(eventType string) bool {
	return IsCallEvent(eventType) || IsMessageEvent(eventType)
}

// IsCallEvent reports whether a Telnyx event type is one of the call events applied to call_logs.
func IsCallEvent(eventType string) bool {
	switch eventType {
	case TelnyxCallInitiated, TelnyxCallAnswered, TelnyxCallHangup, TelnyxCallRecordingSaved:
		return true
	}
	return false
}

// IsMessageEvent reports whether a Telnyx event type is one of the message events applied to sms_logs.
func IsMessageEvent(eventType string) bool {
	switch eventType {
	case TelnyxMessageReceived, TelnyxMessageSent, TelnyxMessageFinalized:
		return true
	}
	return false
}

// ClerkEvent is a Clerk webhook payload ({"type", "timestamp", "data"}).
type ClerkEvent struct {
	Type string `json:"type"`
	// Timestamp is when Clerk created the event, in milliseconds since the epoch.
	Timestamp int64     `json:"timestamp"`
	Data      ClerkUser `json:"data"`
}

// ClerkUser is the data of Clerk's user events (user.deleted carries only id and deleted).
type ClerkUser struct {
	ID             string  `json:"id"`
	Deleted        bool    `json:"deleted"`
	FirstName      *string `json:"first_name"`
	LastName       *string `json:"last_name"`
	EmailAddresses []struct {
		ID           string `json:"id"`
		EmailAddress string `json:"email_address"`
	} `json:"email_addresses"`
	PrimaryEmailAddressID *string `json:"primary_email_address_id"`
	PhoneNumbers          []struct {
		ID          string `json:"id"`
		PhoneNumber string `json:"phone_number"`
	} `json:"phone_numbers"`
	PrimaryPhoneNumberID *string `json:"primary_phone_number_id"`
	// UpdatedAt is in milliseconds since the epoch.
	UpdatedAt int64 `json:"updated_at"`
}

// ParseClerk reads a Clerk event; it needs a type and a user id.
func ParseClerk(body []byte) (*ClerkEvent, error) {
	var e ClerkEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, errors.New("not a Clerk event: " + err.Error())
	}
	if e.Type == "" {
		return nil, errors.New("not a Clerk event: no type")
	}
	if strings.HasPrefix(e.Type, "user.") && e.Data.ID == "" {
		return nil, errors.New("Clerk user event without data.id")
	}
	return &e, nil
}

// OccurredAt is when the event happened: Clerk's timestamp, else the user's
// updated_at; nil when the payload has neither.
func (e *ClerkEvent) OccurredAt() *time.Time {
	for _, ms := range []int64{e.Timestamp, e.Data.UpdatedAt} {
		if ms > 0 {
			t := time.UnixMilli(ms).UTC()
			return &t
		}
	}
	return nil
}

// PrimaryEmail is the user's primary address (the first one when none is
// marked primary; "" when the user has none, as with phone-only sign-ups).
func (u *ClerkUser) PrimaryEmail() string {
	for _, a := range u.EmailAddresses {
		if u.PrimaryEmailAddressID != nil && a.ID == *u.PrimaryEmailAddressID {
			return a.EmailAddress
		}
	}
	if len(u.EmailAddresses) > 0 {
		return u.EmailAddresses[0].EmailAddress
	}
	return ""
}

// PrimaryPhone is the user's primary phone number, or nil.
func (u *ClerkUser) PrimaryPhone() *string {
	if u.PrimaryPhoneNumberID == nil {
		return nil
	}
	for _, p := range u.PhoneNumbers {
		if p.ID == *u.PrimaryPhoneNumberID && p.PhoneNumber != "" {
			return &p.PhoneNumber
		}
	}
	return nil
}

// Name is "First Last", or nil when Clerk has neither.
func (u *ClerkUser) Name() *string {
	var parts []string
	for _, p := range []*string{u.FirstName, u.LastName} {
		if p != nil && strings.TrimSpace(*p) != "" {
			parts = append(parts, strings.TrimSpace(*p))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	name := strings.Join(parts, " ")
	return &name
}

// TelnyxEvent is a Telnyx v2 webhook payload ({"data": {...}, "meta": {...}}).
type TelnyxEvent struct {
	Data struct {
		EventType  string          `json:"event_type"`
		ID         string          `json:"id"`
		OccurredAt string          `json:"occurred_at"`
		Payload    json.RawMessage `json:"payload"`
	} `json:"data"`
}

// ParseTelnyx reads a Telnyx event; it needs an event type and an id.
func ParseTelnyx(body []byte) (*TelnyxEvent, error) {
	var e TelnyxEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, errors.New("not a Telnyx event: " + err.Error())
	}
	if e.Data.EventType == "" || e.Data.ID == "" {
		return nil, errors.New("not a Telnyx event: no data.event_type or data.id")
	}
	return &e, nil
}

// When is data.occurred_at, or nil when it is missing or malformed.
func (e *TelnyxEvent) When() *time.Time {
	t, err := time.Parse(time.RFC3339Nano, e.Data.OccurredAt)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}

// Call reads the payload of a call event.
func (e *TelnyxEvent) Call() (*TelnyxCall, error) {
	var c TelnyxCall
	if err := json.Unmarshal(e.Data.Payload, &c); err != nil {
		return nil, errors.New("call event payload: " + err.Error())
	}
	return &c, nil
}

// Message reads the payload of a message event.
func (e *TelnyxEvent) Message() (*TelnyxMessage, error) {
	var m TelnyxMessage
	if err := json.Unmarshal(e.Data.Payload, &m); err != nil {
		return nil, errors.New("message event payload: " + err.Error())
	}
	return &m, nil
}

// Subject is the call or message the event is about ("" when the payload names none).
func (e *TelnyxEvent) Subject() string {
	switch {
	case IsCallEvent(e.Data.EventType):
		if c, err := e.Call(); err == nil {
			return c.ID()
		}
	case IsMessageEvent(e.Data.EventType):
		if m, err := e.Message(); err == nil {
			return m.ID
		}
	}
	return ""
}

// TelnyxCall is the payload of Telnyx's call events.
type TelnyxCall struct {
	CallControlID string `json:"call_control_id"`
	CallLegID     string `json:"call_leg_id"`
	CallSessionID string `json:"call_session_id"`
	ClientState   string `json:"client_state"`
	Direction     string `json:"direction"` // incoming or outgoing
	From          string `json:"from"`
	To            string `json:"to"`
	StartTime     string `json:"start_time"`
	EndTime       string `json:"end_time"`
	RecordingURLs struct {
		MP3 string `json:"mp3"`
		WAV string `json:"wav"`
	} `json:"recording_urls"`
}

// ID is the call's id: its call_control_id (else the leg or session id).
func (c *TelnyxCall) ID() string {
	for _, id := range []string{c.CallControlID, c.CallLegID, c.CallSessionID} {
		if id != "" {
			return id
		}
	}
	return ""
}

// TelnyxMessage is the payload of Telnyx's message events.
type TelnyxMessage struct {
	ID          string `json:"id"`
	Direction   string `json:"direction"` // inbound or outbound
	ClientState string `json:"client_state"`
	Text        string `json:"text"`
	From        struct {
		PhoneNumber string `json:"phone_number"`
	} `json:"from"`
	To []struct {
		PhoneNumber string `json:"phone_number"`
		Status      string `json:"status"`
	} `json:"to"`
}

// ClientState is what the platform puts in Telnyx's client_state: base64 of
// {"sessionId": "..."} or {"ticketId": "..."}.
type ClientState struct {
	SessionID string `json:"sessionId,omitempty"`
	TicketID  string `json:"ticketId,omitempty"`
}

// ParseClientState decodes a client_state; ok is false when it is empty or
// not one the platform set.
func ParseClientState(s string) (cs ClientState, ok bool) {
	if s == "" {
		return cs, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if json.Unmarshal(b, &cs) == nil && (cs.SessionID != "" || cs.TicketID != "") {
			return cs, true
		}
		return ClientState{}, false
	}
	return cs, false
}

// EncodeClientState is the client_state the platform sets on a call or text
// it starts (and what the tests sign).
func EncodeClientState(cs ClientState) string {
	b, _ := json.Marshal(cs)
	return base64.StdEncoding.EncodeToString(b)
}
