// Command bench measures the server as a client sees it: it builds the server
// binary, starts its own PostgreSQL (internal/embeddedpg), loads a realistic
// data set through the data layer, runs the real server as a child process and
// drives it over loopback with the load generator in this package.
//
// It measures, per scenario, throughput (closed loop, N workers), latency at
// fixed rates (50 % and 80 % of that maximum, open loop, so queueing shows in
// the tail), errors, SQL statements per request, server CPU seconds and peak
// RSS; then websocket fan-out to thousands of subscribers, and cold start.
// Results go to stdout (a table) and bench/results/latest.json; a full run
// also refreshes the table in bench/README.md (between the bench markers).
//
//	go run ./bench                 # the full run (~10 minutes)
//	BENCH_SHORT=1 go run ./bench   # a quick run (< 2 minutes), same output
//	go run ./bench -h              # every knob
//
// Statements per request are counted exactly, outside the server: for a
// counting pass the server's DATABASE_URL points at a proxy in this process
// that reads the PostgreSQL wire protocol and counts the statements the server
// sends (simple Query and Execute messages; pgx's idle-connection ping is not
// counted). Requests run one at a time there, at two data sizes, so each
// request's statements are its own and growth with the data shows. When the
// server exposes savvysolve_sql_statements_per_request on /metrics, the
// server's own figure is reported beside it.
//
// With -db-latency, the servers reach PostgreSQL through a proxy in this
// process that delays every chunk in each direction: a database a network
// hop away rather than on loopback.
//
// Only 127.0.0.1 is ever targeted. Every loop is bounded in time.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is everything a run can be told.
type config struct {
	short bool

	solvers, tickets, sessions, messages, ratings int

	workers    int           // closed-loop workers
	inFlight   int           // open-loop bound on outstanding requests
	warmup     time.Duration // unmeasured load before each closed-loop run
	maxDur     time.Duration // closed-loop (maximum throughput) run
	fixedDur   time.Duration // each fixed-rate run
	countN     int           // requests per scenario in the counting pass
	smallShare int           // the small data set is 1/smallShare of the full one

	subscribers, fanSessions int
	fanLarge, fanSSE         int // the large websocket run, the SSE run (0: none)
	fanRate                  float64
	fanDur                   time.Duration

	coldRuns int

	bin      string // a prebuilt server binary (skip the build)
	out      string
	durable  bool
	pprofDir string
	timeline string // directory for each run's request timeline (CSV)
	only     map[string]bool
	keep     bool
	readme   bool
	noLoader bool // run the read scenarios again with dataloaders off
	env      []string
	noCount  bool // skip the statement-counting passes

	dbLatency time.Duration // one-way latency the servers' database traffic gets
}

func (c *config) want(name string) bool { return len(c.only) == 0 || c.only[name] }

func parseFlags() *config {
	c := &config{}
	short := os.Getenv("BENCH_SHORT") == "1" || os.Getenv("BENCH_SHORT") == "true"
	flag.BoolVar(&c.short, "short", short, "short run: smaller data and durations (default from BENCH_SHORT=1)")
	flag.IntVar(&c.solvers, "solvers", 0, "solvers in the data set (0: 50, short 20)")
	flag.IntVar(&c.tickets, "tickets", 0, "tickets (0: 5000, short 500)")
	flag.IntVar(&c.sessions, "sessions", 0, "sessions (0: 5000, short 500)")
	flag.IntVar(&c.messages, "messages", 0, "chat messages (0: 100000, short 10000)")
	flag.IntVar(&c.ratings, "ratings", 0, "ratings (0: 3000, short 300)")
	flag.IntVar(&c.workers, "workers", 16, "closed-loop workers")
	flag.IntVar(&c.inFlight, "inflight", 256, "open-loop bound on requests in flight (beyond it a request is dropped and counted as an error)")
	flag.DurationVar(&c.warmup, "warmup", 0, "unmeasured load before each maximum-throughput run (0: 1s, short 300ms)")
	flag.DurationVar(&c.maxDur, "max-duration", 0, "maximum-throughput run (0: 8s, short 2s)")
	flag.DurationVar(&c.fixedDur, "fixed-duration", 0, "each fixed-rate run (0: 8s, short 1.5s)")
	flag.IntVar(&c.countN, "count-requests", 0, "requests per scenario in the statement-counting pass (0: 40, short 10)")
	flag.IntVar(&c.smallShare, "small-share", 10, "the small data set (for the statements-vs-size check) is 1/N of the full one")
	flag.IntVar(&c.subscribers, "subscribers", 0, "fan-out websocket subscribers, one socket each: the memory measure (0: 10000, short 1000; -1: none)")
	flag.IntVar(&c.fanLarge, "fanout-large", -1, "fan-out websocket subscribers of the large run (-1: 50000, short 5000; 0: none); past the open-file limit several share a socket")
	flag.IntVar(&c.fanSSE, "fanout-sse", -1, "fan-out SSE subscribers (-1: 10000, short 1000; 0: none)")
	flag.IntVar(&c.fanSessions, "fanout-sessions", 0, "sessions the subscribers follow (0: subscribers/10)")
	flag.Float64Var(&c.fanRate, "fanout-rate", 50, "fan-out: messages sent per second")
	flag.DurationVar(&c.fanDur, "fanout-duration", 0, "fan-out: how long messages are sent (0: 20s, short 5s)")
	flag.IntVar(&c.coldRuns, "cold-runs", 0, "cold starts measured (0: 7, short 3)")
	flag.StringVar(&c.bin, "bin", "", "use this server binary instead of building one")
	flag.StringVar(&c.out, "out", "", "results file (default bench/results/latest.json)")
	flag.BoolVar(&c.durable, "durable", false, "run PostgreSQL with fsync and synchronous commit on, data on disk (default: tmpfs, durability off)")
	flag.StringVar(&c.pprofDir, "pprof", "", "profile the server: build it with net/http/pprof (an overlay file, the source is untouched) and save CPU and allocation profiles of every maximum-throughput run, and heap, CPU and allocation profiles of the fan-out, in this directory")
	flag.StringVar(&c.timeline, "timeline", "", "write each load run's requests (start and latency, ms, in order of start) as CSV to this directory: whether a tail comes in bursts or spreads evenly")
	only := flag.String("only", "", "comma-separated scenarios to run (dashboard,assigned,history,session,solver,ticket,writes,fanout,coldstart); statement counting always runs")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (database, server logs)")
	flag.BoolVar(&c.readme, "readme", true, "a full run of every scenario refreshes the table in bench/README.md (between <!-- bench:begin --> and <!-- bench:end -->)")
	flag.Func("env", "extra environment KEY=VALUE for the server process (repeatable), e.g. -env DB_MIN_CONNS=20", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		c.env = append(c.env, v)
		return nil
	})
	flag.BoolVar(&c.noCount, "skip-count", false, "skip the statement-counting passes (quicker experiments; statements then come from pg_stat_statements only)")
	flag.DurationVar(&c.dbLatency, "db-latency", 0, "one-way latency added to the servers' database traffic (e.g. 1ms: a database a network hop away), by a proxy in the bench process; such a run leaves bench/README.md alone")
	flag.BoolVar(&c.noLoader, "no-loaders", true, "also run the read scenarios with dataloaders switched off (BENCH_DISABLE_DATALOADERS=1)")
	flag.Parse()

	def := func(v *int, full, short int) {
		if *v == 0 {
			*v = full
			if c.short {
				*v = short
			}
		}
	}
	defd := func(v *time.Duration, full, short time.Duration) {
		if *v == 0 {
			*v = full
			if c.short {
				*v = short
			}
		}
	}
	def(&c.solvers, 50, 20)
	def(&c.tickets, 5000, 500)
	def(&c.sessions, 5000, 500)
	def(&c.messages, 100000, 10000)
	def(&c.ratings, 3000, 300)
	def(&c.countN, 40, 10)
	def(&c.subscribers, 10000, 1000)
	def(&c.coldRuns, 7, 3)
	defd(&c.warmup, time.Second, 300*time.Millisecond)
	defd(&c.maxDur, 8*time.Second, 2*time.Second)
	defd(&c.fixedDur, 8*time.Second, 1500*time.Millisecond)
	defd(&c.fanDur, 20*time.Second, 5*time.Second)
	if c.fanLarge < 0 {
		c.fanLarge = 50000
		if c.short {
			c.fanLarge = 5000
		}
	}
	if c.fanSSE < 0 {
		c.fanSSE = 10000
		if c.short {
			c.fanSSE = 1000
		}
	}
	if c.fanSessions == 0 {
		n := c.subscribers
		if n < 0 { // no websocket run of its own: the sessions it would follow
			n = 10000
			if c.short {
				n = 1000
			}
		}
		c.fanSessions = max(1, n/10)
	}
	if *only != "" {
		c.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			c.only[strings.TrimSpace(s)] = true
		}
		c.readme = false
	}
	if c.short || c.dbLatency > 0 {
		c.readme = false
	}
	return c
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("bench ")
	c := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		log.Printf("FAILED: %v", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, c *config) error {
	t0 := time.Now()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(root, "bench", "results", "latest.json")
	}
	if err := raiseFileLimit(); err != nil {
		log.Printf("could not raise the open-file limit: %v", err)
	}
	tmp, err := os.MkdirTemp("", "savvysolve-bench-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if c.keep {
		log.Printf("temporary directory (kept): %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	mode := "full"
	if c.short {
		mode = "short"
	}
	log.Printf("%s run: %d solvers, %d tickets, %d sessions, %d messages, %d ratings; %d subscribers on %d sessions",
		mode, c.solvers, c.tickets, c.sessions, c.messages, c.ratings, c.subscribers, c.fanSessions)

	b := &bench{cfg: c, root: root, tmp: tmp, res: &results{Machine: machineInfo(), Mode: mode,
		ServerEnv: append(append([]string{"APP_ENV=production", "MIGRATE_ON_START=false", "SEED_ON_START=false"}, benchServerEnv...), c.env...)}}
	defer b.close()
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if err := b.runAll(ctx); err != nil {
		return err
	}
	if b.dbProxy != nil {
		b.res.DBLatencyMS = round(millis(b.cfg.dbLatency), 3)
		b.res.DBLatencyAddedMS = round(millis(b.dbProxy.addedLatency()), 3)
	}
	b.res.Data = dataSizes{Solvers: c.solvers, Tickets: c.tickets, Sessions: c.sessions, Messages: c.messages, Ratings: c.ratings}
	b.res.DurationS = round(time.Since(t0).Seconds(), 1)
	b.res.evaluate(c)
	if err := b.res.write(c.out); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(b.res.table())
	fmt.Print(b.res.targetLines())
	log.Printf("results written to %s (run took %s)", c.out, time.Since(t0).Round(time.Second))
	if c.readme {
		if err := updateReadme(filepath.Join(root, "bench", "README.md"), b.res); err != nil {
			log.Printf("README not updated: %v", err)
		} else {
			log.Printf("bench/README.md benchmark table updated")
		}
	}
	return nil
}
