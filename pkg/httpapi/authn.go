package httpapi

import (
	"github.com/labstack/echo/v4"

	"hermez/pkg/auth"
	"hermez/pkg/serve"
	"hermez/pkg/store"
)

const userKey = "hermez.user"

// RequireUser authenticates the request (401 JSON with WWW-Authenticate on any
// failure) and stores the caller for CurrentUser.
func RequireUser(a *auth.Authenticator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, err := a.Authenticate(c.Request().Context(), serve.BearerToken(c.Request().Header.Get(echo.HeaderAuthorization)))
			if err != nil {
				return err
			}
			c.Set(userKey, u)
			return next(c)
		}
	}
}

// RefuseSuspended answers 403 {"detail": "Tu cuenta está suspendida: …"} to
// a suspended caller (console.md "Acting"): their token authenticates, and
// authorizes nothing. Install it after RequireUser (and the write throttle,
// which counts their writes like anyone's).
func RefuseSuspended(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := auth.Suspended(CurrentUser(c)); err != nil {
			return err
		}
		return next(c)
	}
}

// CurrentUser is the authenticated caller (set by RequireUser).
func CurrentUser(c echo.Context) *store.User {
	u, _ := c.Get(userKey).(*store.User)
	return u
}
