package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// userRoutes registers /user/api/… (issue 2).
func (a *API) userRoutes(g *echo.Group) {
	g.GET("/me/", a.listMe, a.authed)
}

// webhookRoutes registers /user/webhooks/… (issue 2).
func (a *API) webhookRoutes(g *echo.Group) {}

// listMe answers [User]: a one-element list with the caller.
func (a *API) listMe(c echo.Context) error {
	me := CurrentUser(c)
	var u store.User
	if err := store.PreloadUser(a.Store.DB.WithContext(c.Request().Context()), "").Where("userid = ?", me.UserID).Take(&u).Error; err != nil {
		return apperr.Wrap(err, "load caller")
	}
	if err := store.LoadRatings(a.Store.DB.WithContext(c.Request().Context()), &u); err != nil {
		return apperr.Wrap(err, "load caller ratings")
	}
	return c.JSON(http.StatusOK, []*view.User{view.NewUser(&u, me.UserID)})
}
