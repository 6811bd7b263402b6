package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/serve"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// userRoutes registers /user/api/… (docs/api.md "Users").
func (a *API) userRoutes(g routeGroup) {
	au := a.authed
	g.GET("/me/", a.listMe, au)
	g.PATCH("/me/update/", a.updateMeMessage, au)
	g.POST("/me/toggle-availability/", a.toggleAvailability, au)
	g.POST("/me/set-availability/", a.setAvailability, au)
	g.POST("/me/set-current-vehicle/", a.setCurrentVehicle, au)
	g.GET("/me/ratings/", a.myRatings, au)
	// Not counted against THROTTLE_USER_WRITES: its own once-a-second rule.
	g.POST("/me/location/", a.postLocation, RequireUser(a.Auth))
	g.GET("/me/vehicle-types/", a.vehicleTypes, au)

	g.GET("/me/addresses/", a.listAddresses, au)
	g.POST("/me/addresses/", a.createAddress, au)
	g.GET("/me/addresses/:id/", a.getAddress, au)
	g.PUT("/me/addresses/:id/", a.updateAddress, au)
	g.PATCH("/me/addresses/:id/", a.updateAddress, au)
	g.DELETE("/me/addresses/:id/", a.deleteAddress, au)
	g.POST("/me/addresses/:id/add-favorite/", a.toggleFavorite, au)

	g.GET("/me/vehicles/", a.listVehicles, au)
	g.POST("/me/vehicles/", a.createVehicle, au)
	g.GET("/me/vehicles/:id/", a.getVehicle, au)
	g.PUT("/me/vehicles/:id/", a.updateVehicle, au)
	g.PATCH("/me/vehicles/:id/", a.updateVehicle, au)
	g.DELETE("/me/vehicles/:id/", a.deleteVehicle, au)

	g.GET("/me/:userid/", a.getMe, au)
	g.PUT("/me/:userid/", a.updateMe, au)
	g.PATCH("/me/:userid/", a.updateMe, au)
	g.DELETE("/me/:userid/", a.deleteMe, au)
	g.GET("/me/:userid/ratings/", a.userRatings, au)

	g.GET("/user-ratings/", a.listUserRatings, au)
	g.POST("/user-ratings/", a.createRating, au)
	g.GET("/user-ratings/:id/", a.getRating, au)
	g.PUT("/user-ratings/:id/", a.updateRating, au)
	g.PATCH("/user-ratings/:id/", a.updateRating, au)
	g.DELETE("/user-ratings/:id/", a.deleteRating, au)
}

// webhookRoutes registers /user/webhooks/… (no JWT: Svix signature).
func (a *API) webhookRoutes(g routeGroup) {
	g.POST("/clerk/", a.clerkWebhook)
}

// page reads the opt-in ?limit=&offset= (absent, empty or malformed: no paging).
func page(c echo.Context) store.Page {
	var p store.Page
	if n, err := strconv.Atoi(c.QueryParam("limit")); err == nil && n > 0 {
		p.Limit = n
	}
	if n, err := strconv.Atoi(c.QueryParam("offset")); err == nil && n > 0 {
		p.Offset = n
	}
	return p
}

func me(c echo.Context) string { return CurrentUser(c).UserID }

// reservedMe are the fixed segments under me/: another method on them falls
// into me/{userid}/ and must answer 405, not 403/404.
var reservedMe = map[string]string{
	"update": "PATCH, OPTIONS", "toggle-availability": "POST, OPTIONS", "set-availability": "POST, OPTIONS", "set-current-vehicle": "POST, OPTIONS",
	"ratings": "GET, HEAD, OPTIONS", "location": "POST, OPTIONS", "vehicle-types": "GET, HEAD, OPTIONS",
	"addresses": "GET, HEAD, POST, OPTIONS", "vehicles": "GET, HEAD, POST, OPTIONS",
}

// selfOnly guards me/{userid}/: a reserved segment → 405; another user's id → other.
func selfOnly(c echo.Context, other error) error {
	id := c.Param("userid")
	if allow, ok := reservedMe[id]; ok {
		c.Response().Header().Set(echo.HeaderAllow, allow)
		return echo.ErrMethodNotAllowed
	}
	if id != me(c) {
		return other
	}
	return nil
}

// --- profile ---

// listMe answers [User]: a one-element list with the caller.
func (a *API) listMe(c echo.Context) error {
	u, err := a.Account.Hydrate(c.Request().Context(), CurrentUser(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, []*view.User{view.NewUser(u, me(c))})
}

// getMe answers the caller; another id is a 404.
func (a *API) getMe(c echo.Context) error {
	if err := selfOnly(c, apperr.NotFoundErr()); err != nil {
		return err
	}
	u, err := a.Account.Hydrate(c.Request().Context(), CurrentUser(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewUser(u, me(c)))
}

// updateMe is PUT/PATCH me/{userid}/: a partial update of the caller (another id: 403).
func (a *API) updateMe(c echo.Context) error {
	if err := selfOnly(c, apperr.ForbiddenErr()); err != nil {
		return err
	}
	b, err := body(c)
	if err != nil {
		return err
	}
	u, err := a.Account.Update(c.Request().Context(), CurrentUser(c), decodeProfilePatch(b))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewUser(u, me(c)))
}

// updateMeMessage is PATCH me/update/.
func (a *API) updateMeMessage(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	if _, err := a.Account.Update(c.Request().Context(), CurrentUser(c), decodeProfilePatch(b)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"message": "User " + me(c) + " updated successfully"})
}

// deleteMe deletes the caller's profile (another id: 403) → 204.
func (a *API) deleteMe(c echo.Context) error {
	if err := selfOnly(c, apperr.ForbiddenErr()); err != nil {
		return err
	}
	if err := a.Account.DeleteProfile(c.Request().Context(), CurrentUser(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) toggleAvailability(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	set, err := decodeAvailability(b)
	if err != nil {
		return err
	}
	v, err := a.Account.ToggleAvailability(c.Request().Context(), CurrentUser(c), set)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"is_available": v})
}

// setAvailability sets is_available to the value sent (place.md §8): a set,
// unlike the toggle, cannot flip a busy driver back.
func (a *API) setAvailability(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	f := apperr.Fields{}
	set, _ := b.Bool("is_available", f, true)
	if err := f.Err(); err != nil {
		return err
	}
	v, err := a.Account.ToggleAvailability(c.Request().Context(), CurrentUser(c), &set)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"is_available": v})
}

func (a *API) setCurrentVehicle(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	vehicleID, err := decodeVehicleChoice(b)
	if err != nil {
		return err
	}
	id, err := a.Account.SetCurrentVehicle(c.Request().Context(), CurrentUser(c), vehicleID)
	if err != nil {
		return err
	}
	msg, vid := "Vehículo actual removido.", (*string)(nil)
	if id != nil {
		s := id.String()
		msg, vid = "Vehículo actual establecido.", &s
	}
	return c.JSON(http.StatusOK, struct {
		Message   string  `json:"message"`
		VehicleID *string `json:"vehicle_id"`
	}{msg, vid})
}

// --- ratings ---

func (a *API) renderRatings(c echo.Context, rs []store.Rating, err error) error {
	if err != nil {
		return err
	}
	out := make([]*view.Rating, len(rs))
	for i := range rs {
		out[i] = view.NewRating(&rs[i], me(c))
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) myRatings(c echo.Context) error {
	rs, err := a.Account.RatingsReceived(c.Request().Context(), me(c), page(c))
	return a.renderRatings(c, rs, err)
}

func (a *API) userRatings(c echo.Context) error {
	rs, err := a.Account.RatingsReceived(c.Request().Context(), c.Param("userid"), page(c))
	return a.renderRatings(c, rs, err)
}

func (a *API) listUserRatings(c echo.Context) error {
	rs, err := a.Account.RatingsOf(c.Request().Context(), CurrentUser(c), page(c))
	return a.renderRatings(c, rs, err)
}

func (a *API) getRating(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := a.Account.Rating(c.Request().Context(), CurrentUser(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewRating(r, me(c)))
}

func (a *API) createRating(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	r, err := a.Account.CreateRating(c.Request().Context(), CurrentUser(c), decodeRating(b, true))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, view.NewRating(r, me(c)))
}

func (a *API) updateRating(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := body(c)
	if err != nil {
		return err
	}
	r, err := a.Account.UpdateRating(c.Request().Context(), CurrentUser(c), id, decodeRating(b, false))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewRating(r, me(c)))
}

func (a *API) deleteRating(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.Account.DeleteRating(c.Request().Context(), CurrentUser(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- addresses ---

func (a *API) listAddresses(c echo.Context) error {
	as, err := a.Account.Addresses(c.Request().Context(), CurrentUser(c), page(c))
	if err != nil {
		return err
	}
	out := make([]*view.Address, len(as))
	for i := range as {
		out[i] = view.NewAddress(&as[i])
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) createAddress(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	ad, err := a.Account.CreateAddress(c.Request().Context(), CurrentUser(c), decodeAddress(b, true))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, view.NewAddress(ad))
}

func (a *API) getAddress(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ad, err := a.Account.Address(c.Request().Context(), CurrentUser(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewAddress(ad))
}

func (a *API) updateAddress(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := body(c)
	if err != nil {
		return err
	}
	ad, err := a.Account.UpdateAddress(c.Request().Context(), CurrentUser(c), id, decodeAddress(b, false))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewAddress(ad))
}

func (a *API) deleteAddress(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.Account.DeleteAddress(c.Request().Context(), CurrentUser(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) toggleFavorite(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ad, err := a.Account.ToggleFavorite(c.Request().Context(), CurrentUser(c), id)
	if err != nil {
		return err
	}
	msg := "Dirección quitada de favoritos."
	if ad.IsFavorite {
		msg = "Dirección marcada como favorita."
	}
	return c.JSON(http.StatusOK, struct {
		Message    string `json:"message"`
		IsFavorite bool   `json:"isFavorite"`
	}{msg, ad.IsFavorite})
}

// --- vehicles ---

func (a *API) vehicleTypes(c echo.Context) error {
	ts, err := a.Account.VehicleTypes(c.Request().Context(), page(c))
	if err != nil {
		return err
	}
	out := make([]*view.VehicleType, len(ts))
	for i := range ts {
		out[i] = view.NewVehicleType(&ts[i])
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) listVehicles(c echo.Context) error {
	vs, err := a.Account.Vehicles(c.Request().Context(), CurrentUser(c), page(c))
	if err != nil {
		return err
	}
	out := make([]*view.Vehicle, len(vs))
	for i := range vs {
		out[i] = view.NewVehicle(&vs[i])
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) createVehicle(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	v, err := a.Account.CreateVehicle(c.Request().Context(), CurrentUser(c), decodeVehicle(b, true, a.Store.Now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, view.NewVehicle(v))
}

func (a *API) getVehicle(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	v, err := a.Account.Vehicle(c.Request().Context(), CurrentUser(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewVehicle(v))
}

func (a *API) updateVehicle(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	b, err := body(c)
	if err != nil {
		return err
	}
	v, err := a.Account.UpdateVehicle(c.Request().Context(), CurrentUser(c), id, decodeVehicle(b, false, a.Store.Now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view.NewVehicle(v))
}

func (a *API) deleteVehicle(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := a.Account.DeleteVehicle(c.Request().Context(), CurrentUser(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// --- Clerk webhook ---

// clerkWebhook verifies the Svix signature on the raw body and applies the
// event: 503 without a secret, 400 on a bad signature or a body without
// type/data, {"status": "ok"} otherwise (duplicates and other types included).
func (a *API) clerkWebhook(c echo.Context) error {
	if a.webhook == nil {
		return apperr.New(apperr.Unavailable, "El webhook de Clerk no está configurado.")
	}
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return apperr.New(apperr.Invalid, apperr.MsgMalformed)
	}
	if err := a.webhook.Verify(raw, c.Request().Header); err != nil {
		a.Log.InfoContext(c.Request().Context(), "clerk webhook refused", "request_id", serve.RequestIDOf(c), "err", err)
		return apperr.New(apperr.Invalid, "Firma del webhook inválida.")
	}
	if _, err := a.Account.ApplyClerkEvent(c.Request().Context(), auth.MessageID(c.Request().Header), raw); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}
