package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// gql is a GraphQL client over one shared keep-alive transport.
type gql struct {
	url string
	hc  *http.Client
}

func newGQL(base string) *gql {
	return &gql{url: base + "/graphql", hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        2048,
			MaxIdleConnsPerHost: 2048,
			IdleConnTimeout:     60 * time.Second,
			DisableCompression:  true,
		},
	}}
}

func (g *gql) closeIdle() { g.hc.CloseIdleConnections() }

// gqlError is a failed request: an HTTP status or the first GraphQL error's code.
type gqlError struct{ code, msg string }

func (e *gqlError) Error() string { return e.code + ": " + e.msg }

var errorsKey = []byte(`"errors"`)

// do posts one operation; out (if not nil) receives the "data" member.
func (g *gql) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return &gqlError{code: "TRANSPORT", msg: err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return &gqlError{code: "TRANSPORT", msg: err.Error()}
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, errorsKey) {
		var r struct {
			Errors []struct {
				Message    string
				Extensions struct{ Code string }
			}
		}
		json.Unmarshal(b, &r)
		if len(r.Errors) > 0 {
			return &gqlError{code: r.Errors[0].Extensions.Code, msg: r.Errors[0].Message}
		}
		if resp.StatusCode != http.StatusOK {
			return &gqlError{code: fmt.Sprintf("HTTP_%d", resp.StatusCode), msg: string(b)}
		}
	}
	if out != nil {
		var r struct{ Data json.RawMessage }
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// op performs one request of a scenario.
type op func(ctx context.Context) error

// loadRun is the outcome of one load run.
type loadRun struct {
	ok, errs  int
	dropped   int // open loop: not sent because too many were in flight
	elapsed   time.Duration
	latencies []time.Duration // of successful requests
	starts    []time.Duration // when each of latencies began (due), from the run's start
	errKinds  map[string]int
	firstErr  string
}

type recorder struct {
	mu       sync.Mutex
	start    time.Time
	lat      []time.Duration
	starts   []time.Duration
	errs     int
	errKinds map[string]int
	firstErr string
}

// record counts one request that began at t (its due time, open loop) and
// took d.
func (r *recorder) record(t time.Time, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.lat = append(r.lat, d)
		r.starts = append(r.starts, t.Sub(r.start))
		return
	}
	r.errs++
	if r.errKinds == nil {
		r.errKinds = map[string]int{}
	}
	kind := "OTHER"
	var ge *gqlError
	if errors.As(err, &ge) {
		kind = ge.code
	}
	r.errKinds[kind]++
	if r.firstErr == "" {
		r.firstErr = err.Error()
	}
}

func (r *recorder) result(elapsed time.Duration, dropped int) loadRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return loadRun{ok: len(r.lat), errs: r.errs + dropped, dropped: dropped, elapsed: elapsed,
		latencies: r.lat, starts: r.starts, errKinds: r.errKinds, firstErr: r.firstErr}
}

// closedLoop runs do back to back on workers goroutines for d: the maximum
// throughput the server sustains with that many clients.
func closedLoop(ctx context.Context, workers int, d time.Duration, do op) loadRun {
	rec := &recorder{lat: make([]time.Duration, 0, 1<<16)}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	start := time.Now()
	rec.start = start
	end := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				t := time.Now()
				err := do(ctx)
				rec.record(t, time.Since(t), err)
			}
		}()
	}
	wg.Wait()
	return rec.result(time.Since(start), 0)
}

// openLoop sends requests at a fixed rate for d, whatever the answers do:
// each request has a due time, and its latency is counted from that time,
// so a server that falls behind shows it in the tail (no coordinated
// omission). At most inFlight requests are outstanding; a request due when
// that many are is dropped and counted as an error.
func openLoop(ctx context.Context, rate float64, d time.Duration, inFlight int, do op) loadRun {
	rec := &recorder{lat: make([]time.Duration, 0, int(rate*d.Seconds())+16)}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	jobs := make(chan time.Time, inFlight)
	var busy atomic.Int64
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for due := range jobs {
				err := do(ctx)
				rec.record(due, time.Since(due), err)
				busy.Add(-1)
			}
		}()
	}
	n := int(rate * d.Seconds())
	dropped := 0
	start := time.Now()
	rec.start = start // before the first job: the channel orders it before every record
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		if busy.Load() >= int64(inFlight) {
			dropped++
			continue
		}
		busy.Add(1)
		jobs <- due
	}
	close(jobs)
	wg.Wait()
	return rec.result(d, dropped)
}

// percentile returns the p-th percentile (0..100) of sorted latencies, in ms.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return round(float64(sorted[i])/float64(time.Millisecond), 2)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func sortDurations(ds []time.Duration) { slices.Sort(ds) }

// errSummary lists error kinds, most frequent first.
func errSummary(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range m {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
	var parts []string
	for _, e := range kvs {
		parts = append(parts, fmt.Sprintf("%s×%d", e.k, e.v))
	}
	return strings.Join(parts, " ")
}
