// Package config reads the process configuration from the environment (and an
// optional .env file) into one struct, and refuses settings unsafe for production.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"github.com/kelseyhightower/envconfig"

	"hermez/pkg/throttle"
)

// DefaultSecretKey is the development signing secret. Outside local mode with
// DEBUG=false the process refuses to start with it.
const DefaultSecretKey = "hermez-insecure-development-secret-key-change-me"

// Config is every environment variable of the spec (docs/config.md), with its default.
type Config struct {
	Port           int    `envconfig:"PORT" default:"8000"`
	SecretKey      string `envconfig:"SECRET_KEY" default:"hermez-insecure-development-secret-key-change-me"`
	Debug          bool   `envconfig:"DEBUG" default:"false"`
	DeploymentHost string `envconfig:"DEPLOYMENT_HOST"`
	DatabaseURL    string `envconfig:"DATABASE_URL"`
	SQLitePath     string `envconfig:"SQLITE_PATH" default:"hermez.db"`
	// DatabaseMaxConns bounds each process's PostgreSQL connection pool.
	DatabaseMaxConns int `envconfig:"DATABASE_MAX_CONNECTIONS" default:"20"`
	// DatabasePooler says what is between the processes and PostgreSQL:
	// "" (PostgreSQL itself, or a session-mode pooler) or "transaction" (a
	// transaction-mode pooler such as PgBouncer's pool_mode=transaction: no
	// prepared statements, migrations locked by a lease row).
	DatabasePooler string `envconfig:"DATABASE_POOLER"`
	// RunnerLeaseSeconds is how long the relay/sweep runner's lease lasts
	// without renewal: a runner that died is replaced within it.
	RunnerLeaseSeconds int    `envconfig:"RUNNER_LEASE_SECONDS" default:"15"`
	RedisURL           string `envconfig:"REDIS_URL"`
	RedisPrefix        string `envconfig:"REDIS_PREFIX" default:"hermez:"`
	// RedisClusterURL is a Redis Cluster instead of RedisURL (go-redis's cluster URL form).
	RedisClusterURL        string   `envconfig:"REDIS_CLUSTER_URL"`
	CORSAllowedOrigins     []string `envconfig:"CORS_ALLOWED_ORIGINS" default:"http://localhost:4321"`
	ClerkFrontendAPIURL    string   `envconfig:"CLERK_FRONTEND_API_URL"`
	ClerkJWTIssuer         string   `envconfig:"CLERK_JWT_ISSUER"`
	ClerkJWTAudience       string   `envconfig:"CLERK_JWT_AUDIENCE" default:"hermez-backend-api"`
	ClerkJWTLeeway         int      `envconfig:"CLERK_JWT_LEEWAY" default:"10"`
	ClerkAuthorizedParties []string `envconfig:"CLERK_AUTHORIZED_PARTIES"`
	ClerkWebhookSecret     string   `envconfig:"CLERK_WEBHOOK_SIGNING_SECRET"`
	QuoteTTLMinutes        int      `envconfig:"QUOTE_TTL_MINUTES" default:"10"`
	OfferTTLMinutes        int      `envconfig:"OFFER_TTL_MINUTES" default:"4"`
	ExpireIntervalSeconds  int      `envconfig:"EXPIRE_INTERVAL_SECONDS" default:"30"`
	WorkerURL              string   `envconfig:"WORKER_URL"`
	MigrateOnStart         bool     `envconfig:"MIGRATE_ON_START" default:"false"`
	QuoteMaxLifetimeMin    int      `envconfig:"QUOTE_MAX_LIFETIME_MINUTES" default:"60"`
	RequireVerifiedVehicle bool     `envconfig:"REQUIRE_VERIFIED_VEHICLE" default:"false"`
	// DevKeyDir is where the development issuer keeps its RSA key (docs/config.md: .hermez/).
	DevKeyDir string `envconfig:"HERMEZ_DEV_DIR" default:".hermez"`
	// ShutdownSeconds bounds the graceful drain (docs/api.md: in-flight requests ≤ 10 s).
	ShutdownSeconds int `envconfig:"SHUTDOWN_TIMEOUT_SECONDS" default:"10"`
	// ShutdownDrainSeconds is SHUTDOWN_DRAIN_SECONDS as given ("": 5, or 0 in
	// local mode); read it with ShutdownDrain.
	ShutdownDrainSeconds string `envconfig:"SHUTDOWN_DRAIN_SECONDS"`
	// MetricsPort, when set, serves /metrics and /debug/pprof/ on that port only (internal, for the
	// platform's private network) and not on PORT; 0 serves it on PORT (local mode).
	MetricsPort int `envconfig:"METRICS_PORT" default:"0"`
	// DjangoDatabaseURL is import-django's source when --from is not given
	// (keeps the password off the command line).
	DjangoDatabaseURL string `envconfig:"DJANGO_DATABASE_URL"`
	// TrustedProxyHops is the client-IP rule: 0 = the peer address, N = the N-th
	// address from the right of X-Forwarded-For (X-Real-IP is never trusted).
	TrustedProxyHops int `envconfig:"TRUSTED_PROXY_HOPS" default:"0"`
	// Throttles in DRF's notation N/sec|min|hour|day ("0" disables).
	ThrottleUserWrites string `envconfig:"THROTTLE_USER_WRITES" default:"120/min"`
	ThrottleQuotes     string `envconfig:"THROTTLE_QUOTES" default:"20/min"`
	ThrottleAnon       string `envconfig:"THROTTLE_ANON" default:"300/min"`
	// WSMaxSocketsPerUser caps one user's concurrent sockets across workers (0 disables).
	WSMaxSocketsPerUser int `envconfig:"WS_MAX_SOCKETS_PER_USER" default:"30"`

	// Place (place.md, docs/config.md "Place").
	// QuoteRadiusKm is a placed driver's new-quotes area and the radius of nearby_drivers.
	QuoteRadiusKm float64 `envconfig:"QUOTE_RADIUS_KM" default:"10"`
	// LocationTTLSeconds is how long a user's location stays fresh.
	LocationTTLSeconds int `envconfig:"LOCATION_TTL_SECONDS" default:"120"`
	// TripSpeedKmh is the speed of the trip estimate and of ETAs without a reported speed.
	TripSpeedKmh float64 `envconfig:"TRIP_SPEED_KMH" default:"20"`
	// NearbyIntervalSeconds spaces one quote's nearby_drivers frames.
	NearbyIntervalSeconds int `envconfig:"NEARBY_INTERVAL_SECONDS" default:"5"`
	// AutoAcceptDelaySeconds is how long after a quote's first pending offer
	// its automatic accept of the lowest offer fires (place.md §7).
	AutoAcceptDelaySeconds int `envconfig:"AUTO_ACCEPT_DELAY_SECONDS" default:"60"`
	// TrackSampleSeconds / TrackSampleMeters: a delivery's trail keeps a point
	// when this long passed or the driver moved more than this since its last kept point.
	TrackSampleSeconds int     `envconfig:"TRACK_SAMPLE_SECONDS" default:"15"`
	TrackSampleMeters  float64 `envconfig:"TRACK_SAMPLE_METERS" default:"50"`
	// TrackRetentionDays: trails are deleted this long after their delivery ends.
	TrackRetentionDays int `envconfig:"TRACK_RETENTION_DAYS" default:"30"`
}

// Load reads .env (when present, never overriding the environment) and the environment.
func Load() (Config, error) {
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("read .env: %w", err)
	}
	return FromEnv()
}

// FromEnv reads the environment only.
func FromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return Config{}, fmt.Errorf("read configuration: %w", err)
	}
	c.normalize()
	return c, nil
}

func (c *Config) normalize() {
	c.CORSAllowedOrigins = trimList(c.CORSAllowedOrigins)
	c.ClerkAuthorizedParties = trimList(c.ClerkAuthorizedParties)
	c.ClerkFrontendAPIURL = strings.TrimRight(strings.TrimSpace(c.ClerkFrontendAPIURL), "/")
	if c.ClerkJWTIssuer == "" {
		c.ClerkJWTIssuer = c.ClerkFrontendAPIURL
	}
	c.DeploymentHost = strings.ToLower(strings.TrimSpace(c.DeploymentHost))
}

func trimList(in []string) []string {
	out := in[:0:0]
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// LocalMode is a developer's machine: no DATABASE_URL, so an SQLite file.
func (c Config) LocalMode() bool { return c.DatabaseURL == "" }

// SingleProcess means no Redis: web serves the sockets and runs the sweeper itself.
func (c Config) SingleProcess() bool { return c.RedisURL == "" && c.RedisClusterURL == "" }

// DevIssuer tells whether this process mints and accepts development tokens:
// only with no Clerk URL, and only in local mode or with DEBUG=true.
func (c Config) DevIssuer() bool {
	return c.ClerkFrontendAPIURL == "" && (c.LocalMode() || c.Debug)
}

// ShouldMigrateOnStart: always in local mode, else with MIGRATE_ON_START=true.
func (c Config) ShouldMigrateOnStart() bool { return c.LocalMode() || c.MigrateOnStart }

// Durations derived from the minute/second settings.
func (c Config) QuoteTTL() time.Duration { return time.Duration(c.QuoteTTLMinutes) * time.Minute }
func (c Config) OfferTTL() time.Duration { return time.Duration(c.OfferTTLMinutes) * time.Minute }
func (c Config) QuoteMaxLifetime() time.Duration {
	return time.Duration(c.QuoteMaxLifetimeMin) * time.Minute
}
func (c Config) ExpireInterval() time.Duration {
	return time.Duration(c.ExpireIntervalSeconds) * time.Second
}
func (c Config) Leeway() time.Duration { return time.Duration(c.ClerkJWTLeeway) * time.Second }
func (c Config) ShutdownTimeout() time.Duration {
	return time.Duration(c.ShutdownSeconds) * time.Second
}
func (c Config) LocationTTL() time.Duration {
	return time.Duration(c.LocationTTLSeconds) * time.Second
}
func (c Config) AutoAcceptDelay() time.Duration {
	return time.Duration(c.AutoAcceptDelaySeconds) * time.Second
}
func (c Config) TrackSample() time.Duration {
	return time.Duration(c.TrackSampleSeconds) * time.Second
}
func (c Config) TrackRetention() time.Duration {
	return time.Duration(c.TrackRetentionDays) * 24 * time.Hour
}
func (c Config) NearbyInterval() time.Duration {
	return time.Duration(c.NearbyIntervalSeconds) * time.Second
}

// Rates are the parsed throttle rates (a bad value, which Validate refuses,
// reads as disabled).
func (c Config) Rates() (userWrites, quotes, anon throttle.Rate) {
	userWrites, _ = throttle.ParseRate(c.ThrottleUserWrites)
	quotes, _ = throttle.ParseRate(c.ThrottleQuotes)
	anon, _ = throttle.ParseRate(c.ThrottleAnon)
	return userWrites, quotes, anon
}

// PoolerTransaction is DATABASE_POOLER for a transaction-mode pooler.
const PoolerTransaction = "transaction"

// TransactionPooler tells whether the database is reached through a
// transaction-mode pooler (DATABASE_POOLER=transaction).
func (c Config) TransactionPooler() bool { return c.DatabasePooler == PoolerTransaction }

// RunnerLease is RUNNER_LEASE_SECONDS.
func (c Config) RunnerLease() time.Duration { return time.Duration(c.RunnerLeaseSeconds) * time.Second }

// DefaultShutdownDrain is SHUTDOWN_DRAIN_SECONDS when unset (outside local mode).
const DefaultShutdownDrain = 5 * time.Second

// ShutdownDrain is how long a process keeps serving after SIGTERM, with
// /readyz 503 and `Connection: close`, before its graceful shutdown
// (SHUTDOWN_DRAIN_SECONDS; unset: 5 s, 0 in local mode).
func (c Config) ShutdownDrain() time.Duration {
	s := strings.TrimSpace(c.ShutdownDrainSeconds)
	if s == "" {
		if c.LocalMode() {
			return 0
		}
		return DefaultShutdownDrain
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return DefaultShutdownDrain // Validate refuses it first
	}
	return time.Duration(n) * time.Second
}

// Validate refuses unsafe or impossible settings, with a message that says what to change.
func (c Config) Validate() error {
	var problems []string
	if !c.LocalMode() && !c.Debug && c.SecretKey == DefaultSecretKey {
		problems = append(problems, "SECRET_KEY is the development default while DEBUG=false and DATABASE_URL is set: set SECRET_KEY to a long random value")
	}
	if !c.LocalMode() && !c.Debug && len(c.SecretKey) < 32 {
		problems = append(problems, "SECRET_KEY must be at least 32 characters in production")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		problems = append(problems, "DATABASE_URL must be a postgres:// URL (leave it empty for the local SQLite file)")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		problems = append(problems, "REDIS_URL must be a redis:// or rediss:// URL")
	}
	if c.RedisClusterURL != "" && !strings.HasPrefix(c.RedisClusterURL, "redis://") && !strings.HasPrefix(c.RedisClusterURL, "rediss://") {
		problems = append(problems, "REDIS_CLUSTER_URL must be a redis:// or rediss:// URL (redis://host1:port?addr=host2:port&addr=host3:port)")
	}
	if c.RedisURL != "" && c.RedisClusterURL != "" {
		problems = append(problems, "REDIS_URL and REDIS_CLUSTER_URL are both set: set only one (REDIS_CLUSTER_URL for a Redis Cluster, REDIS_URL for one Redis)")
	}
	if c.DatabaseMaxConns < 1 || c.DatabaseMaxConns > 1000 {
		problems = append(problems, "DATABASE_MAX_CONNECTIONS must be between 1 and 1000")
	}
	switch c.DatabasePooler {
	case "", PoolerTransaction:
	default:
		problems = append(problems, `DATABASE_POOLER must be empty (PostgreSQL itself or a session-mode pooler) or "transaction" (PgBouncer in transaction mode)`)
	}
	if c.DatabasePooler != "" && c.DatabaseURL == "" {
		problems = append(problems, "DATABASE_POOLER is set without DATABASE_URL: a pooler is for PostgreSQL (leave it empty with SQLite)")
	}
	if c.RunnerLeaseSeconds < 2 || c.RunnerLeaseSeconds > 3600 {
		problems = append(problems, "RUNNER_LEASE_SECONDS must be between 2 and 3600")
	}
	if c.Port <= 0 || c.Port > 65535 {
		problems = append(problems, "PORT must be between 1 and 65535")
	}
	if c.MetricsPort < 0 || c.MetricsPort > 65535 || (c.MetricsPort != 0 && c.MetricsPort == c.Port) {
		problems = append(problems, "METRICS_PORT must be 0 (metrics on PORT) or another port between 1 and 65535")
	}
	if c.ShutdownSeconds <= 0 {
		problems = append(problems, "SHUTDOWN_TIMEOUT_SECONDS must be positive")
	}
	if s := strings.TrimSpace(c.ShutdownDrainSeconds); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 0 {
			problems = append(problems, "SHUTDOWN_DRAIN_SECONDS must be a whole number of seconds, 0 or more")
		}
	}
	if c.QuoteTTLMinutes <= 0 || c.OfferTTLMinutes <= 0 || c.ExpireIntervalSeconds <= 0 || c.QuoteMaxLifetimeMin <= 0 {
		problems = append(problems, "QUOTE_TTL_MINUTES, OFFER_TTL_MINUTES, EXPIRE_INTERVAL_SECONDS and QUOTE_MAX_LIFETIME_MINUTES must be positive")
	}
	if c.ClerkJWTLeeway < 0 {
		problems = append(problems, "CLERK_JWT_LEEWAY must not be negative")
	}
	if !c.LocalMode() && !c.Debug && c.ClerkFrontendAPIURL == "" {
		problems = append(problems, "CLERK_FRONTEND_API_URL is required in production (the development issuer exists only in local mode or with DEBUG=true)")
	}
	if c.TrustedProxyHops < 0 {
		problems = append(problems, "TRUSTED_PROXY_HOPS must not be negative (0: the peer address; 1 behind Render's proxy)")
	}
	for _, r := range [][2]string{{"THROTTLE_USER_WRITES", c.ThrottleUserWrites}, {"THROTTLE_QUOTES", c.ThrottleQuotes}, {"THROTTLE_ANON", c.ThrottleAnon}} {
		if _, err := throttle.ParseRate(r[1]); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", r[0], err))
		}
	}
	if c.WSMaxSocketsPerUser < 0 {
		problems = append(problems, "WS_MAX_SOCKETS_PER_USER must not be negative (0 disables the cap)")
	}
	// NaN fails every comparison: "!(x > 0)" refuses it too.
	if !(c.QuoteRadiusKm > 0) || c.QuoteRadiusKm > 20000 {
		problems = append(problems, "QUOTE_RADIUS_KM must be a positive number of kilometres (at most 20000)")
	}
	if !(c.TripSpeedKmh > 0) || c.TripSpeedKmh > 1000 {
		problems = append(problems, "TRIP_SPEED_KMH must be a positive speed in km/h (at most 1000)")
	}
	if c.LocationTTLSeconds <= 0 || c.NearbyIntervalSeconds <= 0 {
		problems = append(problems, "LOCATION_TTL_SECONDS and NEARBY_INTERVAL_SECONDS must be positive")
	}
	if c.AutoAcceptDelaySeconds < 0 || c.AutoAcceptDelaySeconds > 86400 {
		problems = append(problems, "AUTO_ACCEPT_DELAY_SECONDS must be between 0 and 86400")
	}
	if c.TrackSampleSeconds <= 0 || !(c.TrackSampleMeters > 0) || c.TrackRetentionDays <= 0 {
		problems = append(problems, "TRACK_SAMPLE_SECONDS, TRACK_SAMPLE_METERS and TRACK_RETENTION_DAYS must be positive")
	}
	if len(problems) > 0 {
		return fmt.Errorf("refusing to start: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ValidateWorker adds the worker's own requirement: Redis carries its events.
func (c Config) ValidateWorker() error {
	if c.SingleProcess() {
		return errors.New("refusing to start: the worker needs REDIS_URL or REDIS_CLUSTER_URL (it receives events from the web process through Redis); for a single machine run only `web`, which serves the sockets itself")
	}
	return c.Validate()
}

// Defaults is the configuration with every default and nothing read from the
// environment (tests start from it).
func Defaults() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		def, ok := t.Field(i).Tag.Lookup("default")
		if !ok {
			continue
		}
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(def)
		case reflect.Int:
			n, _ := strconv.Atoi(def)
			f.SetInt(int64(n))
		case reflect.Float64:
			x, _ := strconv.ParseFloat(def, 64)
			f.SetFloat(x)
		case reflect.Bool:
			f.SetBool(def == "true")
		case reflect.Slice:
			f.Set(reflect.ValueOf(strings.Split(def, ",")))
		}
	}
	c.normalize()
	return c
}
