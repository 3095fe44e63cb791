package config_test

import (
	"testing"
	"time"

	"github.com/savvysolve/api/internal/config"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	t.Run("EmbeddedDefaults", func(t *testing.T) {
		c, err := config.FromEnv(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Embedded || !c.AutoSeed || !c.AutoMigrate || c.Port != 8080 || c.Pool.MaxConns != 20 || c.Pool.MinConns != 5 ||
			c.Pool.MaxIdleTime != 30*time.Second || c.Pool.ConnectTimeout != 2*time.Second {
			t.Fatalf("defaults: %+v", c)
		}
	})
	t.Run("PartsWithTLS", func(t *testing.T) {
		c, err := config.FromEnv(env(map[string]string{
			"DB_HOST": "db.internal", "DB_USER": "app", "DB_PASSWORD": "p@ss", "DB_NAME": "savvy",
			"DB_SSLMODE": "verify-full", "DB_SSLROOTCERT": "/etc/ssl/ca.pem",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := "postgres://app:p%40ss@db.internal:5432/savvy?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fca.pem"
		if c.DatabaseURL != want || c.DatabaseURLUnpooled != want || c.Embedded || c.AutoSeed {
			t.Fatalf("got %q (embedded %v)", c.DatabaseURL, c.Embedded)
		}
	})
	t.Run("Unpooled", func(t *testing.T) {
		c, _ := config.FromEnv(env(map[string]string{"DATABASE_URL": "postgres://pooler/x", "DATABASE_URL_UNPOOLED": "postgres://direct/x"}))
		if c.DatabaseURL != "postgres://pooler/x" || c.DatabaseURLUnpooled != "postgres://direct/x" {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("BadValues", func(t *testing.T) {
		for k, v := range map[string]string{"PORT": "eighty", "APP_ENV": "staging", "DB_MAX_IDLE_TIME": "soon", "MIGRATE_ON_START": "maybe"} {
			if _, err := config.FromEnv(env(map[string]string{k: v})); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		}
	})
}
