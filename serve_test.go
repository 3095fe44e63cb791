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
// binary's) under a 256 MB target runs at the tuner's highest GOGC (waited
// for: the tuner runs after a collection, on the finalizer goroutine), and
// GOGC set by the operator, or a target of 0, leaves the collector alone.
func TestTuneGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(100)
	defer gctuner.Tuning(0)
	if !tuneGC(log, 256) {
		t.Fatal("the tuner stayed off with no GOGC and a 256 MB target")
	}
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
	if tuneGC(log, 0) {
		t.Error("GC_HEAP_TARGET_MB=0 turned the tuner on")
	}
	t.Setenv("GOGC", "100")
	if tuneGC(log, 256) {
		t.Error("GOGC set by the operator, yet the tuner was turned on")
	}
}
