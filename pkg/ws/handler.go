package ws

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/geo"
	"hermez/pkg/market"
	"hermez/pkg/nearby"
	"hermez/pkg/realtime"
	"hermez/pkg/serve"
	"hermez/pkg/store"
	"hermez/pkg/track"
	"hermez/pkg/view"
)

// Server serves the socket routes of docs/realtime.md over a hub.
type Server struct {
	Hub   *Hub
	Auth  *auth.Authenticator
	Store *store.Store
	Log   *slog.Logger
	// Cap, when set, limits each user's concurrent sockets (across workers):
	// the socket over it is accepted and closed with 4429.
	Cap SocketCap
	// Tracker, when set, adds driver_location to the delivery snapshots and
	// sends the last fresh one first on joining delivery_{id} (place.md §6).
	Tracker *track.Tracker
	// Nearby counts nearby_drivers for the snapshots of the quote's client
	// (user_quotes, quote_{id}); nil: rendered null.
	Nearby *nearby.Counter
	// RadiusKm is a placed new_quotes socket's radius (QUOTE_RADIUS_KM); with
	// Hub.Locations set too, new_quotes sockets are placed (placed.go).
	RadiusKm float64

	once     sync.Once
	upgrader websocket.Upgrader
}

// Routes registers the eight socket paths (with their trailing slash; the
// common Pre middleware adds it to slashless requests).
func (s *Server) Routes(e *echo.Echo) {
	s.init()
	g := e.Group("/ws/deliveries")
	g.GET("/new-quotes/", s.handle(s.newQuotes))
	g.GET("/quotes/:id/", s.handle(s.quote))
	g.GET("/:id/", s.handle(s.delivery))
	g.GET("/person/:id/stats/", s.handle(s.personStats))
	g.GET("/users/:id/quotes/", s.handle(s.userQuotes))
	g.GET("/users/:id/deliveries/", s.handle(s.userDeliveries))
	g.GET("/drivers/:id/deliveries/", s.handle(s.driverDeliveries))
	g.GET("/drivers/:id/offers/", s.handle(s.driverOffers))
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = slog.Default()
		}
		if s.Hub.Locations != nil && s.RadiusKm > 0 {
			s.Hub.place = placer{radiusKm: s.RadiusKm, snapshot: func(ctx context.Context, centre *geo.Point, seen realtime.Versions) ([]byte, []string, error) {
				v, shown, err := s.newQuotesSnapshot(ctx, centre, seen)
				if err != nil {
					return nil, nil, err
				}
				b, err := json.Marshal(v)
				return b, shown, err
			}}
		}
		s.upgrader = websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   1024,
			WriteBufferSize:  4096,
			// Idle sockets hold no write buffer.
			WriteBufferPool: &sync.Pool{},
			// Authentication is by token, never by cookie: any Origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
			Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
				msg := "Se esperaba una conexión WebSocket."
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(apperr.NewDetail(msg))
			},
		}
	})
}

// SocketCap counts a user's open sockets (throttle.Sockets): ok is false when
// the user is at the cap; release is called once the accepted socket ends.
type SocketCap interface {
	Acquire(ctx context.Context, user string) (release func(), ok bool)
}

// CloseTooMany is the close code of a socket over the user's cap.
const (
	CloseTooMany  = 4429
	ReasonTooMany = "Demasiadas conexiones abiertas para este usuario."
)

// plan is what a route decided for a caller: the group to join, or a close
// code (4403/4404) with its reason, and the initial message (nil: none).
type plan struct {
	group  string
	place  *placement // a new_quotes socket of a placing hub
	deny   int
	reason string
	// snapshot reads the initial message and notes in seen the version of
	// every resource it shows (the order rule: older frames are dropped).
	snapshot func(ctx context.Context, seen realtime.Versions) (any, error)
}

// A route reads its path parameter (a bad one is a 404 before anything else)
// and returns the decision for the authenticated caller.
type route func(c echo.Context) (func(ctx context.Context, u *store.User) (*plan, error), error)

func (s *Server) handle(r route) echo.HandlerFunc {
	return func(c echo.Context) error {
		decide, err := r(c)
		if err != nil {
			return err
		}
		if s.Hub.Closing() {
			return apperr.New(apperr.Unavailable, ReasonGoingAway)
		}
		req := c.Request()
		token, proto := serve.SocketToken(req)
		u, err := s.Auth.Authenticate(req.Context(), token)
		if err != nil {
			return err
		}
		if auth.Suspended(u) != nil { // refused like their open sockets are closed: 4403 with the reason
			var hdr http.Header
			if proto != "" {
				hdr = http.Header{"Sec-Websocket-Protocol": {proto}}
			}
			if wsc, err := s.upgrader.Upgrade(c.Response(), req, hdr); err == nil {
				s.Log.Info("socket refused: user suspended", "user", u.UserID, "path", req.URL.Path)
				closeNow(wsc, CloseForbidden, auth.SuspendedMessage(str(u.SuspensionReason)))
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 15*time.Second)
		defer cancel()
		p, err := decide(ctx, u)
		if err != nil {
			return err
		}
		var hdr http.Header
		if proto != "" {
			hdr = http.Header{"Sec-Websocket-Protocol": {proto}}
		}
		wsc, err := s.upgrader.Upgrade(batchingWriter{c.Response()}, req, hdr)
		if err != nil {
			return nil // the upgrader answered already
		}
		if p.deny != 0 {
			s.Log.Info("socket refused", "user", u.UserID, "path", req.URL.Path, "code", p.deny)
			closeNow(wsc, p.deny, p.reason)
			return nil
		}
		release := func() {}
		if s.Cap != nil {
			var ok bool
			if release, ok = s.Cap.Acquire(ctx, u.UserID); !ok {
				s.Log.Info("socket refused: too many sockets", "user", u.UserID, "path", req.URL.Path)
				closeNow(wsc, CloseTooMany, ReasonTooMany)
				return nil
			}
		}
		conn := newConn(wsc, u.UserID, p.group, &s.Hub.opts)
		conn.availHint = u.AvailableDriver()
		conn.place = p.place
		if !s.Hub.join(conn) {
			release()
			closeNow(wsc, CloseGoingAway, ReasonGoingAway)
			return nil
		}
		// Joined (and subscribed) before the snapshot is read, so no event
		// falls between the two; events queued meanwhile follow the snapshot.
		var first []byte
		var seen realtime.Versions
		if p.snapshot != nil {
			seen = realtime.Versions{}
			v, err := p.snapshot(ctx, seen)
			if err == nil && v != nil {
				first, err = json.Marshal(v)
			}
			if err != nil {
				s.Log.Error("socket snapshot", "user", u.UserID, "group", p.group, "err", err)
				conn.Close(CloseInternal, ReasonInternal)
			}
		}
		cancel()
		s.Log.Debug("socket open", "user", u.UserID, "group", p.group)
		// The handler returns so that net/http and Echo release the request's
		// buffers and context; the socket lives on in its reader goroutine
		// (and a writer goroutine while it has something to write).
		conn.onExit = func() {
			release()
			s.Hub.leave(conn)
			s.Log.Debug("socket closed", "user", conn.user, "group", conn.group, "code", conn.code)
		}
		if s.Hub.Locations != nil {
			conn.onText = func(msg []byte) { s.Hub.clientFrame(conn, msg) }
		}
		s.Hub.release(conn, first, seen)
		go conn.readLoop()
		return nil
	}
}

// closeNow sends a close frame on a socket that never joined, waits briefly
// for the client's answer, and ends it.
func closeNow(wsc *websocket.Conn, code int, reason string) {
	defer wsc.Close()
	metricsClosed(code)
	deadline := time.Now().Add(2 * time.Second)
	if err := wsc.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncate(reason)), deadline); err != nil {
		return
	}
	_ = wsc.SetReadDeadline(deadline)
	for {
		if _, _, err := wsc.NextReader(); err != nil {
			return
		}
	}
}

// Parameters.

func uuidParam(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil || len(c.Param("id")) != 36 {
		return uuid.Nil, echo.ErrNotFound
	}
	return id, nil
}

func userParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if id == "" || len(id) > 255 {
		return "", echo.ErrNotFound
	}
	return id, nil
}

const (
	reasonOthersGroup = "No tiene permiso para unirse a este grupo."
	reasonNotQuote    = "Esta cotización no es suya."
	reasonNotDelivery = "Este envío no es suyo."
	reasonNoQuote     = "La cotización no existe."
	reasonNoDelivery  = "El envío no existe."
)

type initialQuotes struct {
	Type   string `json:"type"`
	Quotes any    `json:"quotes"`
}

type initialDeliveries struct {
	Type       string `json:"type"`
	Deliveries any    `json:"deliveries"`
}

type initialOffers struct {
	Type   string `json:"type"`
	Offers any    `json:"offers"`
}

type initialStats struct {
	Type string `json:"type"`
	*view.PersonStats
}

// Routes of docs/realtime.md.

func (s *Server) newQuotes(echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	return func(ctx context.Context, u *store.User) (*plan, error) {
		if !s.Hub.place.on() {
			return &plan{group: realtime.GroupNewQuotes, snapshot: func(ctx context.Context, seen realtime.Versions) (any, error) {
				v, _, err := s.newQuotesSnapshot(ctx, nil, seen)
				return v, err
			}}, nil
		}
		// The area is decided before the socket joins (the hub routes by it
		// from the join on) and its snapshot shows that area.
		place := s.Hub.newPlacement(ctx, u.UserID)
		centre := place.centre
		return &plan{group: realtime.GroupNewQuotes, place: place, snapshot: func(ctx context.Context, seen realtime.Versions) (any, error) {
			v, shown, err := s.newQuotesSnapshot(ctx, centre, seen)
			place.shown = shown
			return v, err
		}}, nil
	}, nil
}

// newQuotesSnapshot is initial_quotes for an area (place.md §4): with a
// centre, the quotes whose pickup is within the radius, nearest first, then
// those without pickup coordinates, newest first; without one, every pending
// quote, newest first (as before place existed). seen gets the versions of
// the quotes shown; shown lists those with a pickup.
func (s *Server) newQuotesSnapshot(ctx context.Context, centre *geo.Point, seen realtime.Versions) (initialQuotes, []string, error) {
	all := realtime.Versions{}
	qs, err := market.SnapshotNewQuotes(ctx, s.Store.DB, s.Store.Now(), all)
	if err != nil {
		return initialQuotes{}, nil, err
	}
	if centre != nil {
		qs = nearestFirst(qs, *centre, s.RadiusKm)
	}
	var shown []string
	for i := range qs {
		r := realtime.ResourceQuote(qs[i].ID.String())
		seen.Note(r, all[r])
		if qs[i].PickupLatitude != nil && qs[i].PickupLongitude != nil {
			shown = append(shown, r)
		}
	}
	// new_quotes is a many-reader audience: rendered for no viewer (no emails).
	return initialQuotes{Type: "initial_quotes", Quotes: view.Quotes(qs, "")}, shown, nil
}

// nearestFirst keeps the quotes within radiusKm of centre, nearest pickup
// first, then those without pickup coordinates in their order (newest first).
func nearestFirst(qs []store.Quote, centre geo.Point, radiusKm float64) []store.Quote {
	type near struct {
		i int
		d float64
	}
	var in []near
	var none []int
	for i := range qs {
		q := &qs[i]
		if q.PickupLatitude == nil || q.PickupLongitude == nil {
			none = append(none, i)
			continue
		}
		if d := geo.DistanceKm(centre, geo.Point{Lat: *q.PickupLatitude, Lng: *q.PickupLongitude}); d <= radiusKm {
			in = append(in, near{i, d})
		}
	}
	sort.SliceStable(in, func(a, b int) bool { return in[a].d < in[b].d })
	out := make([]store.Quote, 0, len(in)+len(none))
	for _, n := range in {
		out = append(out, qs[n.i])
	}
	for _, i := range none {
		out = append(out, qs[i])
	}
	return out
}

func (s *Server) quote(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	id, err := uuidParam(c)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, u *store.User) (*plan, error) {
		client, found, err := market.SnapshotQuoteOwner(ctx, s.Store.DB, id)
		switch {
		case err != nil:
			return nil, err
		case !found:
			return &plan{deny: CloseNotFound, reason: reasonNoQuote}, nil
		case client != u.UserID:
			return &plan{deny: CloseForbidden, reason: reasonNotQuote}, nil
		}
		return &plan{group: realtime.GroupQuote(id.String()), snapshot: func(ctx context.Context, seen realtime.Versions) (any, error) {
			now := s.Store.Now()
			q, err := market.SnapshotQuote(ctx, s.Store.DB, id, now, seen)
			quotes := []*view.QuoteWithOffers{}
			if q != nil {
				s.Nearby.Fill(ctx, q)
				quotes = append(quotes, view.NewQuoteWithOffers(q, u.UserID, now))
			}
			return initialQuotes{Type: "initial_quotes", Quotes: quotes}, err
		}}, nil
	}, nil
}

func (s *Server) delivery(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	id, err := uuidParam(c)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, u *store.User) (*plan, error) {
		client, driver, found, err := market.SnapshotDeliveryParties(ctx, s.Store.DB, id)
		switch {
		case err != nil:
			return nil, err
		case !found:
			return &plan{deny: CloseNotFound, reason: reasonNoDelivery}, nil
		case client != u.UserID && driver != u.UserID:
			return &plan{deny: CloseForbidden, reason: reasonNotDelivery}, nil
		}
		return &plan{group: realtime.GroupDelivery(id.String()), snapshot: func(ctx context.Context, seen realtime.Versions) (any, error) {
			return s.lastLocation(ctx, id, u.UserID, seen)
		}}, nil
	}, nil
}

// driverLocationFrame is the first frame of a delivery_{id} socket while its
// driver has a fresh location.
type driverLocationFrame struct {
	Type string               `json:"type"`
	Data *view.DriverLocation `json:"data"`
}

// lastLocation is the driver_location frame a joining delivery_{id} socket
// gets first (nil: none: not tracked, or no fresh location), noted in seen so
// an older frame queued meanwhile is dropped.
func (s *Server) lastLocation(ctx context.Context, id uuid.UUID, viewer string, seen realtime.Versions) (any, error) {
	if s.Tracker == nil {
		return nil, nil
	}
	d, err := market.SnapshotDelivery(ctx, s.Store.DB, id)
	if err != nil || d == nil {
		return nil, err
	}
	dl := s.Tracker.For(ctx, d, viewer)
	if dl == nil {
		return nil, nil
	}
	seen.Note(track.Resource(id.String()), time.Time(dl.RecordedAt).UnixMicro())
	return driverLocationFrame{Type: track.EventDriverLocation, Data: dl}, nil
}

// own builds a route of one user's group: only that user may join (and `me`
// names the caller when allowMe).
func (s *Server) own(c echo.Context, allowMe bool, group func(string) string,
	snapshot func(ctx context.Context, user string, seen realtime.Versions) (any, error)) (func(context.Context, *store.User) (*plan, error), error) {
	id, err := userParam(c)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, u *store.User) (*plan, error) {
		if allowMe && id == "me" {
			id = u.UserID
		}
		if id != u.UserID {
			return &plan{deny: CloseForbidden, reason: reasonOthersGroup}, nil
		}
		return &plan{group: group(id), snapshot: func(ctx context.Context, seen realtime.Versions) (any, error) { return snapshot(ctx, id, seen) }}, nil
	}, nil
}

func (s *Server) personStats(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	return s.own(c, false, realtime.GroupPersonStats, func(ctx context.Context, user string, seen realtime.Versions) (any, error) {
		// The version first: the stats read after it are at least that new.
		ver, err := market.StatsVersion(ctx, s.Store.DB, user)
		if err != nil {
			return nil, err
		}
		seen.Note(realtime.ResourceStats(user), ver)
		ds, err := market.PersonStats(ctx, s.Store.DB, user)
		return initialStats{Type: realtime.PersonStats, PersonStats: view.NewPersonStats(ds, user)}, err
	})
}

func (s *Server) userQuotes(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	return s.own(c, true, realtime.GroupUserQuotes, func(ctx context.Context, user string, seen realtime.Versions) (any, error) {
		now := s.Store.Now()
		qs, err := market.SnapshotUserQuotes(ctx, s.Store.DB, user, now, seen)
		s.Nearby.FillAll(ctx, qs)
		return initialQuotes{Type: "user_quotes.initial", Quotes: quotesWithOffersJSON(qs, user, now)}, err
	})
}

func (s *Server) userDeliveries(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	return s.own(c, true, realtime.GroupUserDeliveries, func(ctx context.Context, user string, seen realtime.Versions) (any, error) {
		ds, err := market.SnapshotClientDeliveries(ctx, s.Store.DB, user, seen)
		return initialDeliveries{Type: "user_deliveries.initial", Deliveries: s.deliveriesJSON(ctx, ds, user)}, err
	})
}

func (s *Server) driverDeliveries(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	return s.own(c, true, realtime.GroupDriverDeliveries, func(ctx context.Context, user string, seen realtime.Versions) (any, error) {
		ds, err := market.SnapshotDriverDeliveries(ctx, s.Store.DB, user, seen)
		return initialDeliveries{Type: "driver_deliveries.initial", Deliveries: s.deliveriesJSON(ctx, ds, user)}, err
	})
}

func (s *Server) driverOffers(c echo.Context) (func(context.Context, *store.User) (*plan, error), error) {
	return s.own(c, true, realtime.GroupDriverOffers, func(ctx context.Context, user string, seen realtime.Versions) (any, error) {
		now := s.Store.Now()
		os, err := market.SnapshotDriverOffers(ctx, s.Store.DB, user, now, seen)
		return initialOffers{Type: "driver_offers.initial", Offers: driverOffersJSON(os, user, now)}, err
	})
}

// Rendering of the snapshots (market loads the rows; the JSON is the HTTP API's).

func quotesWithOffersJSON(qs []store.Quote, viewer view.Viewer, now time.Time) []*view.QuoteWithOffers {
	out := make([]*view.QuoteWithOffers, len(qs))
	for i := range qs {
		out[i] = view.NewQuoteWithOffers(&qs[i], viewer, now)
	}
	return out
}

func (s *Server) deliveriesJSON(ctx context.Context, ds []store.Delivery, viewer view.Viewer) []*view.Delivery {
	out := view.Deliveries(ds, viewer)
	for i := range out {
		s.Tracker.Attach(ctx, out[i], &ds[i], viewer)
	}
	return out
}

// driverOffersJSON renders a driver's own offers: can_accept is false (the
// driver's view).
func driverOffersJSON(os []store.Offer, driverID string, now time.Time) []*view.Offer {
	out := make([]*view.Offer, len(os))
	for i := range os {
		out[i] = view.NewOffer(&os[i], driverID, now)
		out[i].CanAccept = false
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
