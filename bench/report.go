package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/savvysolve/api/internal/embeddedpg"
)

// results is bench/results/latest.json.
type results struct {
	Machine   machine          `json:"machine"`
	Mode      string           `json:"mode"` // "full" or "short"
	Date      string           `json:"date"`
	DurationS float64          `json:"duration_s"`
	Data      dataSizes        `json:"data"`
	Scenarios []scenarioResult `json:"scenarios"`
	Fanout    *fanoutResult    `json:"fanout"`  // websockets at -subscribers (the memory measure)
	Fanouts   []*fanoutResult  `json:"fanouts"` // every fan-out run: websockets, websockets at -fanout-large, SSE
	// ColdStartMS is the median time from process start to /readyz 200.
	ColdStartMS   float64   `json:"cold_start_ms"`
	ColdStartRuns []float64 `json:"cold_start_runs_ms,omitempty"`
	// Statements: per scenario and dataloader setting, statements per
	// request on the small and the full data set.
	Statements []statementCount `json:"statements"`
	// WriteStatements: statements of each mutation of the write mix.
	WriteStatements map[string]float64 `json:"write_statements,omitempty"`
	Targets         []target           `json:"targets"`
	Notes           []string           `json:"notes,omitempty"`
	// ServerEnv is what the benchmark set in the server's environment besides
	// the database URL, the port and the secret.
	ServerEnv []string `json:"server_env"`
	// DBLatencyMS is the one-way latency -db-latency added to the servers'
	// database traffic; DBLatencyAddedMS what the proxy's delay lines
	// delivered on average (the asked latency plus the sleep's overshoot).
	DBLatencyMS      float64 `json:"db_latency_ms,omitempty"`
	DBLatencyAddedMS float64 `json:"db_latency_delivered_ms,omitempty"`
}

type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemoryGB int    `json:"memory_gb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	// A pass over 2 MiB (one touch per cache line) back to back and after
	// 5 ms idle, median µs (coldCaches): their ratio is how much dearer a
	// request gets when the CPUs idle between requests.
	UnitHotUS  float64 `json:"unit_hot_us"`
	UnitColdUS float64 `json:"unit_after_idle_us"`
}

type dataSizes struct {
	Solvers  int `json:"solvers"`
	Tickets  int `json:"tickets"`
	Sessions int `json:"sessions"`
	Messages int `json:"messages"`
	Ratings  int `json:"ratings"`
}

type scenarioResult struct {
	Name      string  `json:"name"`
	Scenario  string  `json:"scenario"`
	Loaders   bool    `json:"dataloaders"`
	Mode      string  `json:"mode"` // "max" (closed loop) or "50%"/"80%" of it (open loop)
	TargetRPS float64 `json:"target_rps,omitempty"`
	Requests  int     `json:"requests"`
	RPS       float64 `json:"rps"`
	P50       float64 `json:"p50_ms"`
	P95       float64 `json:"p95_ms"`
	P99       float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
	Errors    int     `json:"errors"`
	// ErrorKinds counts errors by GraphQL code (or HTTP status, TRANSPORT, DROPPED_INFLIGHT_LIMIT).
	ErrorKinds string `json:"error_kinds,omitempty"`
	// StatementsPerRequest is what PostgreSQL ran during the run (from
	// pg_stat_statements: every statement, the LISTEN connection's included)
	// divided by the requests sent; without pg_stat_statements, the count of
	// the counting pass (one request at a time, full data set).
	StatementsPerRequest *float64 `json:"statements_per_request"`
	// TopStatements are the statements that took PostgreSQL longest in the run.
	TopStatements []topStatement `json:"top_statements,omitempty"`
	// StatementsMetric is the server's own savvysolve_sql_statements_per_request
	// over the run, when /metrics exposes it.
	StatementsMetric *float64 `json:"statements_per_request_metric,omitempty"`
	ServerCPU        float64  `json:"server_cpu_s"`
	// ServerCPUPerRequest is ServerCPU over the requests the server saw
	// (errors included), in ms: it moves much less with the machine than
	// throughput does.
	ServerCPUPerRequest float64 `json:"server_cpu_ms_per_request"`
	ServerRSS           float64 `json:"server_rss_mb"` // peak (VmHWM) during the run
	PGCPU               float64 `json:"postgres_cpu_s"`
	ClientCPU           float64 `json:"client_cpu_s"` // the load generator
	// StealMS is the time the hypervisor kept this machine's CPUs from
	// running while they had work (steal in /proc/stat), summed over CPUs:
	// on a shared host it comes in 100 ms pieces when every vCPU is busy,
	// and one piece during a run puts a queue behind it into the tail.
	StealMS float64 `json:"host_steal_ms"`
	// ConnectionsOpened counts the database connections opened during the run
	// (the server's pool growing or churning; the LISTEN connection is long-lived).
	ConnectionsOpened float64 `json:"db_connections_opened"`
	DurationS         float64 `json:"duration_s"`
}

type topStatement struct {
	Query   string  `json:"query"`
	Calls   float64 `json:"calls"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
}

type statementCount struct {
	Scenario string `json:"scenario"`
	Loaders  bool   `json:"dataloaders"`
	Data     string `json:"data"` // "small" or "full"
	// Sample: the first requests of the load runs' input mix (in order, so
	// small and full data compare request for request).
	Sample float64 `json:"statements_per_request"`
	// FullShape: requests that reach every level of the query; with
	// dataloaders this is the query's shape, one statement per level.
	FullShape float64 `json:"statements_full_shape"`
	FullMin   float64 `json:"statements_full_shape_min"`
	FullMax   float64 `json:"statements_full_shape_max"`
}

type fanoutResult struct {
	Transport            string  `json:"transport"`   // "websocket", "websocket (large)", "sse"
	Subscribers          int     `json:"subscribers"` // live (received their probe)
	Target               int     `json:"subscribers_target"`
	Sockets              int     `json:"connections"` // websockets or SSE streams
	PerSocket            int     `json:"subscriptions_per_connection"`
	FileLimit            uint64  `json:"open_file_limit"`
	Sessions             int     `json:"sessions"`
	ConnectS             float64 `json:"connect_s"`
	ConnectErrors        int     `json:"connect_errors"`
	Messages             int     `json:"messages_sent"`
	SendErrors           int     `json:"send_errors"`
	SendP50              float64 `json:"send_p50_ms"`
	SendP99              float64 `json:"send_p99_ms"`
	P50                  float64 `json:"p50_ms"` // from the start of sendMessage to receipt
	P95                  float64 `json:"p95_ms"`
	P99                  float64 `json:"p99_ms"`
	MaxMS                float64 `json:"max_ms"`
	P99AfterResponse     float64 `json:"p99_after_response_ms"` // from sendMessage's response (a lower bound)
	Expected             int64   `json:"expected"`
	Delivered            int64   `json:"delivered"`
	Lost                 int64   `json:"lost"`
	Duplicates           int64   `json:"duplicates"`
	Disconnected         int64   `json:"disconnected"`
	DisconnectKinds      string  `json:"disconnect_kinds,omitempty"`
	BytesPerSubscription float64 `json:"bytes_per_subscription"` // (RSS with every subscription - RSS before) / subscriptions
	BytesPerSocket       float64 `json:"bytes_per_socket"`       // the part of it an open socket costs before it subscribes
	RSSBeforeMB          float64 `json:"rss_before_mb"`
	RSSAfterMB           float64 `json:"rss_after_mb"`
	ServerRSS            float64 `json:"server_rss_mb"`
	SetupCPU             float64 `json:"setup_cpu_s"` // connecting and probing
	ServerCPU            float64 `json:"server_cpu_s"`
	// StatementsPerMessage: what PostgreSQL ran per message sent (the
	// transaction, the hub's load, and each subscriber's field resolvers).
	StatementsPerMessage *float64 `json:"statements_per_message,omitempty"`
}

type target struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Met    *bool  `json:"met"` // null: not measured in this run
	Detail string `json:"detail,omitempty"`
	// Extra marks a target of our own, stricter than the (the
	// solver's-tickets variant reaches every level the dashboard names).
	Extra bool `json:"extra,omitempty"`
}

// label is the target's name, marked when it is one of our own.
func (t target) label() string {
	if t.Extra {
		return t.Name + " (ours, beyond the issue's targets)"
	}
	return t.Name
}

func (r *results) addRun(s scenarioResult) {
	for _, c := range r.Statements {
		if c.Scenario == s.Scenario && c.Loaders == s.Loaders && c.Data == "full" && s.StatementsPerRequest == nil {
			v := c.Sample
			s.StatementsPerRequest = &v
		}
	}
	r.Scenarios = append(r.Scenarios, s)
}

func (r *results) addCount(c statementCount) { r.Statements = append(r.Statements, c) }

func (r *results) count(scenario string, loaders bool, data string) (statementCount, bool) {
	for _, c := range r.Statements {
		if c.Scenario == scenario && c.Loaders == loaders && c.Data == data {
			return c, true
		}
	}
	return statementCount{}, false
}

func (r *results) run(name string) (scenarioResult, bool) {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return scenarioResult{}, false
}

func yes(b bool) *bool { return &b }

// evaluate checks the targets.
func (r *results) evaluate(c *config) {
	r.Date = time.Now().UTC().Format(time.RFC3339)
	for _, sc := range []string{"dashboard", "session", "solver", "assigned", "history"} {
		small, ok1 := r.count(sc, true, "small")
		full, ok2 := r.count(sc, true, "full")
		t := target{Name: "statements constant in data size: " + sc, Extra: sc == "assigned" || sc == "history",
			Want: "the same statements per full-shaped request on the small and the full data set"}
		if ok1 && ok2 {
			// The fewest statements of a full-shaped request is its query's
			// shape; more happen when a loader's batch splits in two (timing,
			// shown as the range), which data size does not cause.
			t.Got = fmt.Sprintf("%g -> %g (fewest per request; mean %s -> %s; %dx the data)",
				small.FullMin, full.FullMin, rangeOf(small), rangeOf(full), c.smallShare)
			t.Met = yes(full.FullMin == small.FullMin)
		}
		r.Targets = append(r.Targets, t)
	}
	// A point lookup once its viewer is cached: the counting pass's second
	// round of ticket requests repeats the first round's tokens.
	pt := target{Name: "statements per point lookup (ticket(id) with its guest token, viewer cached)", Want: "1"}
	if c, ok := r.count("ticket", true, "full"); ok {
		pt.Got = fmt.Sprintf("%g (first use of a token: %g)", c.FullMin, c.FullMax)
		pt.Met = yes(c.FullMin == 1)
	}
	r.Targets = append(r.Targets, pt)
	if s, ok := r.run("dashboard 80%"); ok {
		r.Targets = append(r.Targets, target{Name: "dashboard p99 at 80% of max", Want: "< 50 ms",
			Got: fmt.Sprintf("%.2f ms at %.0f rps", s.P99, s.RPS), Met: yes(s.P99 < 50 && s.Errors == 0)})
	} else {
		r.Targets = append(r.Targets, target{Name: "dashboard p99 at 80% of max", Want: "< 50 ms"})
	}
	if s, ok := r.run("assigned 80%"); ok {
		r.Targets = append(r.Targets, target{Name: "assigned p99 at 80% of max", Want: "< 50 ms",
			Got: fmt.Sprintf("%.2f ms at %.0f rps", s.P99, s.RPS), Met: yes(s.P99 < 50 && s.Errors == 0)})
	}
	if s, ok := r.run("history 80%"); ok {
		r.Targets = append(r.Targets, target{Name: "history p99 at 80% of max", Want: "< 50 ms",
			Got: fmt.Sprintf("%.2f ms at %.0f rps", s.P99, s.RPS), Met: yes(s.P99 < 50 && s.Errors == 0)})
	}
	// Server CPU per request (issue 12): the maximum-throughput run's.
	for _, c := range []struct {
		scenario string
		want     float64
	}{{"dashboard", 1}, {"assigned", 28.0 / 5}, {"history", 28.0 / 5}} {
		if s, ok := r.run(c.scenario + " max"); ok {
			r.Targets = append(r.Targets, target{Name: "server CPU per request: " + c.scenario, Want: fmt.Sprintf("< %g ms", c.want),
				Got: fmt.Sprintf("%.2f ms", s.ServerCPUPerRequest), Met: yes(s.ServerCPUPerRequest < c.want)})
		}
	}
	var large, sseRun *fanoutResult
	for _, f := range r.Fanouts {
		switch f.Transport {
		case "websocket (large)":
			large = f
		case "sse":
			sseRun = f
		}
	}
	if f := r.Fanout; f != nil {
		r.Targets = append(r.Targets,
			target{Name: fmt.Sprintf("fan-out memory per subscriber at %d (RSS growth / subscribers, whole socket included)", f.Target), Want: "<= 24 KiB",
				Got: fmt.Sprintf("%.1f KiB", f.BytesPerSubscription/1024), Met: yes(f.BytesPerSubscription <= 24*1024 && f.Subscribers == f.Target)},
			target{Name: fmt.Sprintf("fan-out p99 delivery at %d", f.Target), Want: "< 100 ms", Got: fmt.Sprintf("%.2f ms", f.P99), Met: yes(f.P99 < 100 && f.Delivered > 0)})
	} else {
		r.Targets = append(r.Targets, target{Name: "fan-out memory per subscriber", Want: "<= 24 KiB at 10000"})
	}
	if f := large; f != nil {
		got := fmt.Sprint(f.Subscribers)
		if f.PerSocket > 1 {
			got += fmt.Sprintf(" (on %d sockets of %d subscriptions: the open-file limit is %d)", f.Sockets, f.PerSocket, f.FileLimit)
		}
		r.Targets = append(r.Targets,
			target{Name: "fan-out subscribers served by one process", Want: fmt.Sprint(f.Target), Got: got, Met: yes(f.Subscribers == f.Target)},
			target{Name: fmt.Sprintf("fan-out p99 delivery at %d", f.Target), Want: "< 100 ms", Got: fmt.Sprintf("%.2f ms", f.P99), Met: yes(f.P99 < 100 && f.Delivered > 0)})
	} else {
		r.Targets = append(r.Targets, target{Name: "fan-out subscribers served by one process", Want: "50000, p99 < 100 ms"})
	}
	if len(r.Fanouts) > 0 {
		var lost, delivered int64
		for _, f := range r.Fanouts {
			lost, delivered = lost+f.Lost, delivered+f.Delivered
		}
		r.Targets = append(r.Targets, target{Name: "fan-out lost (every run)", Want: "0", Got: fmt.Sprint(lost), Met: yes(lost == 0 && delivered > 0)})
	}
	if f := sseRun; f != nil {
		r.Targets = append(r.Targets, target{Name: fmt.Sprintf("SSE fan-out at %d: p99 delivery, lost", f.Target), Want: "< 100 ms, 0",
			Got: fmt.Sprintf("%.2f ms, %d (of %d live)", f.P99, f.Lost, f.Subscribers), Met: yes(f.P99 < 100 && f.Lost == 0 && f.Delivered > 0 && f.Subscribers == f.Target)})
	} else {
		r.Targets = append(r.Targets, target{Name: "SSE fan-out", Want: "p99 < 100 ms, 0 lost"})
	}
	if r.ColdStartMS > 0 {
		r.Targets = append(r.Targets, target{Name: "cold start", Want: "< 100 ms", Got: fmt.Sprintf("%.1f ms", r.ColdStartMS), Met: yes(r.ColdStartMS < 100)})
	} else {
		r.Targets = append(r.Targets, target{Name: "cold start", Want: "< 100 ms"})
	}
	if c.short {
		r.Notes = append(r.Notes, "short run (BENCH_SHORT=1): smaller data and durations; the targets are defined for the full run")
	}
	if on, ok1 := r.count("assigned", true, "full"); ok1 {
		if off, ok2 := r.count("assigned", false, "full"); ok2 && on.FullMax == off.FullMax {
			r.Notes = append(r.Notes, "BENCH_DISABLE_DATALOADERS is not wired into the server: the no-loaders runs used dataloaders and equal the normal ones")
		}
	}
	if len(r.Scenarios) > 0 && r.Scenarios[0].StatementsMetric == nil {
		r.Notes = append(r.Notes, "the server exposes no savvysolve_sql_statements_per_request on /metrics: statements_per_request comes from the wire count only")
	}
}

func (r *results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func fmtStmts(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%g", *v)
}

// table renders the results as a Markdown table (readable on a terminal too).
func (r *results) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %d GB RAM, %s; Go %s; PostgreSQL %s. Data: %d solvers, %d tickets, %d sessions, %d messages, %d ratings (%s run).\n\n",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryGB, r.Machine.Kernel, r.Machine.Go, r.Machine.Postgres,
		r.Data.Solvers, r.Data.Tickets, r.Data.Sessions, r.Data.Messages, r.Data.Ratings, r.Mode)
	if r.Machine.UnitHotUS > 0 {
		fmt.Fprintf(&b, "Cold caches: a pass over 2 MiB takes %.0f µs back to back and %.0f µs after 5 ms idle (%.1f×); steal is the time the host kept a busy vCPU from running.\n\n",
			r.Machine.UnitHotUS, r.Machine.UnitColdUS, r.Machine.UnitColdUS/r.Machine.UnitHotUS)
	}
	if r.DBLatencyMS > 0 {
		fmt.Fprintf(&b, "The servers reached PostgreSQL through a proxy adding %g ms each way (delivered: %.3f ms on average).\n\n", r.DBLatencyMS, r.DBLatencyAddedMS)
	}
	fmt.Fprintf(&b, "| scenario | load | rps | p50 ms | p95 ms | p99 ms | errors | stmts/req | server CPU s | server CPU ms/req | server RSS MB | PG CPU s | DB conns opened | load gen CPU s | steal ms |\n")
	fmt.Fprintf(&b, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		name := s.Scenario
		if !s.Loaders {
			name += " (no loaders)"
		}
		load := "max"
		if s.Mode != "max" {
			load = fmt.Sprintf("%s (%.0f/s)", s.Mode, s.TargetRPS)
		}
		stm := fmtStmts(s.StatementsPerRequest)
		if s.StatementsMetric != nil {
			stm += fmt.Sprintf(" (server: %g)", *s.StatementsMetric)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %.2f | %.2f | %d | %s | %.2f | %.2f | %.0f | %.2f | %.0f | %.2f | %.0f |\n",
			name, load, s.RPS, s.P50, s.P95, s.P99, s.Errors, stm, s.ServerCPU, s.ServerCPUPerRequest, s.ServerRSS, s.PGCPU, s.ConnectionsOpened, s.ClientCPU, s.StealMS)
	}
	for _, f := range r.Fanouts {
		conn := "websockets"
		if f.Transport == "sse" {
			conn = "SSE streams"
		}
		fmt.Fprintf(&b, "\nFan-out, %s: %d of %d subscribers on %d sessions, over %d %s (%d subscription(s) each; connected in %.1f s); %d messages at a fixed rate; "+
			"delivery (sendMessage start to receipt) p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; "+
			"delivered %d of %d, lost %d, duplicates %d, disconnected %d; %.1f KiB of server memory per subscriber "+
			"(RSS %.0f -> %.0f MB", f.Transport, f.Subscribers, f.Target, f.Sessions, f.Sockets, conn, f.PerSocket, f.ConnectS, f.Messages,
			f.P50, f.P95, f.P99, f.MaxMS, f.Delivered, f.Expected, f.Lost, f.Duplicates, f.Disconnected, f.BytesPerSubscription/1024,
			f.RSSBeforeMB, f.RSSAfterMB)
		if f.BytesPerSocket > 0 {
			fmt.Fprintf(&b, "; %.1f KiB per socket before it subscribes", f.BytesPerSocket/1024)
		}
		fmt.Fprintf(&b, "); sendMessage p50 %.2f ms, p99 %.2f ms; server CPU %.2f s.", f.SendP50, f.SendP99, f.ServerCPU)
		if f.StatementsPerMessage != nil {
			fmt.Fprintf(&b, " PostgreSQL ran %g statements per message sent.", *f.StatementsPerMessage)
		}
		fmt.Fprintln(&b)
	}
	if r.ColdStartMS > 0 {
		fmt.Fprintf(&b, "\nCold start (process start to /readyz 200, database migrated): median %.1f ms over %d starts.\n", r.ColdStartMS, len(r.ColdStartRuns))
	}
	if len(r.Statements) > 0 {
		fmt.Fprintf(&b, "\nStatements per request (counted on the wire, one request at a time; full-shaped requests reach every level of their query):\n\n")
		fmt.Fprintf(&b, "| scenario | dataloaders | sample, small data | sample, full data | full-shaped, small | full-shaped, full |\n|---|---|--:|--:|--:|--:|\n")
		seen := map[string]bool{}
		for _, c := range r.Statements {
			key := fmt.Sprint(c.Scenario, c.Loaders)
			if seen[key] {
				continue
			}
			seen[key] = true
			small, okS := r.count(c.Scenario, c.Loaders, "small")
			full, okF := r.count(c.Scenario, c.Loaders, "full")
			sample := func(c statementCount, ok bool) string {
				if !ok {
					return "-"
				}
				return fmt.Sprintf("%g", c.Sample)
			}
			on := "on"
			if !c.Loaders {
				on = "off"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", c.Scenario, on, sample(small, okS), sample(full, okF), rangeOf(small), rangeOf(full))
		}
	}
	return b.String()
}

func (r *results) targetLines() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nTargets:\n")
	for _, t := range r.Targets {
		mark := "n/a "
		if t.Met != nil {
			mark = "MISS"
			if *t.Met {
				mark = "ok  "
			}
		}
		fmt.Fprintf(&b, "  [%s] %s: want %s, got %s\n", mark, t.label(), t.Want, orNA(t.Got))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}

// rangeOf shows a full-shaped count with its spread when requests differed.
func rangeOf(c statementCount) string {
	if c.FullMax == 0 {
		return "-"
	}
	if c.FullMin == c.FullMax {
		return fmt.Sprintf("%g", c.FullShape)
	}
	return fmt.Sprintf("%g (%g-%g)", c.FullShape, c.FullMin, c.FullMax)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func orNA(s string) string {
	if s == "" {
		return "not measured"
	}
	return s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.UnitHotUS, m.UnitColdUS = coldCaches()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	m.MemoryGB = int(memKBFile("/proc/meminfo", "MemTotal")/1024/1024 + 0.5)
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if dir, err := embeddedpg.FindBinDir(); err == nil {
		if out, err := exec.Command(filepath.Join(dir, "postgres"), "--version").Output(); err == nil {
			_, v, _ := strings.Cut(string(out), "(PostgreSQL) ")
			if f := strings.Fields(v); len(f) > 0 {
				m.Postgres = f[0]
			}
		}
	}
	return m
}

func memKBFile(path, field string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			var v float64
			fmt.Sscan(strings.TrimSpace(line[len(field)+1:]), &v)
			return v
		}
	}
	return 0
}

const (
	readmeBegin = "<!-- bench:begin -->"
	readmeEnd   = "<!-- bench:end -->"
)

// updateReadme replaces the text between the bench markers in README.md
// with the latest table; nothing else in the file changes.
func updateReadme(path string, r *results) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i, j := bytes.Index(b, []byte(readmeBegin)), bytes.Index(b, []byte(readmeEnd))
	if i < 0 || j < i {
		return errors.New("no " + readmeBegin + " ... " + readmeEnd + " markers")
	}
	var body strings.Builder
	fmt.Fprintf(&body, "%s\nLatest full run, %s (`go run ./bench`; raw numbers in `bench/results/latest.json`):\n\n%s\nTargets:\n\n", readmeBegin, r.Date[:10], r.table())
	for _, t := range r.Targets {
		mark := "not measured"
		if t.Met != nil {
			mark = "**missed**"
			if *t.Met {
				mark = "met"
			}
		}
		fmt.Fprintf(&body, "- %s: want %s, got %s (%s)\n", t.label(), t.Want, orNA(t.Got), mark)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&body, "- Note: %s\n", n)
	}
	body.WriteString("\n")
	out := append([]byte{}, b[:i]...)
	out = append(out, body.String()...)
	out = append(out, b[j:]...)
	return os.WriteFile(path, out, 0o644)
}
