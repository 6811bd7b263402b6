// Package httpapi is the HTTP API of the web process: Echo routes and thin
// handlers that decode, call a business service, render a view and map errors.
package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"hermez/pkg/account"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/input"
	"hermez/pkg/location"
	"hermez/pkg/market"
	"hermez/pkg/realtime"
	"hermez/pkg/serve"
	"hermez/pkg/store"
	"hermez/pkg/track"
)

// Deps is what the handlers need.
type Deps struct {
	Config config.Config
	Store  *store.Store
	Auth   *auth.Authenticator
	Outbox *realtime.Outbox
	Log    *slog.Logger
	// Account is the users/addresses/vehicles/ratings service; built from
	// Store and Outbox when nil.
	Account *account.Service
	// Checks are the readiness dependencies (database, Redis).
	Checks []serve.Check
	// DevIssuer, when set, serves its JWKS at /.well-known/jwks.json.
	DevIssuer *auth.DevIssuer
	// Market runs the marketplace rules; the marketplace routes need it
	// (pkg/app builds it with the configured settings).
	Market *market.Service
	// Throttles are the request throttles (zero value: none).
	Throttles Throttles
	// Locations keeps users' current locations (nil: the route answers 503).
	Locations *location.Store
	// Tracker is live tracking (place.md §6): driver_location on the
	// deliveries read by their client and driver, and the trails (nil: none).
	Tracker *track.Tracker
}

// New builds the web process's Echo with every API route.
func New(d Deps) *echo.Echo {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	e := echo.New()
	var valid func(context.Context, string) bool
	if d.Auth != nil {
		valid = d.Auth.Verifier.Valid
	}
	serve.Common(e, d.Log, serve.CommonOptions{DeploymentHost: d.Config.DeploymentHost, TrustedProxyHops: d.Config.TrustedProxyHops},
		serve.CORS(d.Config.CORSAllowedOrigins),
		serve.AnonThrottle(d.Throttles.Anon, valid, d.Config.WorkerURL != ""),
		// Not as the groups' middleware: Echo then answers 404 for a method a
		// route does not allow, instead of 405.
		finishAPIWithoutClient)
	serve.Health(e, d.Checks...)
	if d.DevIssuer != nil {
		jwks := d.DevIssuer.JWKS()
		e.GET("/.well-known/jwks.json", func(c echo.Context) error {
			return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, jwks)
		})
	}
	if d.Account == nil {
		d.Account = account.New(d.Store, d.Outbox, d.Log)
	}
	api := &API{Deps: d}
	if wh, err := auth.NewWebhookVerifier(d.Config.ClerkWebhookSecret); err == nil {
		api.webhook = wh
	} else if !errors.Is(err, auth.ErrWebhookNotConfigured) {
		d.Log.Error("Clerk webhook disabled: bad CLERK_WEBHOOK_SIGNING_SECRET", "err", err)
	}
	api.routes(e)
	return e
}

// API holds the handlers' dependencies.
type API struct {
	Deps
	// authed is the authentication middleware; pass it to each route (not to
	// the group: a group middleware would turn unknown paths into 401s).
	authed echo.MiddlewareFunc
	// webhook verifies Clerk's Svix signatures (nil: no secret, 503).
	webhook *auth.WebhookVerifier
	// categoriesBody is GET categories/'s answer, rendered once per catalog load.
	categoriesBody renderedList
}

func (a *API) routes(e *echo.Echo) {
	writes := UserThrottle(a.Throttles.UserWrites, true)
	requireUser := RequireUser(a.Auth)
	a.authed = func(next echo.HandlerFunc) echo.HandlerFunc { return requireUser(writes(RefuseSuspended(next))) }
	a.userRoutes(routeGroup{e.Group("/user/api")})
	a.webhookRoutes(routeGroup{e.Group("/user/webhooks")})
	a.deliveryRoutes(routeGroup{e.Group("/deliveries/api")})
}

// routeGroup registers routes with their middleware applied once, when the
// route is registered: Echo applies a route's middleware around its handler
// for every request (a closure per middleware per request; issue 23 §2).
type routeGroup struct{ g *echo.Group }

func (r routeGroup) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.g.GET(path, withMiddleware(h, m))
}

func (r routeGroup) POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.g.POST(path, withMiddleware(h, m))
}

func (r routeGroup) PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.g.PUT(path, withMiddleware(h, m))
}

func (r routeGroup) PATCH(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.g.PATCH(path, withMiddleware(h, m))
}

func (r routeGroup) DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.g.DELETE(path, withMiddleware(h, m))
}

// withMiddleware is h inside m, m[0] outermost (Echo's order).
func withMiddleware(h echo.HandlerFunc, m []echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(m) - 1; i >= 0; i-- {
		h = m[i](h)
	}
	return h
}

// finishAPIWithoutClient is FinishWithoutClient on the API's paths (the
// console and the sockets share the Echo instance).
func finishAPIWithoutClient(next echo.HandlerFunc) echo.HandlerFunc {
	detached := FinishWithoutClient(next)
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		if strings.HasPrefix(p, "/user/api/") || strings.HasPrefix(p, "/user/webhooks/") || strings.HasPrefix(p, "/deliveries/api/") {
			return detached(c)
		}
		return next(c)
	}
}

// WorkTimeout bounds an API request's work once it no longer depends on its
// client (FinishWithoutClient).
const WorkTimeout = 30 * time.Second

// FinishWithoutClient runs an API request under a context that its client
// hanging up does not cancel, bounded by WorkTimeout. A cancellation that
// reaches the database driver mid-statement makes it drop the connection and
// the pool dial a new one: clients hanging up by the hundreds per second kept
// PostgreSQL forking backends and starved the clients that wait (13 answers
// in 3 s for 6 waiting clients beside 6 hanging up, in
// TestClientsHangingUpDoNotHurtOthers). A request's work is milliseconds;
// finishing it costs less than cutting it short, and its transaction either
// commits or rolls back whole, as when the hang-up comes a moment later.
func FinishWithoutClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), WorkTimeout)
		defer cancel()
		// The error handler and the request log run after this returns: they
		// see the request as it came (its context tells whether the client left).
		defer c.SetRequest(r)
		c.SetRequest(r.WithContext(ctx))
		return next(c)
	}
}

// body reads the request body as an input.Body (400 on malformed JSON).
func body(c echo.Context) (input.Body, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err
	}
	return input.Decode(b)
}
