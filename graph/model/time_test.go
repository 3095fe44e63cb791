package model

import (
	"bytes"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// TestMarshalTime: the same bytes as gqlgen's own marshaller, into a buffer
// or any writer.
func TestMarshalTime(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 28, 6, 30, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", -5*3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 500, time.Local),
	}
	for _, tm := range times {
		var want, got bytes.Buffer
		graphql.MarshalTime(tm).MarshalGQL(&want)
		MarshalTime(tm).MarshalGQL(&got)
		var other bytes.Buffer
		MarshalTime(tm).MarshalGQL(struct{ *bytes.Buffer }{&other})
		if got.String() != want.String() || other.String() != want.String() {
			t.Errorf("%v: got %s and %s, want %s", tm, got.String(), other.String(), want.String())
		}
	}
	if MarshalTime(time.Time{}) != graphql.Null {
		t.Error("the zero time is not null")
	}
}
