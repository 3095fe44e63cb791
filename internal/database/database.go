// Package database opens the connection pools the server uses: Bun over pgx's
// database/sql driver for queries, and plain *sql.DB handles for the tools
// (migrations) that must not share the application's pool.
package database

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Options tune a pool. Zero values take the defaults of config.Pool.
type Options struct {
	MaxConns       int
	MinConns       int
	MaxIdleTime    time.Duration
	ConnectTimeout time.Duration
	// ExecMode is pgx's default_query_exec_mode; "" means "exec". Bun writes
	// every value into the SQL text, so each statement is new: pgx's default
	// (cache_statement) would prepare each one (an extra round trip) and keep
	// hundreds of them per connection. "exec" runs them in one round trip and
	// also works through a transaction pooler.
	ExecMode string
	// StatementTimeout makes the server end any statement of this pool that runs
	// longer (PostgreSQL's statement_timeout, set at connect; 0: none). Behind a
	// pooler such as PgBouncer, list statement_timeout in its ignore_startup_parameters
	// or set it on the database role instead.
	StatementTimeout time.Duration
}

// OpenSQL opens a database/sql pool over pgx for url.
func OpenSQL(url string, o Options) (*sql.DB, error) {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database: parse url: %w", redact(err))
	}
	if o.ConnectTimeout > 0 {
		cc.ConnectTimeout = o.ConnectTimeout
	}
	if o.StatementTimeout > 0 {
		if cc.RuntimeParams == nil {
			cc.RuntimeParams = map[string]string{}
		}
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(max(o.StatementTimeout.Milliseconds(), 1), 10)
	}
	if o.ExecMode == "" {
		o.ExecMode = "exec"
	}
	mode, ok := execModes[o.ExecMode]
	if !ok {
		return nil, fmt.Errorf("database: unknown exec mode %q", o.ExecMode)
	}
	cc.DefaultQueryExecMode = mode
	db := stdlib.OpenDB(*cc, stdlib.OptionAfterConnect(jsonCodecs))
	if o.MaxConns > 0 {
		db.SetMaxOpenConns(o.MaxConns)
	}
	// database/sql closes a returned connection beyond MaxIdleConns at once: an
	// idle cap below MaxConns made every burst reconnect (the benchmark saw
	// ~100 new connections a second). Idle connections close after MaxIdleTime.
	db.SetMaxIdleConns(max(o.MaxConns, o.MinConns, 2))
	if o.MaxIdleTime > 0 {
		db.SetConnMaxIdleTime(o.MaxIdleTime)
	}
	return db, nil
}

// warm opens connections in the background until the pool holds n (database/sql
// has no minimum pool size; this is DB_MIN_CONNS), so the first requests find
// a ready pool. A connection that fails to open is left to the request that
// would have used it: the pool opens connections on demand too.
//
// It holds first, the connection Open dialed, until the others have begun to
// dial: they must be new connections, and first must be idle for the first
// requests, since database/sql hands an idle connection to whoever asks first.
func warm(db *sql.DB, first *sql.Conn, n int) {
	defer first.Close()
	if n <= 1 {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		holdNew(db, n-1)
	}()
	// database/sql counts a connection as open from the moment it starts to dial it.
	begun := func() bool {
		select {
		case <-done:
			return true
		default:
			return db.Stats().OpenConnections >= n
		}
	}
	for !begun() {
		time.Sleep(50 * time.Microsecond)
	}
}

// holdNew takes n connections from db at once and holds them all until each
// has been opened, so that each is a new one; then it returns them to the pool.
func holdNew(db *sql.DB, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns := make(chan *sql.Conn, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if c, err := db.Conn(ctx); err == nil {
				conns <- c
			}
		})
	}
	wg.Wait()
	close(conns)
	for c := range conns {
		c.Close()
	}
}

// Open opens the application's Bun database on url and checks that it answers
// (one connection). The other o.MinConns-1 connections open in the background:
// serving needs a database that answers, not a full pool, and a start-up that
// waited for them one after another took 5 connection set-ups.
func Open(ctx context.Context, url string, o Options) (*bun.DB, error) {
	sqldb, err := OpenSQL(url, o)
	if err != nil {
		return nil, err
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	AddQueryHook(db, detachHook{}) // first: the hooks after it see the detached context
	AddQueryHook(db, counterHook{})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	first, err := sqldb.Conn(ctx) // dialing completes PostgreSQL's start-up handshake
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("database: connect: %w", err)
	}
	n := o.MinConns
	if o.MaxConns > 0 {
		n = min(n, o.MaxConns) // more would wait for each other until the timeout
	}
	warm(sqldb, first, n)
	return db, nil
}

var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// redact keeps a password in a malformed URL out of error messages: pgx's parse
// errors quote the URL.
func redact(err error) error {
	return fmt.Errorf("invalid connection string (%T)", err)
}
