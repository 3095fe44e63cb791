package api

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/observe"
)

// With MAX_IN_FLIGHT=auto the line runs fixed at the floor while the
// database answers within NearDatabase, adaptive when it is farther, and at
// the floor when it does not answer.
func TestTurnsFollowTheDatabasesDistance(t *testing.T) {
	t.Parallel()
	lo, _, _ := AdaptiveInFlight()
	for _, c := range []struct {
		name string
		ping func(context.Context) error
		far  bool
	}{
		{"Near", func(context.Context) error { return nil }, false},
		{"Far", func(context.Context) error { time.Sleep(2 * NearDatabase); return nil }, true},
		{"Down", func(context.Context) error { return errors.New("connection refused") }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr := newTurns(AutoInFlight, observe.NewMetrics(observe.MetricsConfig{}), nil, nil)
			tr.probe(c.ping, slog.New(slog.DiscardHandler))
			if tr.far.Load() != c.far {
				t.Fatalf("far = %v, want %v", tr.far.Load(), c.far)
			}
			l := tr.limiter()
			if got := l.Limit(); got != lo {
				t.Errorf("starts at %d, want the floor %d", got, lo)
			}
			if c.far && l != tr.adaptive || !c.far && l != tr.fixed {
				t.Errorf("the wrong limiter is in use")
			}
		})
	}
}
