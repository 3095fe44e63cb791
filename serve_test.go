package main

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/bytedance/gopkg/util/gctuner"
)

// TestTuneGC checks the collector's wiring: a small live heap (a test
// binary's) under a 256 MB target runs at the tuner's highest GOGC, and
// GOGC set by the operator leaves the collector alone.
func TestTuneGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(100)
	defer gctuner.Tuning(0)
	tuneGC(log, 256)
	deadline := time.Now().Add(5 * time.Second)
	for gctuner.GetGCPercent() != 500 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC %d after collections with a small live heap, want 500", gctuner.GetGCPercent())
		}
		runtime.GC() // the tuner runs after each collection
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetGCPercent(500); got != 500 {
		t.Fatalf("the runtime's GOGC is %d, the tuner's 500", got)
	}

	gctuner.Tuning(0)
	debug.SetGCPercent(100)
	t.Setenv("GOGC", "100")
	tuneGC(log, 256)
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set by the operator, yet the collector runs at %d", got)
	}
}
