// Package config reads the server's settings from the environment (and an
// optional .env.local file), with defaults that run on a developer's machine.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Config holds every setting of the server. The zero value is not useful: use Load.
type Config struct {
	Env  string // "development" or "production" (APP_ENV)
	Port int    // PORT

	// DatabaseURL serves queries; it may point at a transaction pooler.
	DatabaseURL string
	// DatabaseURLUnpooled is a direct connection, for migrations and LISTEN.
	DatabaseURLUnpooled string
	// Embedded is true when no database was configured: the server starts its own cluster.
	Embedded    bool
	DataDir     string // EMBEDDED_PG_DIR: the embedded cluster's data directory
	AutoMigrate bool   // MIGRATE_ON_START
	AutoSeed    bool   // SEED_ON_START: seed an empty database at start (default on for embedded)

	Pool Pool

	AuthJWTSecret string // AUTH_JWT_SECRET: HS256 user tokens
	AuthJWKSURL   string // AUTH_JWKS_URL: RS256 user tokens (Clerk)

	AllowedOrigins []string // ALLOWED_ORIGINS, comma separated
	ShutdownGrace  time.Duration
	// ShutdownDelay (SHUTDOWN_DELAY) is how long readiness stays red before the
	// server stops accepting requests, so a load balancer stops sending first.
	ShutdownDelay time.Duration
	// LoaderWait (LOADER_WAIT) is how long a dataloader collects keys before its batch runs.
	LoaderWait time.Duration
	// NoDataloaders (BENCH_DISABLE_DATALOADERS) runs every relation load alone: for the benchmark only.
	NoDataloaders bool

	Limits Limits

	// Integrations: signed webhooks and the job queue that applies them.
	ClerkWebhookSecret string        // CLERK_WEBHOOK_SECRET (whsec_...); unset: /webhooks/clerk answers 503
	TelnyxPublicKey    string        // TELNYX_PUBLIC_KEY (base64 Ed25519); unset: /webhooks/telnyx answers 503
	WebhookRetention   time.Duration // WEBHOOK_RETENTION: age at which applied deliveries and finished jobs are deleted
	JobWorkers         int           // JOB_WORKERS: jobs run at once; 0 runs none (the replica only enqueues)
}

// Limits bound what one client may ask of the server.
type Limits struct {
	MaxComplexity  int           // GRAPHQL_MAX_COMPLEXITY: cost of an operation, lists multiplied by their page size
	MaxDepth       int           // GRAPHQL_MAX_DEPTH: nesting of fields
	MaxFields      int           // GRAPHQL_MAX_FIELDS: fields (aliases included) after fragment expansion
	MaxBodyBytes   int64         // MAX_BODY_BYTES: size of a POST body
	RequestTimeout time.Duration // REQUEST_TIMEOUT: deadline of an HTTP request (not of websockets)
	RateAnon       int           // RATE_LIMIT_ANON: mutations per minute per client IP without a user token; 0 disables
	RateUser       int           // RATE_LIMIT_USER: mutations per minute per user (or ticket token); 0 disables
	MaxInFlight    int           // MAX_IN_FLIGHT: plain HTTP requests running at once, the others wait their turn; 0: 2 × CPUs
	// TrustedProxies (TRUSTED_PROXIES, comma-separated CIDRs or addresses) are
	// the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
}

// Pool holds the connection pool settings.
type Pool struct {
	MaxConns       int           // DB_MAX_CONNS
	MinConns       int           // DB_MIN_CONNS
	MaxIdleTime    time.Duration // DB_MAX_IDLE_TIME
	ConnectTimeout time.Duration // DB_CONNECT_TIMEOUT
	// StatementTimeout (DB_STATEMENT_TIMEOUT) ends any statement that runs longer; 0 disables.
	StatementTimeout time.Duration
	// ExecMode (DB_EXEC_MODE) is pgx's query exec mode on DATABASE_URL: behind a
	// transaction pooler older than PgBouncer 1.21 use cache_describe or exec.
	ExecMode string
}

// Production reports whether the server runs in production mode.
func (c Config) Production() bool { return c.Env == "production" }

// Load reads .env.local (when present, without overriding the environment) and the environment.
func Load() (Config, error) {
	if err := godotenv.Load(".env.local"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("read .env.local: %w", err)
	}
	return FromEnv(os.Getenv)
}

// FromEnv builds the configuration from a lookup function (os.Getenv in production, a map in tests).
func FromEnv(get func(string) string) (Config, error) {
	r := reader{get: get}
	c := Config{
		Env:           r.str("APP_ENV", "development"),
		Port:          r.int("PORT", 8080),
		DataDir:       r.str("EMBEDDED_PG_DIR", ".data/postgres"),
		AuthJWTSecret: get("AUTH_JWT_SECRET"),
		AuthJWKSURL:   get("AUTH_JWKS_URL"),
		ShutdownGrace: r.duration("SHUTDOWN_GRACE", 20*time.Second),
		ShutdownDelay: r.duration("SHUTDOWN_DELAY", time.Second),
		LoaderWait:    r.duration("LOADER_WAIT", time.Millisecond),
		NoDataloaders: r.bool("BENCH_DISABLE_DATALOADERS", false),
		Pool: Pool{
			MaxConns:       r.int("DB_MAX_CONNS", 20),
			MinConns:       r.int("DB_MIN_CONNS", 5),
			MaxIdleTime:    r.duration("DB_MAX_IDLE_TIME", 30*time.Second),
			ConnectTimeout: r.duration("DB_CONNECT_TIMEOUT", 2*time.Second),
			// 0 disables.
			StatementTimeout: r.duration("DB_STATEMENT_TIMEOUT", 5*time.Second),
			ExecMode:         r.str("DB_EXEC_MODE", ""),
		},
		Limits: Limits{
			MaxComplexity:  r.positive("GRAPHQL_MAX_COMPLEXITY", 100000),
			MaxDepth:       r.positive("GRAPHQL_MAX_DEPTH", 12),
			MaxFields:      r.positive("GRAPHQL_MAX_FIELDS", 500),
			MaxBodyBytes:   int64(r.positive("MAX_BODY_BYTES", 1<<20)),
			RequestTimeout: r.duration("REQUEST_TIMEOUT", 15*time.Second),
			RateAnon:       r.int("RATE_LIMIT_ANON", 10),
			RateUser:       r.int("RATE_LIMIT_USER", 120),
			TrustedProxies: r.prefixes("TRUSTED_PROXIES"),
			MaxInFlight:    r.int("MAX_IN_FLIGHT", 0),
		},
	}
	for _, o := range strings.Split(get("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	c.DatabaseURL = get("DATABASE_URL")
	if c.DatabaseURL == "" && get("DB_HOST") != "" {
		c.DatabaseURL = r.urlFromParts()
	}
	c.DatabaseURLUnpooled = r.str("DATABASE_URL_UNPOOLED", c.DatabaseURL)
	c.Embedded = c.DatabaseURL == ""
	c.AutoMigrate = r.bool("MIGRATE_ON_START", true)
	c.AutoSeed = r.bool("SEED_ON_START", c.Embedded)
	if c.Env != "development" && c.Env != "production" {
		r.fail("APP_ENV", c.Env, "development or production")
	}
	if c.Limits.RequestTimeout <= 0 {
		r.fail("REQUEST_TIMEOUT", get("REQUEST_TIMEOUT"), "a positive duration")
	}
	if c.Pool.StatementTimeout < 0 {
		r.fail("DB_STATEMENT_TIMEOUT", get("DB_STATEMENT_TIMEOUT"), "a duration, 0 to disable")
	}
	if c.Limits.MaxInFlight < 0 {
		r.fail("MAX_IN_FLIGHT", get("MAX_IN_FLIGHT"), "a number of requests, 0 for twice the CPUs")
	}
	if c.Limits.RateAnon < 0 {
		r.fail("RATE_LIMIT_ANON", get("RATE_LIMIT_ANON"), "a number per minute, 0 to disable")
	}
	if c.Limits.RateUser < 0 {
		r.fail("RATE_LIMIT_USER", get("RATE_LIMIT_USER"), "a number per minute, 0 to disable")
	}
	c.ClerkWebhookSecret = get("CLERK_WEBHOOK_SECRET")
	c.TelnyxPublicKey = get("TELNYX_PUBLIC_KEY")
	c.WebhookRetention = r.duration("WEBHOOK_RETENTION", 30*24*time.Hour)
	c.JobWorkers = r.int("JOB_WORKERS", 10)
	if c.WebhookRetention <= 0 {
		r.fail("WEBHOOK_RETENTION", get("WEBHOOK_RETENTION"), "a positive duration such as 720h")
	}
	if c.JobWorkers < 0 {
		r.fail("JOB_WORKERS", get("JOB_WORKERS"), "0 or more")
	}
	return c, errors.Join(r.errs...)
}

type reader struct {
	get  func(string) string
	errs []error
}

func (r *reader) fail(key, value, want string) {
	r.errs = append(r.errs, fmt.Errorf("config: %s=%q: want %s", key, value, want))
}

func (r *reader) str(key, def string) string {
	if v := r.get(key); v != "" {
		return v
	}
	return def
}

func (r *reader) int(key string, def int) int {
	v := r.get(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(key, v, "an integer")
	}
	return n
}

// positive is int for settings that must be above zero.
func (r *reader) positive(key string, def int) int {
	v := r.get(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.fail(key, v, "a positive integer")
		return def
	}
	return n
}

// prefixes reads comma-separated CIDRs; a bare address is its own /32 or /128.
func (r *reader) prefixes(key string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range strings.Split(r.get(key), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				r.fail(key, s, "CIDRs such as 10.0.0.0/8 or addresses")
				continue
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	return ps
}

func (r *reader) bool(key string, def bool) bool {
	v := r.get(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, v, "true or false")
	}
	return b
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	v := r.get(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(key, v, "a duration such as 30s")
	}
	return d
}

// urlFromParts builds a connection URL from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME, DB_SSLMODE and DB_SSLROOTCERT.
func (r *reader) urlFromParts() string {
	u := url.URL{
		Scheme: "postgres",
		Host:   r.get("DB_HOST") + ":" + r.str("DB_PORT", "5432"),
		Path:   "/" + r.str("DB_NAME", "postgres"),
	}
	q := url.Values{"sslmode": {r.str("DB_SSLMODE", "prefer")}}
	if ca := r.get("DB_SSLROOTCERT"); ca != "" {
		q.Set("sslrootcert", ca) // the CA that verify-ca / verify-full check the server against
	}
	u.RawQuery = q.Encode()
	user := r.str("DB_USER", "postgres")
	if pw := r.get("DB_PASSWORD"); pw != "" {
		u.User = url.UserPassword(user, pw)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}
