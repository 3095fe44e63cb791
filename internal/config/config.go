// Package config reads the server's settings from the environment (and an
// optional .env.local file), with defaults that run on a developer's machine.
package config

import (
	"errors"
	"fmt"
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
}

// Pool holds the connection pool settings.
type Pool struct {
	MaxConns       int           // DB_MAX_CONNS
	MinConns       int           // DB_MIN_CONNS
	MaxIdleTime    time.Duration // DB_MAX_IDLE_TIME
	ConnectTimeout time.Duration // DB_CONNECT_TIMEOUT
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
		Pool: Pool{
			MaxConns:       r.int("DB_MAX_CONNS", 20),
			MinConns:       r.int("DB_MIN_CONNS", 5),
			MaxIdleTime:    r.duration("DB_MAX_IDLE_TIME", 30*time.Second),
			ConnectTimeout: r.duration("DB_CONNECT_TIMEOUT", 2*time.Second),
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

// urlFromParts builds a connection URL from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME and DB_SSLMODE.
func (r *reader) urlFromParts() string {
	u := url.URL{
		Scheme:   "postgres",
		Host:     r.get("DB_HOST") + ":" + r.str("DB_PORT", "5432"),
		Path:     "/" + r.str("DB_NAME", "postgres"),
		RawQuery: "sslmode=" + r.str("DB_SSLMODE", "prefer"),
	}
	user := r.str("DB_USER", "postgres")
	if pw := r.get("DB_PASSWORD"); pw != "" {
		u.User = url.UserPassword(user, pw)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}
