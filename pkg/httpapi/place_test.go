package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/geo"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
	"hermez/pkg/view"
)

// withRaw is a JSON object's text with raw members added ("k": <raw text>),
// so a test can send what json.Marshal cannot: NaN strings next to numbers,
// 15 decimals as typed.
func withRaw(t *testing.T, base map[string]any, members ...string) string {
	t.Helper()
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "}")
	for _, m := range members {
		if !strings.HasSuffix(s, "{") {
			s += ","
		}
		s += m
	}
	return s + "}"
}

// coordinateCase is a latitude/longitude pair as sent ("" leaves the member
// out) and what comes of it: 201 and the values stored (nil: null), or 400
// and the exact field errors (keyed "lat"/"lng", renamed per route).
type coordinateCase struct {
	name     string
	lat, lng string
	stored   [2]any
	errs     map[string][]string
}

var coordinateCases = []coordinateCase{
	{name: "numbers with a phone's decimals, rounded", lat: `4.710987654321012`, lng: `-74.07209876543`, stored: [2]any{4.710988, -74.072099}},
	{name: "numeric strings", lat: `"4.711"`, lng: `" -74.0721 "`, stored: [2]any{4.711, -74.0721}},
	{name: "the bounds", lat: `-90`, lng: `180`, stored: [2]any{-90.0, 180.0}},
	{name: "rounded onto the bound", lat: `89.9999999`, lng: `-179.99999999`, stored: [2]any{90.0, -180.0}},
	{name: "exponent form", lat: `4.5e1`, lng: `-7.4e1`, stored: [2]any{45.0, -74.0}},
	{name: "both null", lat: `null`, lng: `null`},
	{name: "both blank", lat: `""`, lng: `""`},
	{name: "longitude null, latitude not sent", lng: `null`},
	{name: "latitude above 90", lat: `90.5`, lng: `0`, errs: map[string][]string{"lat": {"Asegúrese de que este valor sea menor o igual a 90."}}},
	{name: "both out of range", lat: `-90.000001`, lng: `"181"`, errs: map[string][]string{
		"lat": {"Asegúrese de que este valor sea mayor o igual a -90."}, "lng": {"Asegúrese de que este valor sea menor o igual a 180."}}},
	{name: "longitude below -180", lat: `0`, lng: `-180.5`, errs: map[string][]string{"lng": {"Asegúrese de que este valor sea mayor o igual a -180."}}},
	{name: "NaN and Infinity as strings", lat: `"NaN"`, lng: `"Infinity"`, errs: map[string][]string{
		"lat": {"Se requiere un número válido."}, "lng": {"Se requiere un número válido."}}},
	{name: "a boolean and an object", lat: `true`, lng: `{"x": 1}`, errs: map[string][]string{
		"lat": {"Se requiere un número válido."}, "lng": {"Se requiere un número válido."}}},
	{name: "a list and text", lat: `[4.7]`, lng: `"oeste"`, errs: map[string][]string{
		"lat": {"Se requiere un número válido."}, "lng": {"Se requiere un número válido."}}},
	{name: "a number beyond float64", lat: `1e400`, lng: `0`, errs: map[string][]string{"lat": {"Se requiere un número válido."}}},
	{name: "latitude alone", lat: `4.7`, errs: map[string][]string{"lng": {"Este campo es requerido."}}},
	{name: "longitude alone", lng: `-74.1`, errs: map[string][]string{"lat": {"Este campo es requerido."}}},
	{name: "latitude with a null longitude", lat: `4.7`, lng: `null`, errs: map[string][]string{"lng": {"Este campo no puede ser nulo."}}},
	{name: "a refused latitude beside a longitude: one message", lat: `"x"`, lng: `-74.1`, errs: map[string][]string{"lat": {"Se requiere un número válido."}}},
}

// members is c as body members under the route's two keys.
func (c coordinateCase) members(latKey, lngKey string) []string {
	var out []string
	if c.lat != "" {
		out = append(out, fmt.Sprintf("%q: %s", latKey, c.lat))
	}
	if c.lng != "" {
		out = append(out, fmt.Sprintf("%q: %s", lngKey, c.lng))
	}
	return out
}

// wantErrors renames the case's "lat"/"lng" to the route's keys.
func (c coordinateCase) wantErrors(latKey, lngKey string) map[string][]string {
	out := map[string][]string{}
	for k, v := range c.errs {
		out[map[string]string{"lat": latKey, "lng": lngKey}[k]] = v
	}
	return out
}

func floats(p ...*float64) []any {
	out := make([]any, len(p))
	for i, v := range p {
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

func fieldErrors(t *testing.T, res *testutil.Response) map[string][]string {
	t.Helper()
	var m map[string][]string
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("not a field-error body: %s", res.Body)
	}
	return m
}

// The coordinate rules of place.md §1 through the API, on an address and on
// each point of a quote: what is stored, and the exact 400 otherwise (nothing
// stored then).
func TestCoordinateValidationOverHTTP(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: noThrottles})
	client := newActor(t, w, "user_place_client")
	addr := map[string]any{"name": "Casa", "address": "Calle 6 # 9-54", "city": "Barichara", "type": "casa"}
	for _, c := range coordinateCases {
		t.Run("address/"+c.name, func(t *testing.T) {
			res := w.Do(t, "POST", "/user/api/me/addresses/", client.Tok, withRaw(t, addr, c.members("latitude", "longitude")...))
			if c.errs != nil {
				wantStatus(t, res, 400)
				if got, want := fieldErrors(t, res), c.wantErrors("latitude", "longitude"); !reflect.DeepEqual(got, want) {
					t.Fatalf("errors %v, want %v", got, want)
				}
				return
			}
			wantStatus(t, res, 201)
			var a store.Address
			if err := w.Store.DB.Take(&a, "address_id = ?", res.Map(t)["addressId"]).Error; err != nil {
				t.Fatal(err)
			}
			if got := floats(a.Latitude, a.Longitude); !reflect.DeepEqual(got, c.stored[:]) {
				t.Fatalf("stored %v, want %v", got, c.stored)
			}
		})
		for _, point := range []string{"pickup", "delivery"} {
			latKey, lngKey := point+"_latitude", point+"_longitude"
			t.Run("quote "+point+"/"+c.name, func(t *testing.T) {
				res := w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, withRaw(t, quoteBody(t, w, client, nil), c.members(latKey, lngKey)...))
				if c.errs != nil {
					wantStatus(t, res, 400)
					if got, want := fieldErrors(t, res), c.wantErrors(latKey, lngKey); !reflect.DeepEqual(got, want) {
						t.Fatalf("errors %v, want %v", got, want)
					}
					return
				}
				wantStatus(t, res, 201)
				var q store.Quote
				if err := w.Store.DB.Take(&q, "id = ?", res.Map(t)["id"]).Error; err != nil {
					t.Fatal(err)
				}
				got := floats(q.PickupLatitude, q.PickupLongitude, q.DeliveryLatitude, q.DeliveryLongitude)
				want := []any{nil, nil, c.stored[0], c.stored[1]}
				if point == "pickup" {
					want = []any{c.stored[0], c.stored[1], nil, nil}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("stored %v, want %v", got, want)
				}
			})
		}
	}
	// A JSON NaN literal is no JSON at all: DRF's parse error, as today.
	res := w.Do(t, "POST", "/user/api/me/addresses/", client.Tok, withRaw(t, addr, `"latitude": NaN`, `"longitude": 1`))
	wantDetail(t, res, 400)
	// Pickup equal to the delivery point (one building, two floors): accepted.
	res = w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{
		"pickup_latitude": 7.119349, "pickup_longitude": -73.122741, "delivery_latitude": 7.119349, "delivery_longitude": -73.122741}))
	wantStatus(t, res, 201)
}

// Updates through the API: PUT and PATCH may change one half of a stored
// pair; a change that would leave one half alone is a 400 that writes
// nothing; null clears.
func TestCoordinateUpdatesOverHTTP(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: noThrottles})
	client := newActor(t, w, "user_place_upd")
	res := w.Do(t, "POST", "/user/api/me/addresses/", client.Tok, map[string]any{"name": "Casa", "address": "Calle 1", "city": "Cali",
		"type": "casa", "latitude": 3.451646, "longitude": -76.532051})
	wantStatus(t, res, 201)
	aid := res.Map(t)["addressId"].(string)
	apath := "/user/api/me/addresses/" + aid + "/"
	qid := createQuote(t, w, client, map[string]any{"pickup_latitude": "7.119349", "pickup_longitude": "-73.122741"})
	qpath := "/deliveries/api/quotes/" + qid + "/"
	address := func() []any {
		var a store.Address
		if err := w.Store.DB.Take(&a, "address_id = ?", aid).Error; err != nil {
			t.Fatal(err)
		}
		return floats(a.Latitude, a.Longitude)
	}
	quote := func() []any {
		var q store.Quote
		if err := w.Store.DB.Take(&q, "id = ?", qid).Error; err != nil {
			t.Fatal(err)
		}
		return floats(q.PickupLatitude, q.PickupLongitude, q.DeliveryLatitude, q.DeliveryLongitude)
	}
	steps := []struct {
		method, path string
		body         any
		status       int
		errs         map[string][]string
		check        func() []any
		want         []any
	}{
		{"PATCH", apath, map[string]any{"longitude": -76.5}, 200, nil, address, []any{3.451646, -76.5}},
		{"PATCH", apath, map[string]any{"latitude": nil}, 400, map[string][]string{"latitude": {"Este campo no puede ser nulo."}}, address, []any{3.451646, -76.5}},
		{"PUT", apath, map[string]any{"name": "Casa", "address": "Calle 1", "city": "Cali", "type": "casa", "latitude": "3.45"}, 200, nil, address, []any{3.45, -76.5}},
		{"PATCH", apath, map[string]any{"latitude": nil, "longitude": nil}, 200, nil, address, []any{nil, nil}},
		{"PATCH", apath, map[string]any{"longitude": 1}, 400, map[string][]string{"latitude": {"Este campo es requerido."}}, address, []any{nil, nil}},
		{"PATCH", qpath, map[string]any{"pickup_latitude": 7.2}, 200, nil, quote, []any{7.2, -73.122741, nil, nil}},
		{"PATCH", qpath, map[string]any{"delivery_longitude": -73.1}, 400, map[string][]string{"delivery_latitude": {"Este campo es requerido."}}, quote, []any{7.2, -73.122741, nil, nil}},
		{"PATCH", qpath, map[string]any{"pickup_longitude": nil, "client_price": 13000}, 400, map[string][]string{"pickup_longitude": {"Este campo no puede ser nulo."}}, quote, []any{7.2, -73.122741, nil, nil}},
		{"PUT", qpath, quoteBody(t, w, client, map[string]any{"delivery_latitude": 7.1, "delivery_longitude": -73.1}), 200, nil, quote, []any{7.2, -73.122741, 7.1, -73.1}},
		{"PATCH", qpath, map[string]any{"pickup_latitude": nil, "pickup_longitude": ""}, 200, nil, quote, []any{nil, nil, 7.1, -73.1}},
	}
	for i, s := range steps {
		res := w.Do(t, s.method, s.path, client.Tok, s.body)
		wantStatus(t, res, s.status)
		if s.errs != nil {
			if got := fieldErrors(t, res); !reflect.DeepEqual(got, s.errs) {
				t.Errorf("step %d: errors %v, want %v", i, got, s.errs)
			}
		}
		if got := s.check(); !reflect.DeepEqual(got, s.want) {
			t.Errorf("step %d (%s %v): stored %v, want %v", i, s.method, s.body, got, s.want)
		}
	}
	// Someone else's: 404 / 403 before the coordinates are judged.
	stranger := newActor(t, w, "user_place_stranger")
	wantStatus(t, w.Do(t, "PATCH", apath, stranger.Tok, map[string]any{"latitude": 1}), 404)
	wantStatus(t, w.Do(t, "PATCH", qpath, stranger.Tok, map[string]any{"pickup_latitude": 1, "pickup_longitude": 1}), 403)
	if got := quote(); !reflect.DeepEqual(got, []any{nil, nil, 7.1, -73.1}) {
		t.Errorf("a stranger's patch wrote: %v", got)
	}
}

// noThrottles lifts the write and quote throttles for a test that sends many bodies.
func noThrottles(c *config.Config) { c.ThrottleUserWrites, c.ThrottleQuotes = "0", "0" }

// tee publishes to a Recorder and to the in-process broker the sockets read.
type tee struct {
	rec *testutil.Recorder
	mem *realtime.Memory
}

func (p tee) Publish(ctx context.Context, msgs ...realtime.Message) error {
	_ = p.rec.Publish(ctx, msgs...)
	return p.mem.Publish(ctx, msgs...)
}

// tripOf is what place.md §2 says a quote between the two points renders.
func tripOf(a, b geo.Point) (km, minutes float64) {
	d := geo.DistanceKm(a, b)
	return geo.Round2(d), math.Ceil(d / view.DefaultTripSpeedKmh * 60)
}

// wantPlace checks the six place keys of a rendered Quote or Delivery.
func wantPlace(t *testing.T, what string, m map[string]any, want map[string]any) {
	t.Helper()
	for _, k := range []string{"pickup_latitude", "pickup_longitude", "delivery_latitude", "delivery_longitude", "distance_km", "estimated_minutes"} {
		v, ok := m[k]
		if !ok || v != want[k] {
			t.Errorf("%s: %s = %v (present %v), want %v", what, k, v, ok, want[k])
		}
	}
}

// Coordinates, distance_km and estimated_minutes everywhere a Quote or a
// Delivery is rendered (place.md §2): HTTP answers for the client and a
// driver, every event frame, the new_quotes snapshot of a real socket, and
// the delivery made at accept, which copies them all.
func TestTripRenderedEverywhere(t *testing.T) {
	t.Parallel()
	// Sockets need a subscribable broker; frames are also recorded.
	rec, mem := &testutil.Recorder{}, realtime.NewMemory()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: noThrottles, Broker: &app.Broker{Publisher: tee{rec, mem}, Memory: mem}})
	client, driver := newActor(t, w, "user_trip_client"), newActor(t, w, "user_trip_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	a, b := geo.Point{Lat: 7.119349, Lng: -73.122741}, geo.Point{Lat: 7.108601, Lng: -73.128952}
	km, minutes := tripOf(a, b)
	full := map[string]any{"pickup_latitude": a.Lat, "pickup_longitude": a.Lng, "delivery_latitude": b.Lat,
		"delivery_longitude": b.Lng, "distance_km": km, "estimated_minutes": minutes}
	if km <= 0 || minutes <= 0 {
		t.Fatalf("trip %v km %v min", km, minutes)
	}
	rec.Take()

	res := w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{
		"pickup_latitude": a.Lat, "pickup_longitude": a.Lng, "delivery_latitude": fmt.Sprint(b.Lat), "delivery_longitude": b.Lng}))
	q := mustStatus(t, res, 201)
	qid := q["id"].(string)
	wantPlace(t, "created quote", q, full)
	wantPlace(t, "the driver's GET", mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", driver.Tok, nil), 200), full)
	created := decodeFrames(t, rec.Take())
	if len(created) < 3 { // new_quotes, quote_{id}, user_quotes_{client}
		t.Fatalf("%d frames for the created quote", len(created))
	}
	for _, f := range created {
		wantPlace(t, f.Type+" → "+f.Group, f.Data, full)
	}

	// A quote with only its delivery point, and one with none: every key, null trip.
	onlyDrop := createQuote(t, w, client, map[string]any{"delivery_latitude": b.Lat, "delivery_longitude": b.Lng})
	wantPlace(t, "quote with only its delivery point", mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+onlyDrop+"/", client.Tok, nil), 200),
		map[string]any{"delivery_latitude": b.Lat, "delivery_longitude": b.Lng})
	plain := createQuote(t, w, client, nil)
	wantPlace(t, "quote without points", mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+plain+"/", driver.Tok, nil), 200), map[string]any{})
	rec.Take()

	// A driver's new_quotes snapshot over a real socket.
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{driver.Tok}}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(w.URL, "http")+"/ws/deliveries/new-quotes/", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var snap struct {
		Type   string           `json:"type"`
		Quotes []map[string]any `json:"quotes"`
	}
	if err := conn.ReadJSON(&snap); err != nil || snap.Type != "initial_quotes" {
		t.Fatalf("snapshot %v: %v", snap.Type, err)
	}
	seen := 0
	for _, sq := range snap.Quotes {
		if sq["id"] == qid {
			seen++
			wantPlace(t, "new_quotes snapshot", sq, full)
		}
	}
	if seen != 1 {
		t.Fatalf("quote %s %d times in the snapshot of %d", qid, seen, len(snap.Quotes))
	}

	// Offer and accept: the delivery carries the quote's points and trip.
	oid := makeOffer(t, w, driver, qid, 9000, 201)["id"].(string)
	rec.Take()
	acc := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)
	del := acc["delivery"].(map[string]any)
	wantPlace(t, "accepted delivery", del, full)
	did := del["id"].(string)
	wantPlace(t, "the driver's GET of the delivery", mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+did+"/", driver.Tok, nil), 200), full)
	deliveryFrames := 0
	for _, f := range decodeFrames(t, rec.Take()) {
		switch {
		case f.Data["id"] == did:
			deliveryFrames++
			wantPlace(t, f.Type+" → "+f.Group, f.Data, full)
		case f.Data["quote"] != nil:
			wantPlace(t, f.Type+" → "+f.Group+" (its quote)", f.Data["quote"].(map[string]any), full)
		}
	}
	if deliveryFrames == 0 {
		t.Fatal("accept published no frame about the delivery")
	}

	// An address renders its point.
	res = w.Do(t, "POST", "/user/api/me/addresses/", client.Tok, map[string]any{"name": "Casa", "address": "Calle 1", "city": "Bucaramanga",
		"type": "casa", "latitude": "7.1193494", "longitude": -73.1227414})
	addr := mustStatus(t, res, 201)
	if addr["latitude"] != 7.119349 || addr["longitude"] != -73.122741 {
		t.Errorf("address answered %s", res.Body)
	}
	var list []map[string]any
	w.Do(t, "GET", "/user/api/me/addresses/", client.Tok, nil).JSON(t, &list)
	if len(list) != 1 || list[0]["latitude"] != 7.119349 || list[0]["longitude"] != -73.122741 {
		t.Errorf("address list %v", list)
	}
}
