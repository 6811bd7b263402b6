package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/throttle"
	"hermez/pkg/ws"
)

// Throttles are the request throttles of api.md ("Throttling"); a nil
// limiter is off.
type Throttles struct {
	UserWrites *throttle.Limiter // authenticated POST/PUT/PATCH/DELETE per user
	Quotes     *throttle.Limiter // quote creation per user
	Anon       *throttle.Limiter // requests without a valid token, per client IP
}

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
		t, _ := ws.Token(r)
		return t
	}
	return BearerToken(r.Header.Get(echo.HeaderAuthorization))
}

// AnonThrottle counts, per client IP, every request that does not carry a
// valid token — refused ones included, so guessing tokens is throttled too —
// and refuses them over the limit. CORS preflights and anonExempt paths pass.
// A valid token is checked by the verifier alone (its cache makes the check
// the route then repeats free).
//
// With forwardedSockets (web with WORKER_URL) /ws/ requests are left to the
// worker, where socket handshakes count.
func AnonThrottle(l *throttle.Limiter, v *auth.Verifier, forwardedSockets bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if l == nil || l.Rate.Disabled() {
			return next
		}
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method == http.MethodOptions || anonExempt[r.URL.Path] || forwardedSockets && strings.HasPrefix(r.URL.Path, "/ws/") {
				return next(c)
			}
			if tok := RequestToken(r); tok != "" && v != nil {
				if _, err := v.Verify(r.Context(), tok); err == nil {
					return next(c)
				}
			}
			if d := l.Allow(r.Context(), c.RealIP()); !d.Allowed {
				return Throttled(c, d)
			}
			return next(c)
		}
	}
}

// isWrite tells whether the method changes something.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// UserThrottle refuses the authenticated caller's request over l; with
// writesOnly it counts only POST/PUT/PATCH/DELETE. Install it after RequireUser.
func UserThrottle(l *throttle.Limiter, writesOnly bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if l == nil || l.Rate.Disabled() {
			return next
		}
		return func(c echo.Context) error {
			u := CurrentUser(c)
			if u == nil || (writesOnly && !isWrite(c.Request().Method)) {
				return next(c)
			}
			if d := l.Allow(c.Request().Context(), u.UserID); !d.Allowed {
				return Throttled(c, d)
			}
			return next(c)
		}
	}
}
