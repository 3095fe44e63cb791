package jobs

import (
	"testing"
	"time"
)

func TestDailyAt(t *testing.T) {
	t.Parallel()
	at3 := dailyAt{hour: 3}
	tests := []struct{ now, want string }{
		{"2026-11-23T01:00:00Z", "2026-11-23T03:00:00Z"},
		{"2026-11-23T03:00:00Z", "2026-11-24T03:00:00Z"},
		{"2026-11-23T22:30:00Z", "2026-11-24T03:00:00Z"},
		{"2026-12-31T23:59:00-05:00", "2027-01-02T03:00:00Z"}, // 04:59 UTC on January 1st
	}
	for _, tc := range tests {
		now, _ := time.Parse(time.RFC3339, tc.now)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := at3.Next(now); !got.Equal(want) {
			t.Errorf("Next(%s) = %s, want %s", tc.now, got, want)
		}
	}
}
