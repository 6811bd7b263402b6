package config_test

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"hermez/pkg/config"
)

// allVars is every variable the Config reads.
func allVars() []string {
	var out []string
	t := reflect.TypeOf(config.Config{})
	for i := 0; i < t.NumField(); i++ {
		if k := t.Field(i).Tag.Get("envconfig"); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// clearEnv unsets every configuration variable for the test (restored after).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range allVars() {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestDefaultsAsDocumented(t *testing.T) {
	clearEnv(t)
	t.Chdir(t.TempDir()) // no .env
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Defaults()) {
		t.Fatalf("environment defaults differ from config.Defaults():\n%+v\n%+v", c, config.Defaults())
	}
	// The table of docs/config.md.
	checks := []struct {
		name      string
		got, want any
	}{
		{"PORT", c.Port, 8000},
		{"DEBUG", c.Debug, false},
		{"DEPLOYMENT_HOST", c.DeploymentHost, ""},
		{"DATABASE_URL", c.DatabaseURL, ""},
		{"SQLITE_PATH", c.SQLitePath, "hermez.db"},
		{"DATABASE_MAX_CONNECTIONS", c.DatabaseMaxConns, 20},
		{"DATABASE_POOLER", c.DatabasePooler, ""},
		{"RUNNER_LEASE_SECONDS", c.RunnerLeaseSeconds, 15},
		{"REDIS_URL", c.RedisURL, ""},
		{"REDIS_CLUSTER_URL", c.RedisClusterURL, ""},
		{"CORS_ALLOWED_ORIGINS", c.CORSAllowedOrigins, []string{"http://localhost:4321"}},
		{"CLERK_FRONTEND_API_URL", c.ClerkFrontendAPIURL, ""},
		{"CLERK_JWT_ISSUER", c.ClerkJWTIssuer, ""},
		{"CLERK_JWT_AUDIENCE", c.ClerkJWTAudience, "hermez-backend-api"},
		{"CLERK_JWT_LEEWAY", c.ClerkJWTLeeway, 10},
		{"CLERK_AUTHORIZED_PARTIES", len(c.ClerkAuthorizedParties), 0},
		{"CLERK_WEBHOOK_SIGNING_SECRET", c.ClerkWebhookSecret, ""},
		{"QUOTE_TTL_MINUTES", c.QuoteTTLMinutes, 10},
		{"OFFER_TTL_MINUTES", c.OfferTTLMinutes, 4},
		{"EXPIRE_INTERVAL_SECONDS", c.ExpireIntervalSeconds, 30},
		{"WORKER_URL", c.WorkerURL, ""},
		{"MIGRATE_ON_START", c.MigrateOnStart, false},
		{"QUOTE_MAX_LIFETIME_MINUTES", c.QuoteMaxLifetimeMin, 60},
		{"REQUIRE_VERIFIED_VEHICLE", c.RequireVerifiedVehicle, false},
		{"SECRET_KEY", c.SecretKey, config.DefaultSecretKey},
		{"SHUTDOWN_TIMEOUT_SECONDS", c.ShutdownSeconds, 10},
		{"SHUTDOWN_DRAIN_SECONDS (local)", c.ShutdownDrain(), time.Duration(0)},
		{"METRICS_PORT", c.MetricsPort, 0},
		{"HERMEZ_DEV_DIR", c.DevKeyDir, ".hermez"},
		{"REDIS_PREFIX", c.RedisPrefix, "hermez:"},
		{"TRUSTED_PROXY_HOPS", c.TrustedProxyHops, 0},
		{"THROTTLE_USER_WRITES", c.ThrottleUserWrites, "120/min"},
		{"THROTTLE_QUOTES", c.ThrottleQuotes, "20/min"},
		{"THROTTLE_ANON", c.ThrottleAnon, "300/min"},
		{"WS_MAX_SOCKETS_PER_USER", c.WSMaxSocketsPerUser, 30},
		{"QUOTE_RADIUS_KM", c.QuoteRadiusKm, 10.0},
		{"LOCATION_TTL_SECONDS", c.LocationTTL(), 120 * time.Second},
		{"TRIP_SPEED_KMH", c.TripSpeedKmh, 20.0},
		{"NEARBY_INTERVAL_SECONDS", c.NearbyInterval(), 5 * time.Second},
		{"AUTO_ACCEPT_DELAY_SECONDS", c.AutoAcceptDelay(), 60 * time.Second},
		{"TRACK_SAMPLE_SECONDS", c.TrackSample(), 15 * time.Second},
		{"TRACK_SAMPLE_METERS", c.TrackSampleMeters, 50.0},
		{"TRACK_RETENTION_DAYS", c.TrackRetention(), 30 * 24 * time.Hour},
		{"local mode", c.LocalMode(), true},
		{"single process", c.SingleProcess(), true},
		{"migrate on start (local)", c.ShouldMigrateOnStart(), true},
		{"dev issuer (local)", c.DevIssuer(), true},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the defaults (local mode) must be accepted: %v", err)
	}
}

func TestEnvironmentParsed(t *testing.T) {
	clearEnv(t)
	t.Chdir(t.TempDir())
	t.Setenv("CORS_ALLOWED_ORIGINS", " https://a.example.com , https://b.example.com,")
	t.Setenv("CLERK_FRONTEND_API_URL", "https://clerk.example.com/")
	t.Setenv("DEPLOYMENT_HOST", " API.Example.com ")
	t.Setenv("DEBUG", "true")
	t.Setenv("QUOTE_TTL_MINUTES", "15")
	t.Setenv("QUOTE_RADIUS_KM", "2.5")
	t.Setenv("TRIP_SPEED_KMH", "30")
	t.Setenv("LOCATION_TTL_SECONDS", "60")
	t.Setenv("NEARBY_INTERVAL_SECONDS", "3")
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.CORSAllowedOrigins, []string{"https://a.example.com", "https://b.example.com"}) {
		t.Errorf("origins %q", c.CORSAllowedOrigins)
	}
	if c.ClerkFrontendAPIURL != "https://clerk.example.com" || c.ClerkJWTIssuer != "https://clerk.example.com" {
		t.Errorf("clerk url %q issuer %q", c.ClerkFrontendAPIURL, c.ClerkJWTIssuer)
	}
	if c.DeploymentHost != "api.example.com" || !c.Debug || c.QuoteTTLMinutes != 15 {
		t.Errorf("got %+v", c)
	}
	if c.QuoteRadiusKm != 2.5 || c.TripSpeedKmh != 30 || c.LocationTTL() != time.Minute || c.NearbyInterval() != 3*time.Second {
		t.Errorf("place settings: radius %v speed %v ttl %v interval %v", c.QuoteRadiusKm, c.TripSpeedKmh, c.LocationTTL(), c.NearbyInterval())
	}
	if c.DevIssuer() {
		t.Error("dev issuer must be off when Clerk is configured")
	}
	t.Setenv("QUOTE_RADIUS_KM", "diez")
	if _, err := config.Load(); err == nil || !strings.Contains(err.Error(), "QUOTE_RADIUS_KM") {
		t.Fatalf("non-numeric QUOTE_RADIUS_KM: %v", err)
	}
	os.Unsetenv("QUOTE_RADIUS_KM")
	t.Setenv("AUTO_ACCEPT_DELAY_SECONDS", "-1")
	if neg, err := config.Load(); err != nil || neg.Validate() == nil || !strings.Contains(neg.Validate().Error(), "AUTO_ACCEPT_DELAY_SECONDS") {
		t.Fatalf("negative AUTO_ACCEPT_DELAY_SECONDS: %v", err)
	}
	os.Unsetenv("AUTO_ACCEPT_DELAY_SECONDS")
	t.Setenv("QUOTE_TTL_MINUTES", "diez")
	if _, err := config.Load(); err == nil || !strings.Contains(err.Error(), "QUOTE_TTL_MINUTES") {
		t.Fatalf("non-numeric QUOTE_TTL_MINUTES: %v", err)
	}
}

// SHUTDOWN_DRAIN_SECONDS: 5 s by default in production, 0 in local mode, any
// whole number when given (0 included), refused when not one.
func TestShutdownDrain(t *testing.T) {
	local := config.Defaults()
	prod := production()
	if local.ShutdownDrain() != 0 || prod.ShutdownDrain() != 5*time.Second {
		t.Fatalf("defaults: local %s, production %s", local.ShutdownDrain(), prod.ShutdownDrain())
	}
	for _, tc := range []struct {
		val  string
		want time.Duration
	}{{"0", 0}, {"2", 2 * time.Second}, {" 12 ", 12 * time.Second}} {
		for _, c := range []config.Config{local, prod} {
			c.ShutdownDrainSeconds = tc.val
			if err := c.Validate(); err != nil || c.ShutdownDrain() != tc.want {
				t.Errorf("%q (local %v): %s, %v", tc.val, c.LocalMode(), c.ShutdownDrain(), err)
			}
		}
	}
	for _, bad := range []string{"-1", "cinco", "1.5"} {
		c := prod
		c.ShutdownDrainSeconds = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "SHUTDOWN_DRAIN_SECONDS") {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

func production() config.Config {
	c := config.Defaults()
	c.DatabaseURL = "postgres://x"
	c.ClerkFrontendAPIURL = "https://clerk.example.com"
	c.SecretKey = strings.Repeat("s", 50)
	return c
}

func TestUnsafeProductionRefused(t *testing.T) {
	ok := production()
	if err := ok.Validate(); err != nil {
		t.Fatalf("a safe production config refused: %v", err)
	}

	c := production()
	c.SecretKey = config.DefaultSecretKey
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("default SECRET_KEY with DATABASE_URL and DEBUG=false: %v", err)
	}

	// The same from the environment, as the binaries read it.
	clearEnv(t)
	t.Chdir(t.TempDir())
	t.Setenv("DATABASE_URL", "postgres://x")
	t.Setenv("DEBUG", "false")
	env, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Validate(); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("environment with DATABASE_URL and no SECRET_KEY: %v", err)
	}

	c = production()
	c.SecretKey = "short"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("short SECRET_KEY: %v", err)
	}

	c = production()
	c.ClerkFrontendAPIURL = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "CLERK_FRONTEND_API_URL") {
		t.Fatalf("production without Clerk: %v", err)
	}

	// DEBUG=true outside local mode accepts the default key (a staging box).
	c = production()
	c.SecretKey, c.Debug = config.DefaultSecretKey, true
	if err := c.Validate(); err != nil {
		t.Fatalf("DEBUG=true: %v", err)
	}

	for _, bad := range []func(*config.Config){
		func(c *config.Config) { c.DatabaseURL = "mysql://x" },
		func(c *config.Config) { c.RedisURL = "http://x" },
		func(c *config.Config) { c.Port = 0 },
		func(c *config.Config) { c.QuoteTTLMinutes = 0 },
		func(c *config.Config) { c.ClerkJWTLeeway = -1 },
		func(c *config.Config) { c.MetricsPort = c.Port },
		func(c *config.Config) { c.MetricsPort = 70000 },
		func(c *config.Config) { c.ShutdownSeconds = 0 },
		func(c *config.Config) { c.DatabaseMaxConns = 0 },
		func(c *config.Config) { c.DatabasePooler = "session" },
		func(c *config.Config) { c.DatabasePooler = "Transaction" },
		func(c *config.Config) { c.DatabasePooler, c.DatabaseURL = "transaction", "" },
		func(c *config.Config) { c.RunnerLeaseSeconds = 1 },
		func(c *config.Config) { c.QuoteRadiusKm = 0 },
		func(c *config.Config) { c.QuoteRadiusKm = -1 },
		func(c *config.Config) { c.QuoteRadiusKm = math.NaN() },
		func(c *config.Config) { c.TripSpeedKmh = 0 },
		func(c *config.Config) { c.TripSpeedKmh = math.Inf(1) },
		func(c *config.Config) { c.LocationTTLSeconds = 0 },
		func(c *config.Config) { c.NearbyIntervalSeconds = -5 },
	} {
		c := production()
		bad(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestWorkerNeedsRedis(t *testing.T) {
	c := production()
	err := c.ValidateWorker()
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") {
		t.Fatalf("worker without REDIS_URL: %v", err)
	}
	c.RedisURL = "redis://127.0.0.1:6379/0"
	if err := c.ValidateWorker(); err != nil {
		t.Fatalf("worker with REDIS_URL: %v", err)
	}
	// The worker also refuses what web refuses.
	c.SecretKey = config.DefaultSecretKey
	if err := c.ValidateWorker(); err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("worker with the default SECRET_KEY: %v", err)
	}
}

// REDIS_CLUSTER_URL alone is a broker for the worker; both variables at once are refused.
func TestRedisClusterURL(t *testing.T) {
	c := production()
	c.RedisClusterURL = "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"
	if c.SingleProcess() {
		t.Fatal("a cluster URL alone counted as single-process mode")
	}
	if err := c.ValidateWorker(); err != nil {
		t.Fatalf("worker with REDIS_CLUSTER_URL: %v", err)
	}
	c.RedisURL = "redis://127.0.0.1:6379/0"
	for _, err := range []error{c.Validate(), c.ValidateWorker()} {
		if err == nil || !strings.Contains(err.Error(), "both set") {
			t.Fatalf("REDIS_URL and REDIS_CLUSTER_URL together: %v", err)
		}
	}
	c.RedisURL = ""
	c.RedisClusterURL = "127.0.0.1:7000"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "REDIS_CLUSTER_URL") {
		t.Fatalf("a cluster URL without scheme: %v", err)
	}
}

func TestDotEnvNeverOverridesEnvironment(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Chdir(dir)
	env := "# local settings\nPORT=9123\nQUOTE_TTL_MINUTES=7\nCORS_ALLOWED_ORIGINS=http://dotenv.example\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("QUOTE_TTL_MINUTES", "3")
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 9123 {
		t.Errorf("PORT %d: .env not loaded", c.Port)
	}
	if c.QuoteTTLMinutes != 3 {
		t.Errorf("QUOTE_TTL_MINUTES %d: .env overrode the environment", c.QuoteTTLMinutes)
	}
	if len(c.CORSAllowedOrigins) != 1 || c.CORSAllowedOrigins[0] != "http://dotenv.example" {
		t.Errorf("origins %q", c.CORSAllowedOrigins)
	}

}

func TestThrottleSettings(t *testing.T) {
	c := config.Defaults()
	w, q, a := c.Rates()
	if w.N != 120 || w.Period != time.Minute || q.N != 20 || a.N != 300 {
		t.Fatalf("default rates %v %v %v", w, q, a)
	}
	c.ThrottleUserWrites, c.ThrottleQuotes, c.ThrottleAnon = "0", "5/hour", "10/sec"
	if err := c.Validate(); err != nil {
		t.Fatalf("valid rates refused: %v", err)
	}
	if w, q, a := c.Rates(); !w.Disabled() || q.N != 5 || q.Period != time.Hour || a.N != 10 || a.Period != time.Second {
		t.Fatalf("rates %v %v %v", w, q, a)
	}
	for _, bad := range []func(*config.Config){
		func(c *config.Config) { c.ThrottleQuotes = "20/fortnight" },
		func(c *config.Config) { c.ThrottleAnon = "many" },
		func(c *config.Config) { c.TrustedProxyHops = -1 },
		func(c *config.Config) { c.WSMaxSocketsPerUser = -3 },
	} {
		c := config.Defaults()
		bad(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
