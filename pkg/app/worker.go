package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/serve"
	"hermez/pkg/store"
	"hermez/pkg/throttle"
	"hermez/pkg/view"
	"hermez/pkg/ws"
)

// Worker is the assembled realtime process: the socket routes over a hub fed
// by the broker, and the relay/sweep runner.
type Worker struct {
	Handler http.Handler
	Hub     *ws.Hub
	Runner  *Runner
	Auth    *auth.Authenticator
	Dev     *auth.DevIssuer
	// Background are the loops run until ctx ends (app.StartBackground): the
	// hub and its broker subscription, the runner, the socket-cap heartbeat,
	// the Clerk key refresher.
	Background []func(ctx context.Context)
	// OnShutdown closes the sockets with 1001 within the drain deadline.
	OnShutdown []func(ctx context.Context)
}

// WorkerOptions adjust BuildWorker.
type WorkerOptions struct {
	// Sweep is the expiry sweep ((*market.Service).Expire adapted); nil: none.
	Sweep func(ctx context.Context) error
	// AutoAccept runs the due automatic accepts (AutoAcceptJob); nil: none.
	AutoAccept func(ctx context.Context) error
	// Subscriber overrides the broker's subscriber (tests).
	Subscriber realtime.Subscriber
	// Socket tunes the hub (tests shorten pings and queues).
	Socket ws.Options
}

// BuildWorker wires the worker on an opened store and broker (Redis in
// production; the in-process broker works too).
func BuildWorker(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker, o WorkerOptions) (*Worker, error) {
	view.SetTripSpeed(cfg.TripSpeedKmh) // the estimated_minutes of every Quote and Delivery rendered here
	authn, dev, err := Authenticator(ctx, cfg, st, log)
	if err != nil {
		return nil, err
	}
	sub := o.Subscriber
	if sub == nil {
		sub, err = broker.Subscriber(log)
		if err != nil {
			return nil, err
		}
	}
	e := echo.New()
	// No Host check: browsers reach the worker at its own public host, and
	// forwarded upgrades carry the worker's host; sockets authenticate by token.
	lim := newLimits(cfg, broker, log)
	serve.Common(e, log, serve.CommonOptions{TrustedProxyHops: cfg.TrustedProxyHops},
		serve.AnonThrottle(lim.http.Anon, authn.Verifier.Valid, false)) // socket handshakes count here
	hub, runHub := mountHub(e, cfg, log, st, broker, sub, authn, lim.sockets, o.Socket)
	checks := []serve.Check{{Name: "database", Ping: st.Ping}, {Name: "redis", Ping: hub.Ping}}
	if authn.KeysReady != nil {
		checks = append(checks, serve.Check{Name: "jwks", Ping: authn.KeysReady})
	}
	serve.Health(e, checks...)
	runner := NewRunner(cfg, log, st, broker, o.Sweep)
	runner.AutoAccept = o.AutoAccept
	w := &Worker{Handler: e, Hub: hub, Runner: runner, Auth: authn, Dev: dev}
	w.Background = []func(context.Context){runHub, runner.Run, lim.sockets.Run, broker.Tracker(cfg, st, log).Run}
	if authn.Refresh != nil {
		w.Background = append(w.Background, authn.Refresh)
	}
	w.OnShutdown = []func(context.Context){hub.Shutdown}
	return w, nil
}

// mountHub is the socket side of a process, assembled in one place for the
// worker and for a web that serves its sockets itself: a hub fed by sub (the
// users' locations on the broker, deleted and suspended users watched), the
// socket routes on e, and the loop that runs the hub until ctx ends.
func mountHub(e *echo.Echo, cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker, sub realtime.Subscriber,
	authn *auth.Authenticator, sockets *throttle.Sockets, o ws.Options) (*ws.Hub, func(context.Context)) {
	hub := ws.NewHub(sub, log, o)
	hub.Locations = broker.Locations(cfg, func() time.Time { return st.Now() })
	watchDeletedUsers(hub, authn, st, log)
	(&ws.Server{Hub: hub, Auth: authn, Store: st, Log: log, Cap: sockets, Tracker: broker.Tracker(cfg, st, log),
		Nearby: NearbyCounter(cfg, log, st, broker), RadiusKm: cfg.QuoteRadiusKm}).Routes(e)
	return hub, func(ctx context.Context) {
		if err := hub.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("broker subscription ended", "err", err)
		}
	}
}

// NewRunner builds the relay/sweep runner of a process.
func NewRunner(cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker, sweep func(context.Context) error) *Runner {
	outbox := broker.Outbox(st, log)
	return &Runner{
		Outbox:     outbox,
		SweepEvery: cfg.ExpireInterval(),
		Sweep:      sweep,
		Purge:      PurgeWith(account.New(st, nil, log), outbox, log, cfg.TrackRetention()),
		Lock:       newLocker(st, broker.Redis, cfg.RedisPrefix+"runner-lock", cfg.RunnerLease()),
		Log:        log,
		// place.md §5: one loop across processes (under the lease above).
		Nearby:      NearbyJob(NearbyCounter(cfg, log, st, broker), st, broker.Publisher),
		NearbyEvery: cfg.NearbyInterval(),
	}
}

// Subscriber is the receiving side of the broker: a Redis subscription, or the
// in-process broker itself.
func (b *Broker) Subscriber(log *slog.Logger) (realtime.Subscriber, error) {
	switch {
	case b.Memory != nil:
		return b.Memory, nil
	case b.Redis != nil:
		prefix, _ := b.channelPrefix()
		switch c := b.Redis.(type) {
		case *redis.ClusterClient:
			return realtime.NewClusterSubscriber(c, prefix, log), nil
		case *redis.Client:
			return realtime.NewRedisSubscriber(c, prefix, log), nil
		default:
			return nil, fmt.Errorf("unsupported Redis client %T", b.Redis)
		}
	default:
		return nil, fmt.Errorf("no broker to subscribe to")
	}
}

// WorkerProxy forwards /ws/ requests, upgrades included, to the worker at
// target (`http://host:port`, `https://…` or Render's bare `host:port`).
func WorkerProxy(target string, log *slog.Logger) (http.Handler, error) {
	t := strings.TrimSpace(target)
	if !strings.Contains(t, "://") {
		t = "http://" + t
	}
	u, err := url.Parse(t)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("WORKER_URL %q is not http://host:port or host:port", target)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			// forwardClientIP put the client's address (the web's client-IP
			// rule) in X-Forwarded-For: the worker, with the same
			// TRUSTED_PROXY_HOPS, reads it as the last entry, not this hop.
			if ip := pr.In.Header.Get(echo.HeaderXForwardedFor); ip != "" {
				pr.Out.Header.Set(echo.HeaderXForwardedFor, ip)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Error("forward socket to worker", "path", r.URL.Path, "err", err)
			msg := "El servicio de tiempo real no está disponible."
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(apperr.NewDetail(msg))
		},
	}, nil
}

// forwardClientIP hands the client's address, as this process's client-IP
// rule found it, to the worker (see WorkerProxy's Rewrite).
func forwardClientIP(proxy http.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().Header.Set(echo.HeaderXForwardedFor, c.RealIP())
		proxy.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// mountSockets adds the socket side to the web process: forwarding to
// WORKER_URL when set; else the sockets are served here over the process's
// broker (docs/config.md), and in single-process mode (the in-process broker) the
// relay/sweep runner runs here too (with Redis, the worker runs it).
func (w *Web) mountSockets(e *echo.Echo, cfg config.Config, log *slog.Logger, st *store.Store, sockets *throttle.Sockets) error {
	if cfg.WorkerURL != "" {
		proxy, err := WorkerProxy(cfg.WorkerURL, log)
		if err != nil {
			return err
		}
		e.Any("/ws/*", forwardClientIP(proxy))
		return nil
	}
	if w.Broker == nil || (w.Broker.Memory == nil && w.Broker.Redis == nil) {
		return nil // a publisher only (tests)
	}
	sub, err := w.Broker.Subscriber(log)
	if err != nil {
		return err
	}
	hub, runHub := mountHub(e, cfg, log, st, w.Broker, sub, w.Auth, sockets, ws.Options{})
	w.Hub = hub
	w.Background = append(w.Background, sockets.Run, runHub)
	w.OnShutdown = append(w.OnShutdown, hub.Shutdown)
	if w.Broker.Memory != nil {
		w.Runner = NewRunner(cfg, log, st, w.Broker, nil)
		w.Background = append(w.Background, w.Runner.Run)
	}
	return nil
}
