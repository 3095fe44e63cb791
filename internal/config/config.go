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

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/embeddedpg"
	"github.com/savvysolve/api/internal/jobs"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/internal/webhooks"
	"github.com/savvysolve/api/loaders"
)

// Config holds every setting of the server. The settings of a package it
// configures are that package's own option struct, filled here and handed
// over as they are; a default lives in that package when the package has one.
// The zero value is not useful: use Load.
type Config struct {
	Env  string // "development" or "production" (APP_ENV)
	Host string // HOST: the address to listen on ("": every interface)
	Port int    // PORT

	// DatabaseURL serves queries; it may point at a transaction pooler.
	DatabaseURL string
	// DatabaseURLUnpooled is a direct connection, for migrations and LISTEN.
	DatabaseURLUnpooled string
	// DevDatabaseURL (DEV_DATABASE_URL) is the empty database `db diff` and
	// `db check` work on; empty: a throwaway embedded cluster.
	DevDatabaseURL string
	// Embedded is true when no database was configured: the server starts its own cluster.
	Embedded bool
	// EmbeddedPG is the embedded cluster's (DataDir: EMBEDDED_PG_DIR).
	EmbeddedPG  embeddedpg.Config
	AutoMigrate bool // MIGRATE_ON_START
	AutoSeed    bool // SEED_ON_START: seed an empty database at start (default on for embedded)

	Pool database.Options // DB_*: the application's connection pool
	Auth auth.Options     // AUTH_*: the user tokens accepted

	AllowedOrigins []string // ALLOWED_ORIGINS, comma separated
	ShutdownGrace  time.Duration
	// ShutdownDelay (SHUTDOWN_DELAY) is how long readiness stays red before the
	// server stops accepting requests, so a load balancer stops sending first.
	ShutdownDelay time.Duration
	// Loaders (Wait: LOADER_WAIT) tune the dataloaders.
	Loaders loaders.Options
	// GCHeapTargetMB (GC_HEAP_TARGET_MB) is the heap the garbage collector
	// may grow to before it runs while the live heap is small; 0 leaves the
	// collector at Go's default (as does GOGC, when set).
	GCHeapTargetMB int

	Limits api.Limits // what one client may ask of the server

	// Integrations: signed webhooks and the job queue that applies them.
	Webhooks webhooks.Secrets // CLERK_WEBHOOK_SECRET, TELNYX_PUBLIC_KEY
	Jobs     jobs.Options     // JOB_WORKERS, WEBHOOK_RETENTION

	// Payments (STRIPE_SECRET_KEY, STRIPE_API_BASE) is the Stripe client's;
	// without a key nothing is billed. STRIPE_WEBHOOK_SECRET is in Webhooks.
	Payments payments.Config
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
		Env:            r.str("APP_ENV", "development"),
		Host:           get("HOST"),
		Port:           r.int("PORT", 8080),
		DevDatabaseURL: get("DEV_DATABASE_URL"),
		EmbeddedPG:     embeddedpg.Config{DataDir: r.str("EMBEDDED_PG_DIR", ".data/postgres")},
		Auth: auth.Options{
			Secret:            get("AUTH_JWT_SECRET"),
			JWKSURL:           get("AUTH_JWKS_URL"),
			Issuer:            get("AUTH_ISSUER"),
			AuthorizedParties: r.list("AUTH_AUTHORIZED_PARTIES"),
		},
		AllowedOrigins: r.list("ALLOWED_ORIGINS"),
		ShutdownGrace:  r.duration("SHUTDOWN_GRACE", 20*time.Second),
		ShutdownDelay:  r.duration("SHUTDOWN_DELAY", time.Second),
		Loaders:        loaders.Options{Wait: r.duration("LOADER_WAIT", loaders.DefaultWait)},
		GCHeapTargetMB: r.int("GC_HEAP_TARGET_MB", 256),
		Pool: database.Options{
			MaxConns:       r.int("DB_MAX_CONNS", 20),
			MinConns:       r.int("DB_MIN_CONNS", 5),
			MaxIdleTime:    r.duration("DB_MAX_IDLE_TIME", 30*time.Second),
			ConnectTimeout: r.duration("DB_CONNECT_TIMEOUT", 2*time.Second),
			// 0 disables.
			StatementTimeout: r.duration("DB_STATEMENT_TIMEOUT", 5*time.Second),
			ExecMode:         r.str("DB_EXEC_MODE", ""),
		},
		Limits: api.Limits{
			MaxComplexity:  r.positive("GRAPHQL_MAX_COMPLEXITY", api.DefaultMaxComplexity),
			MaxDepth:       r.positive("GRAPHQL_MAX_DEPTH", api.DefaultMaxDepth),
			MaxFields:      r.positive("GRAPHQL_MAX_FIELDS", api.DefaultMaxFields),
			MaxBodyBytes:   int64(r.positive("MAX_BODY_BYTES", api.DefaultMaxBodyBytes)),
			RequestTimeout: r.duration("REQUEST_TIMEOUT", api.DefaultRequestTimeout),
			RateAnon:       r.int("RATE_LIMIT_ANON", 10),
			RateUser:       r.int("RATE_LIMIT_USER", 120),
			TrustedProxies: r.prefixes("TRUSTED_PROXIES"),
			MaxInFlight:    r.inFlight("MAX_IN_FLIGHT"),
		},
		Webhooks: webhooks.Secrets{
			ClerkSecret:     get("CLERK_WEBHOOK_SECRET"),
			TelnyxPublicKey: get("TELNYX_PUBLIC_KEY"),
			StripeSecret:    get("STRIPE_WEBHOOK_SECRET"),
		},
		Payments: payments.Config{SecretKey: get("STRIPE_SECRET_KEY"), APIBase: get("STRIPE_API_BASE")},
		Jobs: jobs.Options{
			Workers:   r.int("JOB_WORKERS", jobs.DefaultWorkers),
			Retention: r.duration("WEBHOOK_RETENTION", jobs.DefaultRetention),
		},
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
	if c.Limits.RateAnon < 0 {
		r.fail("RATE_LIMIT_ANON", get("RATE_LIMIT_ANON"), "a number per minute, 0 to disable")
	}
	if c.Limits.RateUser < 0 {
		r.fail("RATE_LIMIT_USER", get("RATE_LIMIT_USER"), "a number per minute, 0 to disable")
	}
	if c.Jobs.Retention <= 0 {
		r.fail("WEBHOOK_RETENTION", get("WEBHOOK_RETENTION"), "a positive duration such as 720h")
	}
	if c.Jobs.Workers < 0 {
		r.fail("JOB_WORKERS", get("JOB_WORKERS"), "0 or more")
	}
	if k := c.Payments.SecretKey; k != "" && !strings.HasPrefix(k, "sk_") && !strings.HasPrefix(k, "rk_") {
		r.fail("STRIPE_SECRET_KEY", "(hidden)", "a Stripe secret key, sk_... or rk_...")
	}
	if k := c.Webhooks.StripeSecret; k != "" && !strings.HasPrefix(k, "whsec_") {
		r.fail("STRIPE_WEBHOOK_SECRET", "(hidden)", "the webhook endpoint's signing secret, whsec_...")
	}
	if b := c.Payments.APIBase; b != "" {
		if u, err := url.Parse(b); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail("STRIPE_API_BASE", b, "an http(s) URL such as https://api.stripe.com")
		}
	}
	if c.Loaders.Wait < 0 {
		r.fail("LOADER_WAIT", get("LOADER_WAIT"), "a duration such as 1ms")
	}
	if iss := c.Auth.Issuer; iss != "" {
		if u, err := url.Parse(iss); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			r.fail("AUTH_ISSUER", iss, "Clerk's Frontend API URL, such as https://clerk.example.com")
		}
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

// list reads comma-separated values, blanks dropped.
func (r *reader) list(key string) []string {
	var vs []string
	for _, v := range strings.Split(r.get(key), ",") {
		if v = strings.TrimSpace(v); v != "" {
			vs = append(vs, v)
		}
	}
	return vs
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

// inFlight reads MAX_IN_FLIGHT: a fixed number of requests; auto (also 0 or
// unset: api.AutoInFlight), fixed at the floor with a database near and
// adaptive with one far; or adaptive (api.AdaptiveOnly).
func (r *reader) inFlight(key string) int {
	v := r.get(key)
	switch v {
	case "", "auto":
		return api.AutoInFlight
	case "adaptive":
		return api.AdaptiveOnly
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.fail(key, v, "auto (or 0), adaptive, or a fixed number of requests")
		return api.AutoInFlight
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
