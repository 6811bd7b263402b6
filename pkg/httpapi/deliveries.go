package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/market"
	"hermez/pkg/marketinput"
	"hermez/pkg/store"
	"hermez/pkg/track"
	"hermez/pkg/view"
)

// deliveryRoutes registers /deliveries/api/… (docs/api.md "Deliveries"). Methods a
// path does not list answer 405 with an Allow header (Echo's router); deliveries
// themselves are only read here: they are born from an accepted offer.
func (a *API) deliveryRoutes(g routeGroup) {
	g.GET("/categories/", a.listCategories, a.authed)
	g.POST("/categories/", a.createCategory, a.authed)
	g.GET("/categories/:id/", a.getCategory, a.authed)
	g.PUT("/categories/:id/", a.updateCategory(false), a.authed)
	g.PATCH("/categories/:id/", a.updateCategory(true), a.authed)
	g.DELETE("/categories/:id/", a.deleteCategory, a.authed)

	g.GET("/quotes/", a.listQuotes, a.authed)
	g.POST("/quotes/", a.createQuote, a.authed, UserThrottle(a.Throttles.Quotes, false))
	g.GET("/quotes/:id/", byID(http.StatusOK, a.Market.GetQuote, a.quoteJSON), a.authed)
	g.PUT("/quotes/:id/", a.updateQuote(false), a.authed)
	g.PATCH("/quotes/:id/", a.updateQuote(true), a.authed)
	g.DELETE("/quotes/:id/", a.deleteQuote, a.authed)
	g.GET("/quotes/:id/offers/", a.listQuoteOffers, a.authed)
	g.POST("/quotes/:id/offers/", a.makeOffer, a.authed)
	g.POST("/quotes/:id/cancel/", byID(http.StatusOK, a.Market.CancelQuote, a.quoteJSON), a.authed)
	g.POST("/quotes/:id/extend-expiration/", a.extendQuote, a.authed)

	g.GET("/offers/", a.listOffers, a.authed)
	g.GET("/offers/:id/", byID(http.StatusOK, a.Market.GetOffer, a.offerJSON), a.authed)
	g.POST("/offers/:id/accept/", a.acceptOffer, a.authed)
	g.POST("/offers/:id/reject/", byID(http.StatusOK, a.Market.RejectOffer, rejectJSON), a.authed)

	g.GET("/", a.listDeliveries, a.authed)
	g.GET("/:id/", byID(http.StatusOK, a.Market.GetDelivery, a.deliveryJSON), a.authed)
	g.GET("/:id/history/", byID(http.StatusOK, a.Market.DeliveryHistory, a.historyJSON), a.authed)
	g.GET("/:id/track/", a.getTrack, a.authed)
	g.POST("/:id/change_status/", byID(http.StatusOK, a.Market.ChangeStatus, a.statusJSON), a.authed)
	g.POST("/:id/cancel/", byID(http.StatusOK, a.Market.CancelDelivery, cancelJSON), a.authed)
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
// its result for them with render, answering status.
func byID[T any](status int, fn func(context.Context, *store.User, uuid.UUID) (T, error), render func(T, view.Viewer) any) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		u := CurrentUser(c)
		v, err := fn(c.Request().Context(), u, id)
		if err != nil {
			return err
		}
		return c.JSON(status, render(v, u.UserID))
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
	if err != nil {
		return err
	}
	if c.Request().URL.RawQuery != "" { // ?pretty indents: rendered each time
		return c.JSON(http.StatusOK, categoriesJSON(v))
	}
	body, err := a.categoriesBody.get(v)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, body)
}

// renderedList is the answer of GET categories/ rendered once per catalog
// load instead of once per request: store.Categories hands out the same
// shared slice until the catalog reloads (store.CatalogTTL, or a write to
// the categories), so the slice's first element and length name what was
// rendered. Rendering the list (times, decimals, ids) was half the request's
// allocations (BenchmarkChain, issue 23).
type renderedList struct {
	mu   sync.Mutex
	src  *store.Category
	n    int
	body []byte
}

// get is the JSON of cs as c.JSON writes it (compact, with its newline).
func (r *renderedList) get(cs []store.Category) ([]byte, error) {
	if len(cs) == 0 {
		return []byte("[]\n"), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.src == &cs[0] && r.n == len(cs) {
		return r.body, nil
	}
	b, err := json.Marshal(categoriesJSON(cs))
	if err != nil {
		return nil, fmt.Errorf("render categories: %w", err)
	}
	r.src, r.n, r.body = &cs[0], len(cs), append(b, '\n')
	return r.body, nil
}

func (a *API) getCategory(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	v, err := a.Market.GetCategory(c.Request().Context(), id)
	return ok(c, http.StatusOK, categoryJSON(v), err)
}

func (a *API) createCategory(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	v, err := a.Market.CreateCategory(c.Request().Context(), CurrentUser(c), marketinput.Category(b, false))
	return ok(c, http.StatusCreated, categoryJSON(v), err)
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
		v, err := a.Market.UpdateCategory(c.Request().Context(), CurrentUser(c), id, marketinput.Category(b, partial))
		return ok(c, http.StatusOK, categoryJSON(v), err)
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
	return ok(c, http.StatusOK, a.quotesJSON(v, CurrentUser(c).UserID), err)
}

func (a *API) createQuote(c echo.Context) error {
	b, err := body(c)
	if err != nil {
		return err
	}
	u := CurrentUser(c)
	v, own, err := a.Market.CreateQuoteRendered(c.Request().Context(), u, marketinput.Quote(b, false))
	if err != nil {
		return err
	}
	// The answer is the quote as its client sees it: the bytes its frames
	// carry, unless the answer would count nearby_drivers anew (the count
	// failed with the frames) or be indented (?pretty, debug).
	if own != nil && !a.countsNearby(v, u.UserID) && c.Request().URL.RawQuery == "" && !c.Echo().Debug {
		return c.JSONBlob(http.StatusCreated, append(own, '\n')) // what c.JSON's encoder writes
	}
	return c.JSON(http.StatusCreated, a.quoteJSON(v, u.UserID))
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
		v, err := a.Market.UpdateQuote(c.Request().Context(), CurrentUser(c), id, marketinput.Quote(b, partial))
		return ok(c, http.StatusOK, a.quoteJSON(v, CurrentUser(c).UserID), err)
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
	minutes, err := marketinput.ExtendMinutes(b)
	if err != nil {
		return err
	}
	v, err := a.Market.ExtendQuote(c.Request().Context(), CurrentUser(c), id, minutes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, extendResult{Status: "extendido", ExpiresAt: view.Time(v.ExpiresAt)})
}

func (a *API) listQuoteOffers(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	v, err := a.Market.ListQuoteOffers(c.Request().Context(), CurrentUser(c), id, c.QueryParam("status"))
	return ok(c, http.StatusOK, a.offersJSON(v, CurrentUser(c).UserID), err)
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
	v, created, err := a.Market.MakeOffer(c.Request().Context(), CurrentUser(c), id, marketinput.Offer(b))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, a.offerJSON(v, CurrentUser(c).UserID))
}

func (a *API) listOffers(c echo.Context) error {
	v, err := a.Market.ListOffers(c.Request().Context(), CurrentUser(c), c.QueryParam("status"), page(c))
	return ok(c, http.StatusOK, a.offersJSON(v, CurrentUser(c).UserID), err)
}

func (a *API) listDeliveries(c echo.Context) error {
	f := market.DeliveryFilter{FilterBy: c.QueryParam("filter_by"), Status: c.QueryParam("status"),
		PaymentMethod: c.QueryParam("payment_method"), Month: c.QueryParam("month"), Year: c.QueryParam("year")}
	v, err := a.Market.ListDeliveries(c.Request().Context(), CurrentUser(c), f, page(c))
	if err != nil {
		return err
	}
	out := view.Deliveries(v, CurrentUser(c).UserID)
	for i := range out {
		a.Tracker.Attach(c.Request().Context(), out[i], &v[i], CurrentUser(c).UserID)
	}
	return c.JSON(http.StatusOK, out)
}

// Rendering of the marketplace's answers (the services return rows; the wire
// shapes are pkg/view's). A render is never called with an error's nil value:
// ok returns the error first.

func categoryJSON(c *store.Category) any {
	if c == nil {
		return nil
	}
	return view.NewCategory(c)
}

func categoriesJSON(cs []store.Category) []*view.Category {
	out := make([]*view.Category, len(cs))
	for i := range cs {
		out[i] = view.NewCategory(&cs[i])
	}
	return out
}

func (a *API) quoteJSON(q *store.Quote, viewer view.Viewer) any {
	if q == nil {
		return nil
	}
	a.fillNearby(viewer, q)
	return view.NewQuote(q, viewer)
}

func (a *API) quotesJSON(qs []store.Quote, viewer view.Viewer) []*view.Quote {
	own := make([]*store.Quote, 0, len(qs))
	for i := range qs {
		own = append(own, &qs[i])
	}
	a.fillNearby(viewer, own...)
	return view.Quotes(qs, viewer)
}

// countsNearby: rendering q for viewer would count its nearby_drivers
// (fillNearby, then nearby.Counter.Fill: a pending quote of the viewer's with
// a pickup, not counted yet).
func (a *API) countsNearby(q *store.Quote, viewer view.Viewer) bool {
	return a.Market.Nearby != nil && viewer != "" && q.ClientID == viewer && q.NearbyDrivers == nil &&
		q.PickupLatitude != nil && q.PickupLongitude != nil
}

// fillNearby counts nearby_drivers (place.md §5) of the viewer's own quotes
// not counted yet (a change's answer was counted with its frames), in one
// read of the location store; other audiences render null without a count.
func (a *API) fillNearby(viewer view.Viewer, qs ...*store.Quote) {
	if a.Market.Nearby == nil || viewer == "" {
		return
	}
	todo := qs[:0:0]
	for _, q := range qs {
		if q.ClientID == viewer && q.NearbyDrivers == nil {
			todo = append(todo, q)
		}
	}
	if len(todo) > 0 {
		a.Market.Nearby.Fill(context.Background(), todo...)
	}
}

// offerJSON renders can_accept as of the marketplace's clock.
func (a *API) offerJSON(o *store.Offer, viewer view.Viewer) any {
	if o == nil {
		return nil
	}
	if o.Quote != nil {
		a.fillNearby(viewer, o.Quote) // the nested quote, for its client
	}
	return view.NewOffer(o, viewer, a.Market.Store.Now())
}

func (a *API) offersJSON(os []store.Offer, viewer view.Viewer) []*view.Offer {
	now := a.Market.Store.Now()
	quotes := make([]*store.Quote, 0, len(os))
	seen := map[*store.Quote]bool{}
	for i := range os {
		if q := os[i].Quote; q != nil && !seen[q] {
			seen[q] = true
			quotes = append(quotes, q)
		}
	}
	a.fillNearby(viewer, quotes...) // the nested quotes, for their client (one read)
	out := make([]*view.Offer, len(os))
	for i := range os {
		out[i] = view.NewOffer(&os[i], viewer, now)
	}
	return out
}

// delivery renders d for viewer with its driver_location (place.md §6: set
// for its client and driver while tracked). The read of the driver's
// location is bounded (track.Tracker.Current) and never fails the answer.
func (a *API) delivery(d *store.Delivery, viewer view.Viewer) *view.Delivery {
	out := view.NewDelivery(d, viewer)
	a.Tracker.Attach(context.Background(), out, d, viewer)
	return out
}

func (a *API) deliveryJSON(d *store.Delivery, viewer view.Viewer) any { return a.delivery(d, viewer) }

// getTrack is GET /deliveries/api/{id}/track/ (place.md §6): the trail of a
// delivery its client, its driver or staff may see (GetDelivery: anyone else,
// or a malformed id, 404).
func (a *API) getTrack(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := a.Market.GetDelivery(ctx, CurrentUser(c), id)
	if err != nil {
		return err
	}
	ps, err := track.Points(ctx, a.Store, d.ID)
	if err != nil {
		return apperr.Wrap(err, "track")
	}
	return c.JSON(http.StatusOK, view.NewTrack(d.ID.String(), ps))
}

// acceptResult is the answer of accept.
type acceptResult struct {
	Message      string         `json:"message"`
	DeliveryID   string         `json:"delivery_id"`
	Delivery     *view.Delivery `json:"delivery"`
	QuoteDeleted bool           `json:"quote_deleted"`
}

// acceptOffer answers the accepted delivery with the driver_location its
// frames carry (the caller is its client: a party, place.md §6), read once.
func (a *API) acceptOffer(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	u := CurrentUser(c)
	d, dl, err := a.Market.AcceptOfferLocated(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	out := view.NewDelivery(d, u.UserID)
	out.DriverLocation = dl
	return c.JSON(http.StatusCreated, acceptResult{Message: market.MsgOfferAccepted, DeliveryID: d.ID.String(), Delivery: out, QuoteDeleted: true})
}

// rejectResult is the answer of reject.
type rejectResult struct {
	Status string `json:"status"`
}

func rejectJSON(*store.Offer, view.Viewer) any { return rejectResult{Status: "Oferta rechazada"} }

// extendResult is the answer of extend-expiration.
type extendResult struct {
	Status    string    `json:"status"`
	ExpiresAt view.Time `json:"expires_at"`
}

// historyResult is the answer of history.
type historyResult struct {
	Delivery *view.Delivery       `json:"delivery"`
	History  []*view.HistoryEvent `json:"history"`
}

func (a *API) historyJSON(h *market.History, viewer view.Viewer) any {
	out := historyResult{Delivery: a.delivery(h.Delivery, viewer), History: make([]*view.HistoryEvent, len(h.Events))}
	for i := range h.Events {
		out.History[i] = view.NewHistoryEvent(&h.Events[i], viewer)
	}
	return out
}

// statusResult is the answer of change_status.
type statusResult struct {
	Message    string         `json:"message"`
	OldStatus  string         `json:"old_status"`
	NewStatus  string         `json:"new_status"`
	NextStatus *string        `json:"next_status"`
	Delivery   *view.Delivery `json:"delivery"`
}

func (a *API) statusJSON(sc *market.StatusChange, viewer view.Viewer) any {
	nxt := sc.Delivery.Status
	out := statusResult{Message: fmt.Sprintf("Estado actualizado de %s a %s", sc.Old, nxt), OldStatus: sc.Old, NewStatus: nxt,
		Delivery: a.delivery(sc.Delivery, viewer)}
	if after, ok := market.NextStatus(nxt); ok {
		out.NextStatus = &after
	}
	return out
}

// cancelResult is the answer of cancel.
type cancelResult struct {
	Message  string         `json:"message"`
	Delivery *view.Delivery `json:"delivery"`
}

func cancelJSON(d *store.Delivery, viewer view.Viewer) any {
	return cancelResult{Message: market.MsgDeliveryCancel, Delivery: view.NewDelivery(d, viewer)}
}
