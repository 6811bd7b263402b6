package app

import (
	"context"
	"log/slog"
	"net/http"

	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/httpapi"
	"hermez/pkg/openapi"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Web is the assembled web process.
type Web struct {
	Handler http.Handler
	Auth    *auth.Authenticator
	Dev     *auth.DevIssuer
	Outbox  *realtime.Outbox
	Broker  *Broker
	// Background runs what the web process runs besides HTTP (in single-process
	// mode: the socket hub, the sweeper and the relay) until ctx ends.
	Background []func(ctx context.Context)
	// OnShutdown runs before the HTTP server drains (closes sockets with 1001).
	OnShutdown []func(ctx context.Context)
}

// BuildWeb wires the web process on an opened store and broker. Tests use it
// with httptest; cmd/web serves it.
func BuildWeb(ctx context.Context, cfg config.Config, log *slog.Logger, st *store.Store, broker *Broker) (*Web, error) {
	authn, dev, err := Authenticator(ctx, cfg, st, log)
	if err != nil {
		return nil, err
	}
	outbox := &realtime.Outbox{Store: st, Publisher: broker.Publisher, Log: log}
	e := httpapi.New(httpapi.Deps{Config: cfg, Store: st, Auth: authn, Outbox: outbox, Log: log,
		Checks: Checks(st, broker), DevIssuer: dev})
	openapi.Register(e)
	return &Web{Handler: e, Auth: authn, Dev: dev, Outbox: outbox, Broker: broker}, nil
}
