package models

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// The database has no trigger for updated_at (Atlas's library cannot manage
// triggers), so the data layer sets it. These hooks cover whole-model inserts
// and updates; store functions that name columns set updated_at = now()
// themselves, because Bun skips the hooks for those.

var (
	_ bun.BeforeAppendModelHook = (*User)(nil)
	_ bun.BeforeAppendModelHook = (*Solver)(nil)
	_ bun.BeforeAppendModelHook = (*Ticket)(nil)
	_ bun.BeforeAppendModelHook = (*Session)(nil)
	_ bun.BeforeAppendModelHook = (*CallLog)(nil)
	_ bun.BeforeAppendModelHook = (*SmsLog)(nil)
	_ bun.BeforeAppendModelHook = (*ScreenShareSession)(nil)
)

func touch(q bun.Query, updated *time.Time) {
	if _, ok := q.(*bun.UpdateQuery); ok {
		*updated = time.Now()
	}
}

func (m *User) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
func (m *Solver) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
func (m *Ticket) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
func (m *Session) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
func (m *CallLog) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
func (m *SmsLog) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
func (m *ScreenShareSession) BeforeAppendModel(_ context.Context, q bun.Query) error {
	touch(q, &m.UpdatedAt)
	return nil
}
