package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/location"
	"hermez/pkg/serve"
	"hermez/pkg/throttle"
	"hermez/pkg/view"
)

// MsgLocationUnavailable is the 503 of the location route while its store is away.
const MsgLocationUnavailable = "El servicio de ubicación no está disponible; intente de nuevo en unos segundos."

// locationJSON is the answer of POST me/location/: the caller's current location.
type locationJSON struct {
	Latitude   float64   `json:"latitude"`
	Longitude  float64   `json:"longitude"`
	RecordedAt view.Time `json:"recorded_at"`
}

// postLocation is POST me/location/ (place.md §3): 200 with the current
// location (the update, or the last kept one when the update is not newer),
// 400 field errors, 429 within a second of the last kept one, 503 when the
// store is away. Nothing here touches PostgreSQL.
func (a *API) postLocation(c echo.Context) error {
	if a.Locations == nil {
		return apperr.New(apperr.Unavailable, MsgLocationUnavailable)
	}
	b, err := body(c)
	if err != nil {
		location.Count("http", location.Result{}, true, nil)
		return err
	}
	loc, err := location.Parse(b, a.Locations.Now(), a.Locations.TTL())
	if err != nil {
		location.Count("http", location.Result{}, true, nil)
		return err
	}
	loc.Available = CurrentUser(c).AvailableDriver() // a hint: the store's mark wins (app marks every change)
	r, err := a.Locations.Set(c.Request().Context(), me(c), loc)
	location.Count("http", r, false, err)
	if err != nil {
		e := apperr.New(apperr.Unavailable, MsgLocationUnavailable)
		e.Err = err
		return e
	}
	if r.Outcome == location.TooSoon {
		return serve.Throttled(c, throttle.Decision{RetryAfter: r.RetryAfter})
	}
	return c.JSON(http.StatusOK, locationJSON{Latitude: r.Last.Latitude, Longitude: r.Last.Longitude, RecordedAt: view.Time(r.Last.RecordedAt)})
}
