package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"hermez/pkg/serve"
	"hermez/pkg/throttle"
)

// Throttles are the request throttles of docs/api.md ("Throttling"); a nil
// limiter is off.
type Throttles struct {
	UserWrites *throttle.Limiter // authenticated POST/PUT/PATCH/DELETE per user
	Quotes     *throttle.Limiter // quote creation per user
	Anon       *throttle.Limiter // requests without a valid token, per client IP
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
				return serve.Throttled(c, d)
			}
			return next(c)
		}
	}
}
