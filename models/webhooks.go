package models

import (
	"time"

	"github.com/uptrace/bun"
)

// The senders of webhooks (webhook_events.source).
const (
	SourceClerk  = "clerk"
	SourceTelnyx = "telnyx"
	SourceStripe = "stripe"
)

// WebhookEvent is one signed webhook delivery, stored before it is
// acknowledged and applied by a job; ProcessedAt is set once it was applied.
type WebhookEvent struct {
	bun.BaseModel `bun:"table:webhook_events,alias:we"`

	ID          string         `bun:"id,pk,type:uuid,default:gen_random_uuid(),nullzero"`
	Source      string         `bun:"source,notnull"`
	DeliveryID  string         `bun:"delivery_id,notnull"`
	EventType   string         `bun:"event_type,notnull"`
	SubjectID   *string        `bun:"subject_id"`
	OccurredAt  *time.Time     `bun:"occurred_at"`
	Payload     map[string]any `bun:"payload,type:jsonb,notnull"`
	ReceivedAt  time.Time      `bun:"received_at,notnull,nullzero,default:current_timestamp"`
	ProcessedAt *time.Time     `bun:"processed_at"`
}
