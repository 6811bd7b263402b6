// Package app is the wiring both binaries share: logger, database, token
// verification, broker, the one-off subcommands and graceful serving.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/location"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/serve"
	"hermez/pkg/store"
	"hermez/pkg/track"
	"hermez/pkg/ws"
)

// Logger is JSON in production, text with DEBUG=true.
func Logger(cfg config.Config) *slog.Logger {
	level := slog.LevelInfo
	var h slog.Handler
	if cfg.Debug {
		level = slog.LevelDebug
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	} else {
		h = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	l := slog.New(h)
	slog.SetDefault(l)
	return l
}

// LoadConfig reads and validates the configuration; worker adds its own rule.
func LoadConfig(worker bool) (config.Config, error) {
	cfg, err := config.Load()
	if err != nil {
		return cfg, err
	}
	if worker {
		return cfg, cfg.ValidateWorker()
	}
	return cfg, cfg.Validate()
}

// OpenStore opens the database; with migrate it applies migrations (and in
// local mode the seed).
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*store.Store, error) {
	st, err := store.OpenWith(cfg.DatabaseURL, cfg.SQLitePath, store.Options{TransactionPooler: cfg.TransactionPooler()})
	if err != nil {
		return nil, err
	}
	if cfg.LocalMode() {
		log.Info("local mode: SQLite database", "path", cfg.SQLitePath)
	} else {
		if cfg.TransactionPooler() {
			log.Info("database behind a transaction-mode pooler: statements unprepared (pgx exec mode), migrations locked by a lease row")
		}
		// Every instance holds up to this many: instances × this must fit
		// PostgreSQL's max_connections (or a pooler in front of it).
		st.SQL().SetMaxOpenConns(cfg.DatabaseMaxConns)
		st.SQL().SetMaxIdleConns(cfg.DatabaseMaxConns)
	}
	if migrate {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
		if cfg.LocalMode() {
			if err := st.Seed(ctx); err != nil {
				st.Close()
				return nil, err
			}
		}
	}
	return st, nil
}

// DevIssuer returns the development issuer when the configuration allows it.
func DevIssuer(cfg config.Config) (*auth.DevIssuer, error) {
	if !cfg.DevIssuer() {
		return nil, nil
	}
	return auth.LoadOrCreateDevIssuer(cfg.DevKeyDir, cfg.ClerkJWTAudience)
}

// Authenticator builds token verification: the Clerk JWKS when configured,
// the development issuer when allowed. ctx ends the JWKS background refresh.
func Authenticator(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger) (*auth.Authenticator, *auth.DevIssuer, error) {
	v := auth.NewVerifier(auth.VerifierConfig{Audience: cfg.ClerkJWTAudience, Leeway: cfg.Leeway(), AuthorizedParty: cfg.ClerkAuthorizedParties})
	var keysReady func(context.Context) error
	var refresh func(context.Context)
	if cfg.ClerkFrontendAPIURL != "" {
		keys := auth.NewClerkKeys(ctx, cfg.ClerkFrontendAPIURL, time.Hour, 30*time.Second, log)
		kf, err := keys.Keyfunc(ctx)
		if err != nil {
			return nil, nil, err
		}
		v.AddIssuer(cfg.ClerkJWTIssuer, kf)
		keysReady, refresh = keys.Ready, keys.Run
	}
	dev, err := DevIssuer(cfg)
	if err != nil {
		return nil, nil, err
	}
	if dev != nil {
		v.AddIssuer(auth.DevIssuerName, dev.Keyfunc)
		log.Warn("development token issuer enabled: mint tokens with `web token <userid>`", "iss", auth.DevIssuerName)
	}
	return &auth.Authenticator{Verifier: v, Store: st, UserTTL: auth.DefaultUserTTL, KeysReady: keysReady, Refresh: refresh}, dev, nil
}

// Broker is one Redis (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_URL), or
// else the in-process broker.
type Broker struct {
	Publisher realtime.Publisher
	Memory    *realtime.Memory      // single-process mode only
	Redis     redis.UniversalClient // *redis.Client or *redis.ClusterClient; nil in single-process mode

	locOnce   sync.Once
	locations *location.Store

	trackOnce sync.Once
	tracker   *track.Tracker

	outboxOnce sync.Once
	outbox     *realtime.Outbox
}

// Outbox is the process's one outbox on this broker: every change of the
// process (API, console, sweep, automatic accept) writes its frames through
// it, and the runner relays and purges with it. The first call's store wins
// (a process has one). Its Run (batched published marks) is started by web
// only; elsewhere each change marks its own frames.
func (b *Broker) Outbox(st *store.Store, log *slog.Logger) *realtime.Outbox {
	b.outboxOnce.Do(func() {
		b.outbox = &realtime.Outbox{Store: st, Publisher: b.Publisher, Log: log}
	})
	return b.outbox
}

// Tracker is the live tracking of the processes on this broker (place.md
// §6), hooked to its Locations: its index on the broker's Redis or cluster,
// or in memory (one per broker, like Locations). The first call's
// configuration and store win.
func (b *Broker) Tracker(cfg config.Config, st *store.Store, log *slog.Logger) *track.Tracker {
	b.trackOnce.Do(func() {
		locs := b.Locations(cfg, func() time.Time { return st.Now() })
		tc := track.Config{SampleEvery: cfg.TrackSample(), SampleMeters: cfg.TrackSampleMeters, Retention: cfg.TrackRetention()}
		b.tracker = track.New(st, locs, b.Publisher, b.Redis, brokerPrefix(cfg, b)+"place:", tc, log)
	})
	return b.tracker
}

// Locations is the current-location store of the processes on this broker
// (place.md §3): on its Redis or cluster (under the broker's prefix), or in
// memory without Redis (one per broker, so web and worker sharing an
// in-process broker share it too). The first call's configuration and clock win.
func (b *Broker) Locations(cfg config.Config, now func() time.Time) *location.Store {
	b.locOnce.Do(func() {
		if b.Redis != nil {
			b.locations = location.NewRedis(b.Redis, brokerPrefix(cfg, b)+"place:", cfg.LocationTTL(), now)
		} else {
			b.locations = location.NewMemory(cfg.LocationTTL(), now)
		}
		if b.Publisher != nil { // the workers holding placed sockets hear of moves (place.md §4)
			b.locations.Observe((&ws.Announcer{Publisher: b.Publisher, Log: slog.Default(), Now: b.locations.Now}).Observe)
		}
	})
	return b.locations
}

// brokerPrefix is the broker's key prefix (REDIS_PREFIX; tests give each broker its own).
func brokerPrefix(cfg config.Config, b *Broker) string {
	if p, ok := b.channelPrefix(); ok {
		return p
	}
	return cfg.RedisPrefix
}

// channelPrefix is the prefix of the broker's Redis channels (ok=false: no
// Redis publisher, e.g. the in-process broker or a test recorder).
func (b *Broker) channelPrefix() (string, bool) {
	if b == nil {
		return "", false
	}
	switch p := b.Publisher.(type) {
	case *realtime.RedisPublisher:
		return p.Prefix, true
	case *realtime.ClusterPublisher:
		return p.Prefix, true
	}
	return "", false
}

// OpenBroker connects the publishing side. A configured Redis or cluster is
// always used (never a silent fallback to the in-process broker).
func OpenBroker(cfg config.Config) (*Broker, error) {
	switch {
	case cfg.RedisURL != "" && cfg.RedisClusterURL != "":
		return nil, errors.New("REDIS_URL and REDIS_CLUSTER_URL are both set: set only one")
	case cfg.RedisClusterURL != "":
		c, err := realtime.OpenRedisCluster(cfg.RedisClusterURL)
		if err != nil {
			return nil, err
		}
		return &Broker{Publisher: &realtime.ClusterPublisher{Client: c, Prefix: cfg.RedisPrefix}, Redis: c}, nil
	case cfg.RedisURL != "":
		c, err := realtime.OpenRedis(cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		return &Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: cfg.RedisPrefix}, Redis: c}, nil
	default:
		m := realtime.NewMemory()
		return &Broker{Publisher: m, Memory: m}, nil
	}
}

// Close releases the broker's connections (the Redis client's pool, or the
// in-process broker). main defers it after the background loops stopped.
func (b *Broker) Close() error {
	switch {
	case b == nil:
		return nil
	case b.Redis != nil:
		return b.Redis.Close()
	case b.Memory != nil:
		return b.Memory.Close()
	}
	return nil
}

// Checks are the readiness checks of a process: the database, Redis when
// configured, and Clerk's keys once configured (a process that never loaded
// them refuses every token: not ready).
func Checks(st *store.Store, b *Broker, authn *auth.Authenticator) []serve.Check {
	checks := []serve.Check{{Name: "database", Ping: st.Ping}}
	if b != nil && b.Redis != nil {
		checks = append(checks, serve.Check{Name: "redis", Ping: func(ctx context.Context) error { return realtime.PingRedis(ctx, b.Redis) }})
	}
	if authn != nil && authn.KeysReady != nil {
		checks = append(checks, serve.Check{Name: "jwks", Ping: authn.KeysReady})
	}
	return checks
}

// StartBackground runs each of a process's background loops (the socket hub
// and its broker subscription, the relay/sweep runner, the socket-cap
// heartbeat, the Clerk key refresher) in one errgroup until ctx ends. stop
// ends them and returns once every one has returned: main calls it after
// Serve and before closing the store, so no loop outlives what it uses.
func StartBackground(ctx context.Context, loops ...func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var g errgroup.Group
	for _, run := range loops {
		g.Go(func() error {
			run(ctx)
			return nil
		})
	}
	return func() {
		cancel()
		_ = g.Wait()
	}
}

// SignalContext ends on SIGTERM or SIGINT.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// Serve runs h on cfg.Port until ctx ends (SIGTERM), then shuts down as
// docs/api.md's "Operations" says. First the drain (SHUTDOWN_DRAIN_SECONDS): the
// process keeps serving, /readyz answers 503 so the platform stops routing
// here, and every answer carries `Connection: close` so clients stop reusing
// their connections (a request a client writes on a kept-alive connection that
// the server closes as idle gets no answer: after the drain, no connection is
// left to be reused). Then the listener closes: a new connection gets a reset
// from the kernel before the process read anything, which a client retries
// safely. The connections accepted before it send their request and get their
// answer (net/http's Shutdown would read such a request and drop it without
// one, so it waits: firstRequestGrace at most for a connection that sent
// nothing). Then onShutdown runs (the worker closes its sockets with 1001) and
// in-flight requests finish within SHUTDOWN_TIMEOUT_SECONDS. Keep the
// process's background work (broker subscription, relay) running until Serve
// returns.
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger, h http.Handler, onShutdown ...func(context.Context)) error {
	if cfg.MetricsPort != 0 {
		h = hideMetrics(h)
	}
	var draining atomic.Bool
	h = drainHandler(h, &draining)
	fresh := newNewConns()
	srv := &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ConnState:         fresh.connState,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var msrv *http.Server
	if cfg.MetricsPort != 0 {
		msrv = &http.Server{Addr: net.JoinHostPort("", strconv.Itoa(cfg.MetricsPort)), Handler: metricsMux(), ReadHeaderTimeout: 10 * time.Second}
		mln, err := net.Listen("tcp", msrv.Addr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("listen for metrics on %s: %w", msrv.Addr, err)
		}
		log.Info("metrics listening (internal)", "addr", mln.Addr().String())
		mdone := make(chan struct{})
		go func() {
			defer close(mdone)
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "err", err)
			}
		}()
		// Closed last, whatever the way out, and waited for: Serve returns
		// with no goroutine of its own left running.
		defer func() {
			_ = msrv.Close()
			<-mdone
		}()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	draining.Store(true)
	if drain := cfg.ShutdownDrain(); drain > 0 {
		log.Info("shutdown requested: draining (readyz 503, Connection: close on every answer)", "drain", drain.String())
		select {
		case <-time.After(drain):
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down: listener closed, finishing accepted connections and in-flight requests", "timeout", cfg.ShutdownTimeout().String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout())
	defer cancel()
	// Serve returns once Accept fails: every connection accepted before has
	// been registered as new by then.
	_ = ln.Close()
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if n := fresh.wait(sctx, firstRequestGrace); n > 0 {
		log.Info("closed connections that sent no request", "connections", n)
	}
	for _, f := range onShutdown {
		f(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// drainHandler answers /readyz with 503 and closes every connection after its
// answer once draining is set (WebSocket upgrades excepted: they leave HTTP).
func drainHandler(h http.Handler, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !draining.Load() {
			h.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		if r.URL.Path == "/readyz" || r.URL.Path == "/readyz/" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "shutdown": "draining"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// metricsMux serves /metrics alone, on the internal METRICS_PORT.
func metricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	// Profiles only on the internal port, never on the public one.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// hideMetrics answers /metrics on the public port with the API's JSON 404
// when metrics have an internal port of their own.
func hideMetrics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" || r.URL.Path == "/metrics/" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(apperr.NewDetail(apperr.MsgNotFound))
			return
		}
		h.ServeHTTP(w, r)
	})
}
