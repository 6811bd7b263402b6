package serve

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/throttle"
)

// Throttled is the 429 of a refused request: Retry-After and DRF's body.
func Throttled(c echo.Context, d throttle.Decision) error {
	wait := throttle.WaitSeconds(d.RetryAfter)
	c.Response().Header().Set("Retry-After", strconv.Itoa(wait))
	return apperr.New(apperr.Throttled, throttle.Message(wait))
}

// anonExempt are never counted as anonymous: the platform's probes, metrics
// and Clerk's webhook (signed; Svix retries would be refused otherwise).
var anonExempt = map[string]bool{
	"/healthz": true, "/readyz": true, "/metrics": true, "/metrics/": true,
	"/user/webhooks/clerk/": true, "/user/webhooks/clerk": true,
}

// RequestToken is the token a request carries: the socket ways for /ws/
// (subprotocol, query, header), the Authorization header elsewhere.
func RequestToken(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/ws/") {
		t, _ := SocketToken(r)
		return t
	}
	return BearerToken(r.Header.Get(echo.HeaderAuthorization))
}

// AnonThrottle counts, per client IP, every request that does not carry a
// valid token — refused ones included, so guessing tokens is throttled too —
// and refuses them over the limit. CORS preflights and anonExempt paths pass.
// A token is valid when valid(ctx, token) says so (the verifier alone, whose
// cache makes the check the route then repeats free); nil: none is.
//
// With forwardedSockets (web with WORKER_URL) /ws/ requests are left to the
// worker, where socket handshakes count.
func AnonThrottle(l *throttle.Limiter, valid func(ctx context.Context, token string) bool, forwardedSockets bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if l == nil || l.Rate.Disabled() {
			return next
		}
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method == http.MethodOptions || anonExempt[r.URL.Path] || forwardedSockets && strings.HasPrefix(r.URL.Path, "/ws/") {
				return next(c)
			}
			if tok := RequestToken(r); tok != "" && valid != nil && valid(r.Context(), tok) {
				return next(c)
			}
			if d := l.Allow(r.Context(), c.RealIP()); !d.Allowed {
				return Throttled(c, d)
			}
			return next(c)
		}
	}
}
