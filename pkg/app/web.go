package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/console"
	"hermez/pkg/consoleweb"
	"hermez/pkg/httpapi"
	"hermez/pkg/market"
	"hermez/pkg/nearby"
	"hermez/pkg/openapi"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
	"hermez/pkg/ws"
)

// Web is the assembled web process.
type Web struct {
	Handler http.Handler
	Auth    *auth.Authenticator
	Dev     *auth.DevIssuer
	Outbox  *realtime.Outbox
	Market  *market.Service
	Broker  *Broker
	Account *account.Service
	// Background are the loops the web process runs besides HTTP until ctx
	// ends (app.StartBackground): the outbox's published marks, the Clerk key refresher; with the sockets
	// served here the hub and the socket-cap heartbeat; in single-process mode
	// the relay/sweep runner too.
	Background []func(ctx context.Context)
	// OnShutdown runs before the HTTP server drains (closes sockets with 1001).
	OnShutdown []func(ctx context.Context)
	// Hub exists when web serves the sockets itself (no WORKER_URL); Runner
	// in single-process mode only (no REDIS_URL): the relay/sweep loop runs
	// here. Set Runner.Sweep before starting Background.
	Hub    *ws.Hub
	Runner *Runner
}

// BuildWeb wires the web process on an opened store and broker. Tests use it
// with httptest; cmd/web serves it.
func BuildWeb(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker) (*Web, error) {
	view.SetTripSpeed(cfg.TripSpeedKmh) // the estimated_minutes of every Quote and Delivery rendered here
	authn, dev, err := Authenticator(ctx, cfg, st, log)
	if err != nil {
		return nil, err
	}
	outbox := broker.Outbox(st, log)
	mkt := NewMarket(cfg, log, st, outbox)
	acct := account.New(st, outbox, log)
	locs := broker.Locations(cfg, func() time.Time { return st.Now() })
	trk := broker.Tracker(cfg, st, log)
	mkt.Tracking = trk
	acct.OnDelete = forgetLocation(mkt.RemoveUserMarketplace, locs, log)
	acct.OnSuspend = forgetLocation(mkt.RemoveUserMarketplace, locs, log) // a suspended user's location goes like a deleted one's
	marks := markAvailability(st, locs, log)
	acct.UserChanged = func(ids ...string) {
		authn.Forget(ids...)
		marks(ids...)
	}
	mkt.Nearby = &nearby.Counter{Locations: locs, RadiusKm: cfg.QuoteRadiusKm, Log: log}
	lim := newLimits(cfg, broker, log)
	e := httpapi.New(httpapi.Deps{Config: cfg, Store: st, Auth: authn, Outbox: outbox, Log: log,
		Checks: Checks(st, broker, authn), DevIssuer: dev, Market: mkt, Account: acct, Throttles: lim.http,
		Locations: locs, Tracker: trk})
	if _, err := consoleweb.Register(e, consoleweb.Deps{Config: cfg, Store: st, Log: log, Market: mkt, Account: acct,
		Console: console.New(st), Redis: lim.redis, RedisPrefix: lim.prefix}); err != nil {
		return nil, err
	}
	openapi.Register(e)
	w := &Web{Handler: e, Auth: authn, Dev: dev, Outbox: outbox, Market: mkt, Account: acct, Broker: broker}
	w.Background = append(w.Background, outbox.Run, trk.Run) // the published marks, batched; live tracking
	if authn.Refresh != nil {
		w.Background = append(w.Background, authn.Refresh)
	}
	if err := w.mountSockets(e, cfg, log, st, lim.sockets); err != nil {
		return nil, err
	}
	if w.Hub == nil && broker != nil && broker.Redis != nil {
		// No hub here (the worker serves the sockets): listen to the control
		// frames anyway, so another instance's suspensions reach this cache at once.
		sub, err := broker.Subscriber(log)
		if err != nil {
			return nil, err
		}
		w.Background = append(w.Background, watchControl(sub, authn, log))
	}
	if w.Runner != nil {
		w.Runner.Sweep = Sweep(mkt, log)
		w.Runner.AutoAccept = AutoAccept(mkt)
	}
	return w, nil
}
