package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/embeddedpg"
)

// bench holds one benchmark run's moving parts.
type bench struct {
	cfg       *config
	root, tmp string
	res       *results

	bin        string
	cluster    *embeddedpg.Cluster
	dataDir    string
	dbURL      string
	serverDB   string // the servers' DATABASE_URL: dbURL, or through dbProxy
	dbProxy    *proxy // with -db-latency: the proxy that delays the servers' database traffic
	db         *bun.DB
	data       *dataset
	secret     string
	in         *inputs // the full data set's inputs
	srv        *server
	srvName    string
	postmaster int
	pprofSeq   int
	pss        bool // pg_stat_statements is loaded

	logOffset   int64   // how far connectionsOpened has read the cluster's log
	connections float64 // connections it counted
}

func (b *bench) close() {
	b.srv.stop()
	if b.dbProxy != nil {
		b.dbProxy.close()
	}
	if b.db != nil {
		b.db.Close()
	}
	if b.cluster != nil {
		b.cluster.Stop()
	}
	if b.dataDir != "" && !b.cfg.keep {
		os.RemoveAll(b.dataDir)
	}
}

// prepare builds the server, starts PostgreSQL, migrates it with the
// server's own `migrate`, and loads the data in two steps, counting
// statements per request after each (small and full data set).
func (b *bench) prepare(ctx context.Context) error {
	t := time.Now()
	if b.cfg.bin != "" {
		b.bin = b.cfg.bin
	} else {
		bin, err := buildServer(ctx, b.root, b.tmp, b.cfg.pprofDir != "")
		if err != nil {
			return err
		}
		b.bin = bin
		log.Printf("built the server binary in %s", time.Since(t).Round(time.Millisecond))
	}
	sec := make([]byte, 32)
	rand.Read(sec)
	b.secret = hex.EncodeToString(sec)

	t = time.Now()
	base := b.tmp
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && !b.cfg.durable {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "savvysolve-bench-pg-")
	if err != nil {
		return err
	}
	os.Chmod(dir, 0o755)
	b.dataDir = dir
	b.cluster, err = embeddedpg.Start(ctx, embeddedpg.Config{DataDir: filepath.Join(dir, "data"), Ephemeral: !b.cfg.durable})
	if err != nil {
		return err
	}
	b.dbURL = b.cluster.URL("postgres")
	b.postmaster = readPostmasterPID(filepath.Join(dir, "data"))
	log.Printf("PostgreSQL started in %s (%s, durability %v)", time.Since(t).Round(time.Millisecond), dir, b.cfg.durable)

	t = time.Now()
	cmd := exec.CommandContext(ctx, b.bin, "migrate")
	cmd.Dir = b.tmp
	cmd.Env = append(os.Environ(), "DATABASE_URL="+b.dbURL, "DATABASE_URL_UNPOOLED="+b.dbURL, "APP_ENV=production")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s migrate: %w\n%s", b.bin, err, out)
	}
	log.Printf("migrated with `savvysolve migrate` in %s", time.Since(t).Round(time.Millisecond))

	b.db, err = database.Open(ctx, b.dbURL, database.Options{MaxConns: 4})
	if err != nil {
		return err
	}
	if err := b.enableStatementStats(ctx, filepath.Join(dir, "data")); err != nil {
		log.Printf("pg_stat_statements unavailable (%v): statements per request under load are not measured, only one request at a time", err)
	}
	b.serverDB = b.dbURL
	if d := b.cfg.dbLatency; d > 0 {
		if b.dbProxy, err = newProxy(proxyConfig{target: b.dbAddr(), delay: d}); err != nil {
			return err
		}
		b.serverDB = b.via(b.dbProxy)
		log.Printf("the servers reach PostgreSQL through a proxy that delays each direction by %s", d)
	}
	t = time.Now()
	b.data = generate(b.cfg, time.Now().UTC().Truncate(time.Second))
	small := max(1, b.cfg.tickets/b.cfg.smallShare)
	if err := b.data.load(ctx, b.db, stage{0, small}); err != nil {
		return err
	}
	log.Printf("loaded the small data set (%d tickets) in %s", small, time.Since(t).Round(time.Millisecond))
	smallIn, err := newInputs(b.data, b.secret, small)
	if err != nil {
		return err
	}
	if err := b.countPass(ctx, "small", smallIn); err != nil {
		return err
	}
	t = time.Now()
	if err := b.data.load(ctx, b.db, stage{small, b.cfg.tickets}); err != nil {
		return err
	}
	log.Printf("loaded the full data set (%d tickets, %d sessions, %d messages, %d ratings, %d calls) in %s",
		len(b.data.tickets), len(b.data.sessions), len(b.data.messages), len(b.data.ratings), len(b.data.callLogs),
		time.Since(t).Round(time.Millisecond))
	if b.in, err = newInputs(b.data, b.secret, b.cfg.tickets); err != nil {
		return err
	}
	// Leave autovacuum nothing to do during the runs.
	if _, err := b.db.ExecContext(ctx, "VACUUM (ANALYZE)"); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	return b.countPass(ctx, "full", b.in)
}

// enableStatementStats restarts the cluster with pg_stat_statements loaded,
// so every run can count the statements the server ran during it.
func (b *bench) enableStatementStats(ctx context.Context, dataDir string) error {
	if _, err := b.db.ExecContext(ctx, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"); err != nil {
		return err
	}
	// Every new connection logs a line: the runs count them (pool churn).
	if _, err := b.db.ExecContext(ctx, "ALTER SYSTEM SET log_connections = on"); err != nil {
		return err
	}
	b.db.Close()
	port := b.cluster.Port()
	if err := b.cluster.Stop(); err != nil {
		return err
	}
	var err error
	if b.cluster, err = embeddedpg.Start(ctx, embeddedpg.Config{DataDir: dataDir, Port: port, Ephemeral: !b.cfg.durable}); err != nil {
		return err
	}
	b.postmaster = readPostmasterPID(dataDir)
	if b.db, err = database.Open(ctx, b.dbURL, database.Options{MaxConns: 4}); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return err
	}
	b.pss = true
	return nil
}

// statementStats resets pg_stat_statements (reset=true) or reads the number
// of statements run since the reset, and the costliest statements.
func (b *bench) statementStats(ctx context.Context, reset bool) (calls float64, top []topStatement) {
	if !b.pss {
		return 0, nil
	}
	if reset {
		b.db.ExecContext(ctx, "SELECT pg_stat_statements_reset()")
		return 0, nil
	}
	const mine = "query NOT LIKE '%pg_stat_statements%'"
	b.db.QueryRowContext(ctx, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE "+mine).Scan(&calls)
	rows, err := b.db.QueryContext(ctx, `SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 160), calls,
		round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3)
		FROM pg_stat_statements WHERE `+mine+` ORDER BY total_exec_time DESC LIMIT 5`)
	if err != nil {
		return calls, nil
	}
	defer rows.Close()
	for rows.Next() {
		var t topStatement
		if rows.Scan(&t.Query, &t.Calls, &t.TotalMS, &t.MeanMS) == nil {
			top = append(top, t)
		}
	}
	return calls, top
}

func readPostmasterPID(dataDir string) int {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	return pid
}

const noLoadersEnv = "BENCH_DISABLE_DATALOADERS=1"

func (b *bench) dbAddr() string { return fmt.Sprintf("127.0.0.1:%d", b.cluster.Port()) }

// via is the database URL through proxy p.
func (b *bench) via(p *proxy) string {
	return strings.Replace(b.dbURL, fmt.Sprintf(":%d/", b.cluster.Port()), fmt.Sprintf(":%d/", p.port()), 1)
}

// countPass counts the statements of each read scenario's requests (random
// inputs, as in the load runs, and full-shaped ones), one request at a
// time, through a counting proxy (which adds -db-latency too, so that the
// servers counted are configured as the measured ones); on the full data set
// also the write mix's, per mutation.
func (b *bench) countPass(ctx context.Context, label string, in *inputs) error {
	if b.cfg.noCount {
		return nil
	}
	proxy, err := newProxy(proxyConfig{target: b.dbAddr(), count: true, delay: b.cfg.dbLatency})
	if err != nil {
		return err
	}
	defer proxy.close()
	url := b.via(proxy)
	variants := []bool{true}
	if b.cfg.noLoader {
		variants = append(variants, false)
	}
	for _, loaders := range variants {
		env := serverEnv{bin: b.bin, dir: b.tmp, databaseURL: url, secret: b.secret, extra: b.cfg.env}
		if !loaders {
			env.extra = append(slices.Clip(env.extra), noLoadersEnv)
		}
		srv, err := startServer(ctx, env, "count-"+label)
		if err != nil {
			return err
		}
		g := newGQL(srv.base)
		for _, sc := range readScenarios {
			sample, _, _, err := countOp(ctx, proxy, b.cfg.countN, sc.op(g, in.sequential()))
			if err != nil {
				srv.stop()
				return fmt.Errorf("counting %s: %w", sc.name, err)
			}
			full, lo, hi, err := countOp(ctx, proxy, b.cfg.countN, fullShapedOp(sc.name, g, in.sequential()))
			if err != nil {
				srv.stop()
				return fmt.Errorf("counting %s: %w", sc.name, err)
			}
			b.res.addCount(statementCount{Scenario: sc.name, Loaders: loaders, Data: label, Sample: sample, FullShape: full, FullMin: lo, FullMax: hi})
		}
		if label == "full" && loaders {
			w := newWriteMix(g, in)
			per := map[string][]float64{}
			for range max(5, b.cfg.countN/4) {
				l := &lifecycle{solver: pick(in, in.active)}
				for l.step < len(writeSteps) {
					name := writeSteps[l.step]
					before := proxy.statements.Load()
					if err := w.step(ctx, l); err != nil {
						srv.stop()
						return fmt.Errorf("counting %s: %w", name, err)
					}
					per[name] = append(per[name], float64(proxy.statements.Load()-before))
				}
			}
			b.res.WriteStatements = map[string]float64{}
			total, n := 0.0, 0
			for name, xs := range per {
				sum := 0.0
				for _, x := range xs {
					sum += x
				}
				b.res.WriteStatements[name] = round(sum/float64(len(xs)), 2)
				total += sum
				n += len(xs)
			}
			b.res.addCount(statementCount{Scenario: "writes", Loaders: true, Data: label, Sample: round(total/float64(n), 2)})
		}
		g.closeIdle()
		srv.stop()
	}
	log.Printf("counted statements per request on the %s data set", label)
	return nil
}

// countOp runs n requests one at a time (after two uncounted ones) and
// returns the statements per request, and the fewest and most of one request.
func countOp(ctx context.Context, p *proxy, n int, do op) (avg, lo, hi float64, err error) {
	for range 2 {
		if err := do(ctx); err != nil {
			return 0, 0, 0, err
		}
	}
	total := int64(0)
	lo = math.MaxFloat64
	for range n {
		before := p.statements.Load()
		if err := do(ctx); err != nil {
			return 0, 0, 0, err
		}
		k := p.statements.Load() - before
		total += k
		lo, hi = min(lo, float64(k)), max(hi, float64(k))
	}
	return round(float64(total)/float64(n), 2), lo, hi, nil
}

// useServer makes sure the running server is the one named (restarting it
// with that configuration if not).
func (b *bench) useServer(ctx context.Context, name string) error {
	if b.srv != nil && b.srvName == name {
		return nil
	}
	b.srv.stop()
	b.srv = nil
	env := serverEnv{bin: b.bin, dir: b.tmp, databaseURL: b.serverDB, secret: b.secret, pprof: b.cfg.pprofDir != "", extra: b.cfg.env}
	if name == "noloaders" {
		env.extra = append(slices.Clip(env.extra), noLoadersEnv)
	}
	srv, err := startServer(ctx, env, name)
	if err != nil {
		return err
	}
	b.srv, b.srvName = srv, name
	return nil
}

// runAll runs the scenarios: reads with and without dataloaders, the write
// mix, fan-out, cold start.
func (b *bench) runAll(ctx context.Context) error {
	variants := []string{"main"}
	if b.cfg.noLoader {
		variants = append(variants, "noloaders")
	}
	for _, v := range variants {
		for _, sc := range readScenarios {
			if !b.cfg.want(sc.name) {
				continue
			}
			if err := b.useServer(ctx, v); err != nil {
				return err
			}
			g := newGQL(b.srv.base)
			if err := b.measure(ctx, sc.name, v == "main", sc.op(g, b.in)); err != nil {
				return err
			}
			g.closeIdle()
		}
	}
	if b.cfg.want("writes") {
		if err := b.useServer(ctx, "main"); err != nil {
			return err
		}
		g := newGQL(b.srv.base)
		if err := b.measure(ctx, "writes", true, newWriteMix(g, b.in).op); err != nil {
			return err
		}
		g.closeIdle()
	}
	if b.cfg.want("fanout") {
		if err := b.fanouts(ctx); err != nil {
			return err
		}
	}
	if b.cfg.want("coldstart") {
		if err := b.coldStart(ctx); err != nil {
			return err
		}
	}
	return nil
}

// measure runs a scenario at its maximum throughput (closed loop), then at
// 50 % and 80 % of it (open loop).
func (b *bench) measure(ctx context.Context, name string, loaders bool, do op) error {
	label := name
	if !loaders {
		label += " (no loaders)"
	}
	closedLoop(ctx, b.cfg.workers, b.cfg.warmup, do) // warm up: connections, caches, plans
	var maxRPS float64
	for _, share := range []float64{0, 0.5, 0.8} {
		meter := b.startMeter()
		// Every run is profiled: CPU per request grows at partial load, and
		// the profiles of the fixed-rate runs show where.
		dur, tag := b.cfg.maxDur, "max"
		if share > 0 {
			dur, tag = b.cfg.fixedDur, fmt.Sprintf("%.0fpct", share*100)
		}
		stopProf := b.cpuProfile(ctx, strings.ReplaceAll(label, " ", "_")+"_"+tag, dur)
		var r loadRun
		mode := "max"
		if share == 0 {
			r = closedLoop(ctx, b.cfg.workers, b.cfg.maxDur, do)
			maxRPS = float64(r.ok) / r.elapsed.Seconds()
		} else {
			mode = fmt.Sprintf("%.0f%%", share*100)
			r = openLoop(ctx, maxRPS*share, b.cfg.fixedDur, b.cfg.inFlight, do)
		}
		if stopProf != nil {
			stopProf()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := b.writeTimeline(label+" "+mode, r); err != nil {
			return err
		}
		sr := meter.finish(r)
		sr.Name, sr.Scenario, sr.Loaders, sr.Mode = label+" "+mode, name, loaders, mode
		if share > 0 {
			sr.TargetRPS = round(maxRPS*share, 1)
		}
		b.res.addRun(sr)
		log.Printf("%-28s %-4s %8.1f rps  p50 %6.2f  p95 %6.2f  p99 %7.2f ms  server CPU %.2f ms/req  steal %.0f ms  errors %d %s",
			label, mode, sr.RPS, sr.P50, sr.P95, sr.P99, sr.ServerCPUPerRequest, sr.StealMS, sr.Errors, sr.ErrorKinds)
		if r.firstErr != "" && sr.Errors > 0 {
			log.Printf("  first error: %.300s", r.firstErr)
		}
		time.Sleep(100 * time.Millisecond) // let queues drain between runs
	}
	// What stays live after the scenario: every collection marks it again.
	b.snapshot(ctx, "/debug/pprof/heap?gc=1", strings.ReplaceAll(label, " ", "_")+".heap.pprof")
	return nil
}

// meter measures the server (CPU, peak RSS, its own statement metric),
// PostgreSQL and the load generator over one run.
type meter struct {
	b                  *bench
	cpu, pg, self      float64
	steal              float64
	metricSum, metricN float64
	metricOK           bool
	conns              float64
	start              time.Time
}

func (b *bench) startMeter() *meter {
	m := &meter{b: b, start: time.Now()}
	b.srv.resetPeak()
	m.cpu, m.pg, m.self, m.steal = b.srv.cpuSeconds(), pgCPU(b.postmaster), selfCPU(), stealMS()
	m.metricSum, m.metricN, m.metricOK = b.srv.metricStatements()
	b.statementStats(context.Background(), true)
	m.conns = b.connectionsOpened()
	return m
}

// connectionsOpened is how many connections the database has accepted so
// far: the lines log_connections wrote to the cluster's log.
func (b *bench) connectionsOpened() float64 {
	f, err := os.Open(filepath.Join(b.dataDir, "data", "postgres.log"))
	if err != nil {
		return 0
	}
	defer f.Close()
	if _, err := f.Seek(b.logOffset, io.SeekStart); err != nil {
		return 0
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b.logOffset += int64(len(sc.Bytes())) + 1
		if bytes.Contains(sc.Bytes(), []byte("connection authorized")) {
			b.connections++
		}
	}
	return b.connections
}

func (m *meter) finish(r loadRun) scenarioResult {
	b := m.b
	cpu := b.srv.cpuSeconds() - m.cpu
	sr := scenarioResult{
		Requests:  r.ok,
		RPS:       round(float64(r.ok)/r.elapsed.Seconds(), 1),
		Errors:    r.errs,
		ServerCPU: round(cpu, 2),
		ServerRSS: round(b.srv.peakMB(), 1),
		PGCPU:     round(pgCPU(b.postmaster)-m.pg, 2),
		ClientCPU: round(selfCPU()-m.self, 2),
		StealMS:   round(stealMS()-m.steal, 0),
		DurationS: round(r.elapsed.Seconds(), 2),
	}
	if r.dropped > 0 {
		if r.errKinds == nil {
			r.errKinds = map[string]int{}
		}
		r.errKinds["DROPPED_INFLIGHT_LIMIT"] += r.dropped
	}
	sr.ErrorKinds = errSummary(r.errKinds)
	sortDurations(r.latencies)
	sr.P50, sr.P95, sr.P99 = percentile(r.latencies, 50), percentile(r.latencies, 95), percentile(r.latencies, 99)
	sr.MaxMS = percentile(r.latencies, 100)
	sent := r.ok + r.errs - r.dropped // the requests the server saw
	if sent > 0 {
		sr.ServerCPUPerRequest = round(cpu*1000/float64(sent), 3)
	}
	if calls, top := b.statementStats(context.Background(), false); b.pss && sent > 0 {
		v := round(calls/float64(sent), 2)
		sr.StatementsPerRequest = &v
		sr.TopStatements = top
	}
	sr.ConnectionsOpened = b.connectionsOpened() - m.conns
	if sum, n, ok := b.srv.metricStatements(); ok && m.metricOK && n > m.metricN {
		v := round((sum-m.metricSum)/(n-m.metricN), 2)
		sr.StatementsMetric = &v
	}
	return sr
}

// cpuProfile takes a CPU profile of the server for d (when built with
// -pprof) and returns a function that waits for it to be saved.
func (b *bench) cpuProfile(ctx context.Context, name string, d time.Duration) func() {
	if b.cfg.pprofDir == "" || b.srv.pprof == "" {
		return nil
	}
	b.pprofSeq++
	secs := max(1, int(d.Seconds()))
	var wg sync.WaitGroup
	for _, p := range []struct{ kind, url string }{
		{"cpu", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.srv.pprof, secs)},
		{"allocs", fmt.Sprintf("http://%s/debug/pprof/allocs?seconds=%d", b.srv.pprof, secs)}, // what the run allocated
	} {
		path := filepath.Join(b.cfg.pprofDir, fmt.Sprintf("%02d-%s.%s.pprof", b.pprofSeq, name, p.kind))
		wg.Go(func() {
			if err := fetchTo(ctx, p.url, path); err != nil {
				log.Printf("pprof %s %s: %v", name, p.kind, err)
			}
		})
	}
	return wg.Wait
}

// snapshot saves what the server's debug endpoint path answers now as the
// next numbered file named name in the profile directory (with -pprof).
func (b *bench) snapshot(ctx context.Context, path, name string) {
	if b.cfg.pprofDir == "" || b.srv.pprof == "" {
		return
	}
	b.pprofSeq++
	file := filepath.Join(b.cfg.pprofDir, fmt.Sprintf("%02d-%s", b.pprofSeq, name))
	if err := fetchTo(ctx, "http://"+b.srv.pprof+path, file); err != nil {
		log.Printf("pprof %s: %v", name, err)
	}
}

func fetchTo(ctx context.Context, url, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// coldStart stops the server and starts it again, several times, on the
// migrated database: process start to /readyz answering 200.
func (b *bench) coldStart(ctx context.Context) error {
	b.srv.stop()
	b.srv = nil
	var ms []float64
	for range b.cfg.coldRuns {
		srv, err := startServer(ctx, serverEnv{bin: b.bin, dir: b.tmp, databaseURL: b.serverDB, secret: b.secret, extra: b.cfg.env}, "coldstart")
		if err != nil {
			return err
		}
		ms = append(ms, float64(srv.ready.Microseconds())/1000)
		srv.stop()
	}
	b.res.ColdStartRuns = ms
	b.res.ColdStartMS = round(median(ms), 1)
	log.Printf("cold start: median %.1f ms over %d starts %v", b.res.ColdStartMS, len(ms), ms)
	return nil
}

// writeTimeline saves r's successful requests as CSV (start_ms, latency_ms,
// in order of start) in the -timeline directory, if one is given.
func (b *bench) writeTimeline(name string, r loadRun) error {
	if b.cfg.timeline == "" {
		return nil
	}
	idx := make([]int, len(r.starts))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return r.starts[idx[i]] < r.starts[idx[j]] })
	var buf bytes.Buffer
	buf.WriteString("start_ms,latency_ms\n")
	for _, i := range idx {
		fmt.Fprintf(&buf, "%.3f,%.3f\n", float64(r.starts[i])/1e6, float64(r.latencies[i])/1e6)
	}
	if err := os.MkdirAll(b.cfg.timeline, 0o755); err != nil {
		return err
	}
	name = strings.NewReplacer(" ", "_", "%", "pct", "(", "", ")", "").Replace(name)
	return os.WriteFile(filepath.Join(b.cfg.timeline, name+".csv"), buf.Bytes(), 0o644)
}
