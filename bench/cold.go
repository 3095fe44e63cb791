package main

import (
	"slices"
	"time"
)

// coldCaches measures how much slower the same work runs after the CPU has
// been idle for a few milliseconds than back to back. On a shared host the
// other tenants evict this machine's caches during every idle gap, so CPU
// per request at partial load (a gap before most requests) is higher than at
// maximum throughput, and the share of the CPUs that 80 % of the maximum
// takes is correspondingly higher than 80 %. The result explains runs; it
// changes no measurement.
func coldCaches() (hotUS, coldUS float64) {
	buf := make([]byte, 2<<20) // a request's working set, roughly
	unit := func() time.Duration {
		t := time.Now()
		for i := 0; i < len(buf); i += 64 { // one touch per cache line, and a scattered read
			buf[i] += buf[(i*7919)%len(buf)]
		}
		return time.Since(t)
	}
	const n = 200
	hot, cold := make([]time.Duration, n), make([]time.Duration, n)
	for i := range n {
		unit() // warm
		hot[i] = unit()
	}
	for i := range n {
		time.Sleep(5 * time.Millisecond)
		cold[i] = unit()
	}
	med := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return round(float64(ds[len(ds)/2])/float64(time.Microsecond), 1)
	}
	return med(hot), med(cold)
}
