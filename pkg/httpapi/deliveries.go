package httpapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/market"
	"hermez/pkg/store"
)

// deliveryRoutes registers /deliveries/api/… (api.md "Deliveries"). Methods a
// path does not list answer 405 with an Allow header (Echo's router); deliveries
// themselves are only read here: they are born from an accepted offer.
func (a *API) deliveryRoutes(g *echo.Group) {
	g.GET("/categories/", a.listCategories, a.authed)
	g.POST("/categories/", a.createCategory, a.authed)
	g.GET("/categories/:id/", a.getCategory, a.authed)
	g.PUT("/categories/:id/", a.updateCategory(false), a.authed)
	g.PATCH("/categories/:id/", a.updateCategory(true), a.authed)
	g.DELETE("/categories/:id/", a.deleteCategory, a.authed)

	g.GET("/quotes/", a.listQuotes, a.authed)
	g.POST("/quotes/", a.createQuote, a.authed, UserThrottle(a.Throttles.Quotes, false))
	g.GET("/quotes/:id/", byID(http.StatusOK, a.Market.GetQuote), a.authed)
	g.PUT("/quotes/:id/", a.updateQuote(false), a.authed)
	g.PATCH("/quotes/:id/", a.updateQuote(true), a.authed)
	g.DELETE("/quotes/:id/", a.deleteQuote, a.authed)
	g.GET("/quotes/:id/offers/", a.listQuoteOffers, a.authed)
	g.POST("/quotes/:id/offers/", a.makeOffer, a.authed)
	g.POST("/quotes/:id/cancel/", byID(http.StatusOK, a.Market.CancelQuote), a.authed)
	g.POST("/quotes/:id/extend-expiration/", a.extendQuote, a.authed)

	g.GET("/offers/", a.listOffers, a.authed)
	g.GET("/offers/:id/", byID(http.StatusOK, a.Market.GetOffer), a.authed)
	g.POST("/offers/:id/accept/", byID(http.StatusCreated, a.Market.AcceptOffer), a.authed)
	g.POST("/offers/:id/reject/", byID(http.StatusOK, a.Market.RejectOffer), a.authed)

	g.GET("/", a.listDeliveries, a.authed)
	g.GET("/:id/", byID(http.StatusOK, a.Market.GetDelivery), a.authed)
	g.GET("/:id/history/", byID(http.StatusOK, a.Market.DeliveryHistory), a.authed)
	g.POST("/:id/change_status/", byID(http.StatusOK, a.Market.ChangeStatus), a.authed)
	g.POST("/:id/cancel/", byID(http.StatusOK, a.Market.CancelDelivery), a.authed)
}

// pathID reads a UUID path parameter; anything else is 404.
func pathID(c echo.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, apperr.NotFoundErr()
	}
	return id, nil
}

// byID is the handler of a route that only names a resource: it reads the
// :id path parameter (malformed: 404), calls fn for the caller and renders
// its result with status.
func byID[T any](status int, fn func(context.Context, *store.User, uuid.UUID) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		v, err := fn(c.Request().Context(), CurrentUser(c), id)
		return ok(c, status, v, err)
	}
}

// ok renders v with status, or the error.
func ok(c echo.Context, status int, v any, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(status, v)
}

func (a *API) listCategories(c echo.Context) error {
	v, err := a.Market.ListCategories(c.Request().Context())
	return ok(c, http.StatusOK, v, err)
}

func (a *API) getCategory(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	v, err := a.Market.GetCategory(c.Request().Context(), id)
	return ok(c, http.StatusOK, v, err)
}

func (a *API) createCategory(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	v, err := a.Market.CreateCategory(c.Request().Context(), CurrentUser(c), b)
	return ok(c, http.StatusCreated, v, err)
}

func (a *API) updateCategory(partial bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		b, err := body(c)
		if err != nil {
			return err
		}
		v, err := a.Market.UpdateCategory(c.Request().Context(), CurrentUser(c), id, b, partial)
		return ok(c, http.StatusOK, v, err)
	}
}

func (a *API) deleteCategory(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.Market.DeleteCategory(c.Request().Context(), CurrentUser(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) listQuotes(c echo.Context) error {
	v, err := a.Market.ListQuotes(c.Request().Context(), CurrentUser(c), c.QueryParam("status"), page(c))
	return ok(c, http.StatusOK, v, err)
}

func (a *API) createQuote(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	v, err := a.Market.CreateQuote(c.Request().Context(), CurrentUser(c), b)
	return ok(c, http.StatusCreated, v, err)
}

func (a *API) updateQuote(partial bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		b, err := body(c)
		if err != nil {
			return err
		}
		v, err := a.Market.UpdateQuote(c.Request().Context(), CurrentUser(c), id, b, partial)
		return ok(c, http.StatusOK, v, err)
	}
}

func (a *API) deleteQuote(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if _, err := a.Market.CancelQuote(c.Request().Context(), CurrentUser(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) extendQuote(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := body(c)
	if err != nil {
		return err
	}
	v, err := a.Market.ExtendQuote(c.Request().Context(), CurrentUser(c), id, b)
	return ok(c, http.StatusOK, v, err)
}

func (a *API) listQuoteOffers(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	v, err := a.Market.ListQuoteOffers(c.Request().Context(), CurrentUser(c), id, c.QueryParam("status"))
	return ok(c, http.StatusOK, v, err)
}

func (a *API) makeOffer(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := body(c)
	if err != nil {
		return err
	}
	v, created, err := a.Market.MakeOffer(c.Request().Context(), CurrentUser(c), id, b)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return ok(c, status, v, err)
}

func (a *API) listOffers(c echo.Context) error {
	v, err := a.Market.ListOffers(c.Request().Context(), CurrentUser(c), c.QueryParam("status"), page(c))
	return ok(c, http.StatusOK, v, err)
}

func (a *API) listDeliveries(c echo.Context) error {
	f := market.DeliveryFilter{FilterBy: c.QueryParam("filter_by"), Status: c.QueryParam("status"),
		PaymentMethod: c.QueryParam("payment_method"), Month: c.QueryParam("month"), Year: c.QueryParam("year")}
	v, err := a.Market.ListDeliveries(c.Request().Context(), CurrentUser(c), f, page(c))
	return ok(c, http.StatusOK, v, err)
}
