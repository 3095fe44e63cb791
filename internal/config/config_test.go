package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/config"
	"github.com/savvysolve/api/internal/jobs"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/loaders"
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
	t.Run("PackageDefaults", func(t *testing.T) {
		c, err := config.FromEnv(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		l := c.Limits
		if l.MaxComplexity != api.DefaultMaxComplexity || l.MaxDepth != api.DefaultMaxDepth || l.MaxFields != api.DefaultMaxFields ||
			l.MaxBodyBytes != api.DefaultMaxBodyBytes || l.RequestTimeout != api.DefaultRequestTimeout {
			t.Errorf("limits %+v are not api's defaults", l)
		}
		if c.GCHeapTargetMB != 256 {
			t.Errorf("GC heap target %d MB", c.GCHeapTargetMB)
		}
		if c.Jobs.Workers != jobs.DefaultWorkers || c.Jobs.Retention != jobs.DefaultRetention || c.Loaders.Wait != loaders.DefaultWait {
			t.Errorf("jobs %+v, loaders %+v", c.Jobs, c.Loaders)
		}
	})
	t.Run("EverySettingHere", func(t *testing.T) {
		c, err := config.FromEnv(env(map[string]string{
			"HOST": "127.0.0.1", "DEV_DATABASE_URL": "postgres://dev/x", "APP_ENV": "production",
			"AUTH_ISSUER": "https://clerk.example.com", "AUTH_AUTHORIZED_PARTIES": "https://app.example.com, http://localhost:5173,",
			"CLERK_WEBHOOK_SECRET": "whsec_x", "TELNYX_PUBLIC_KEY": "key", "EMBEDDED_PG_DIR": "/var/pg",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.Host != "127.0.0.1" || c.DevDatabaseURL != "postgres://dev/x" || !c.Production() || c.EmbeddedPG.DataDir != "/var/pg" {
			t.Errorf("%+v", c)
		}
		if c.Auth.Issuer != "https://clerk.example.com" || strings.Join(c.Auth.AuthorizedParties, " ") != "https://app.example.com http://localhost:5173" {
			t.Errorf("auth %+v", c.Auth)
		}
		if c.Webhooks.ClerkSecret != "whsec_x" || c.Webhooks.TelnyxPublicKey != "key" {
			t.Errorf("webhooks %+v", c.Webhooks)
		}
	})
	t.Run("Stripe", func(t *testing.T) {
		c, err := config.FromEnv(env(nil))
		if err != nil || c.Payments != (payments.Config{}) || c.Webhooks.StripeSecret != "" {
			t.Fatalf("payments on by default: %+v %v", c.Payments, err)
		}
		c, err = config.FromEnv(env(map[string]string{
			"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_WEBHOOK_SECRET": "whsec_abc", "STRIPE_API_BASE": "http://127.0.0.1:12111",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if want := (payments.Config{SecretKey: "sk_test_123", APIBase: "http://127.0.0.1:12111"}); c.Payments != want || c.Webhooks.StripeSecret != "whsec_abc" {
			t.Fatalf("got %+v and %q, want %+v", c.Payments, c.Webhooks.StripeSecret, want)
		}
		for k, v := range map[string]string{"STRIPE_SECRET_KEY": "pk_test_123", "STRIPE_WEBHOOK_SECRET": "hook_42", "STRIPE_API_BASE": "api.stripe.com"} {
			_, err := config.FromEnv(env(map[string]string{k: v}))
			if err == nil {
				t.Errorf("%s=%s accepted", k, v)
			} else if k != "STRIPE_API_BASE" && strings.Contains(err.Error(), v) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		}
	})
	t.Run("NoBenchmarkSwitch", func(t *testing.T) {
		// Turning the dataloaders off is the benchmark's business (bench/), never the configuration's.
		c, err := config.FromEnv(env(map[string]string{"BENCH_DISABLE_DATALOADERS": "1"}))
		if err != nil || c.Loaders.Disabled {
			t.Fatalf("loaders %+v, err %v", c.Loaders, err)
		}
	})
	t.Run("MaxInFlight", func(t *testing.T) {
		// api.Limits.MaxInFlight: 0 stands for auto, -1 for adaptive.
		for v, want := range map[string]int{"": api.AutoInFlight, "auto": api.AutoInFlight, "0": api.AutoInFlight,
			"adaptive": api.AdaptiveOnly, "64": 64} {
			c, err := config.FromEnv(env(map[string]string{"MAX_IN_FLIGHT": v}))
			if err != nil || c.Limits.MaxInFlight != want {
				t.Errorf("MAX_IN_FLIGHT=%q: %d, %v; want %d", v, c.Limits.MaxInFlight, err, want)
			}
		}
	})
	t.Run("BadValues", func(t *testing.T) {
		for k, v := range map[string]string{"PORT": "eighty", "APP_ENV": "staging", "DB_MAX_IDLE_TIME": "soon", "MIGRATE_ON_START": "maybe",
			"AUTH_ISSUER": "clerk.example.com", "LOADER_WAIT": "-1ms", "JOB_WORKERS": "-1", "MAX_IN_FLIGHT": "-1"} {
			if _, err := config.FromEnv(env(map[string]string{k: v})); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		}
	})
}
