package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/audit"
	"hermez/pkg/console"
	"hermez/pkg/geo"
	"hermez/pkg/nearby"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// kmEast is the point km east of p (6 decimals, as stored).
func kmEast(p geo.Point, km float64) geo.Point {
	return geo.Point{Lat: p.Lat, Lng: geo.Round6(p.Lng + km/(111.195*math.Cos(p.Lat*math.Pi/180)))}
}

// nearbyOf reads nearby_drivers of a rendered quote: -1 when null.
func nearbyOf(t *testing.T, what string, m map[string]any) int {
	t.Helper()
	v, ok := m["nearby_drivers"]
	if !ok {
		t.Fatalf("%s: no nearby_drivers key in %v", what, m)
	}
	if v == nil {
		return -1
	}
	return int(v.(float64))
}

// nearbyFrames decodes the nearby_drivers frames among msgs: group → count.
func nearbyFrames(t *testing.T, msgs []realtime.Message) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range msgs {
		if m.Type != realtime.NearbyDrivers {
			continue
		}
		var f struct {
			Type string `json:"type"`
			Data struct {
				QuoteID string `json:"quote_id"`
				Count   int    `json:"count"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Payload, &f); err != nil || f.Type != "nearby_drivers" {
			t.Fatalf("frame %s: %v", m.Payload, err)
		}
		if !strings.HasSuffix(m.Group, f.Data.QuoteID) && !strings.HasPrefix(m.Group, "user_quotes_") {
			t.Fatalf("frame for %s sent to %s", f.Data.QuoteID, m.Group)
		}
		if _, dup := out[m.Group]; dup {
			t.Fatalf("two frames to %s in one tick", m.Group)
		}
		out[m.Group] = f.Data.Count
	}
	return out
}

// TestNearbyDrivers is place.md §5 over HTTP, the client's frames, a socket
// snapshot and the runner's pass, on the in-process store (local mode) and on
// Redis, with PostgreSQL when TEST_DATABASE_URL is set: who is counted (in
// radius, available, with a vehicle, fresh; the client excluded), who sees
// it (the client only), the frames when the count changes and none once the
// quote left pending; a suspended driver's location is forgotten.
func TestNearbyDrivers(t *testing.T) {
	brokers := map[string]func(t *testing.T, rec *testutil.Recorder) *app.Broker{
		"local": func(_ *testing.T, rec *testutil.Recorder) *app.Broker {
			mem := realtime.NewMemory()
			return &app.Broker{Publisher: tee{rec, mem}, Memory: mem}
		},
		"redis": func(t *testing.T, rec *testutil.Recorder) *app.Broker {
			url, _ := testutil.Redis(t)
			c, err := realtime.OpenRedis(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return &app.Broker{Publisher: rec, Redis: c}
		},
	}
	for name, mk := range brokers {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rec := &testutil.Recorder{}
			w, clk := locationWeb(t, mk(t, rec), noThrottles)
			if name == "redis" {
				_, prefix := testutil.Redis(t)
				w.Config.RedisPrefix = prefix
			}
			locs := w.App.Broker.Locations(w.Config, nil)
			pickup := geo.Point{Lat: 7.119349, Lng: -73.122741} // Bucaramanga
			client := newActor(t, w, "nb_client")
			drivers := map[string]actor{}
			for _, id := range []string{"nb_near", "nb_near2", "nb_far", "nb_novehicle", "nb_busy", "nb_stale", "nb_novehicle"} {
				drivers[id] = newActor(t, w, id)
			}
			for _, id := range []string{"nb_near", "nb_near2", "nb_far", "nb_busy", "nb_stale"} {
				addVehicle(t, w, id, "Moto", false)
			}
			addVehicle(t, w, client.ID, "Moto", false) // the client drives too: still never counted for their own quote
			setAvail := func(a actor, on bool) {
				t.Helper()
				mustStatus(t, w.Do(t, "POST", "/user/api/me/set-availability/", a.Tok, map[string]any{"is_available": on}), 200)
			}
			for _, a := range []actor{drivers["nb_near"], drivers["nb_near2"], drivers["nb_far"], drivers["nb_novehicle"], drivers["nb_stale"], client} {
				setAvail(a, true)
			}
			setAvail(drivers["nb_busy"], false)
			locate := func(a actor, p geo.Point, ago time.Duration) {
				t.Helper()
				body := map[string]any{"latitude": p.Lat, "longitude": p.Lng, "recorded_at": clk.Now().Add(-ago).Format(time.RFC3339Nano)}
				mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", a.Tok, body), 200)
			}
			locate(drivers["nb_near"], kmEast(pickup, 2), 0)
			locate(drivers["nb_near2"], kmEast(pickup, 9.5), 0)
			locate(drivers["nb_far"], kmEast(pickup, 10.5), 0) // QUOTE_RADIUS_KM is 10
			locate(drivers["nb_novehicle"], kmEast(pickup, 1), 0)
			locate(drivers["nb_busy"], kmEast(pickup, 1), 0)
			locate(drivers["nb_stale"], kmEast(pickup, 1), w.Config.LocationTTL()-5*time.Second)
			locate(client, pickup, 0)
			clk.Add(6 * time.Second) // nb_stale's location is no longer fresh
			rec.Take()

			// The client's answers: nb_near and nb_near2.
			q := mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{
				"pickup_latitude": pickup.Lat, "pickup_longitude": pickup.Lng})), 201)
			qid := q["id"].(string)
			if n := nearbyOf(t, "the created quote", q); n != 2 {
				t.Fatalf("created quote: nearby_drivers %d, want 2 (nb_near, nb_near2)", n)
			}
			if n := nearbyOf(t, "client's GET", mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", client.Tok, nil), 200)); n != 2 {
				t.Fatalf("client's GET: %d", n)
			}
			// Other audiences: null.
			if n := nearbyOf(t, "driver's GET", mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", drivers["nb_near"].Tok, nil), 200)); n != -1 {
				t.Fatalf("a driver's GET renders nearby_drivers %d, want null", n)
			}
			for _, f := range decodeFrames(t, rec.Take()) {
				want := 2
				if f.Group == realtime.GroupNewQuotes {
					want = -1
				}
				if n := nearbyOf(t, f.Type+" → "+f.Group, f.Data); n != want {
					t.Fatalf("%s → %s: nearby_drivers %d, want %d", f.Type, f.Group, n, want)
				}
			}
			// A quote without a pickup: null, even for its client.
			plain := createQuote(t, w, client, map[string]any{"delivery_latitude": pickup.Lat, "delivery_longitude": pickup.Lng})
			if n := nearbyOf(t, "quote without pickup", mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+plain+"/", client.Tok, nil), 200)); n != -1 {
				t.Fatalf("quote without pickup: %d, want null", n)
			}
			var list []map[string]any
			w.Do(t, "GET", "/deliveries/api/quotes/", client.Tok, nil).JSON(t, &list)
			seen := 0
			for _, m := range list {
				switch m["id"] {
				case qid:
					seen++
					if nearbyOf(t, "list", m) != 2 {
						t.Fatalf("client's list: %v", m["nearby_drivers"])
					}
				case plain:
					seen++
					if nearbyOf(t, "list", m) != -1 {
						t.Fatalf("client's list, no pickup: %v", m["nearby_drivers"])
					}
				}
			}
			if seen != 2 {
				t.Fatalf("client's list has %d of the 2 quotes", seen)
			}
			// An offer's frames carry the quote with the count for its client only.
			rec.Take()
			offer := makeOffer(t, w, drivers["nb_near"], qid, 11000, 201)
			if n := nearbyOf(t, "offer answer's quote", offer["quote"].(map[string]any)); n != -1 {
				t.Fatalf("the driver's offer answer shows nearby_drivers %d", n)
			}
			for _, f := range decodeFrames(t, rec.Take()) {
				qm, _ := f.Data["quote"].(map[string]any)
				if qm == nil {
					continue
				}
				want := 2
				if strings.HasPrefix(f.Group, "driver_offers_") {
					want = -1
				}
				if n := nearbyOf(t, f.Type+" → "+f.Group, qm); n != want {
					t.Fatalf("%s → %s: quote.nearby_drivers %d, want %d", f.Type, f.Group, n, want)
				}
			}

			// The quote nested in the offers the client reads carries it; the driver's read does not.
			var offers []map[string]any
			w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/offers/", client.Tok, nil).JSON(t, &offers)
			if len(offers) != 1 || nearbyOf(t, "client's offers", offers[0]["quote"].(map[string]any)) != 2 {
				t.Fatalf("client's offers list: %v", offers)
			}
			if n := nearbyOf(t, "driver's offer", mustStatus(t, w.Do(t, "GET", "/deliveries/api/offers/"+offer["id"].(string)+"/", drivers["nb_near"].Tok, nil), 200)["quote"].(map[string]any)); n != -1 {
				t.Fatalf("the driver's read of their offer shows nearby_drivers %d", n)
			}

			// The runner's pass: the first sight of a quote sends its count,
			// then a frame only when it changes.
			loop := &nearby.Loop{Store: w.Store, Counter: w.App.Market.Nearby, Publisher: rec}
			rec.Take()
			tick := func() map[string]int {
				t.Helper()
				if _, err := loop.Tick(ctx); err != nil {
					t.Fatal(err)
				}
				return nearbyFrames(t, rec.Take())
			}
			qg, ug := realtime.GroupQuote(qid), realtime.GroupUserQuotes(client.ID)
			if got := tick(); fmt.Sprint(got) != fmt.Sprint(map[string]int{qg: 2, ug: 2}) {
				t.Fatalf("first pass: %v", got)
			}
			if got := tick(); len(got) != 0 {
				t.Fatalf("nothing changed, yet: %v", got)
			}
			// nb_busy becomes available, nb_near stops being: 2 again, no frame.
			setAvail(drivers["nb_busy"], true)
			setAvail(drivers["nb_near"], false)
			if got := tick(); len(got) != 0 {
				t.Fatalf("count unchanged (2), yet: %v", got)
			}
			// nb_near2 drives away: 1.
			clk.Add(time.Second)
			locate(drivers["nb_near2"], kmEast(pickup, 30), 0)
			if got := tick(); got[qg] != 1 || got[ug] != 1 || len(got) != 2 {
				t.Fatalf("after nb_near2 left: %v", got)
			}
			// A suspended driver's location is forgotten, and no longer counted.
			staff, err := console.New(w.Store).CreateAccount(ctx, "nb_staff", "una-clave-larga-1", false)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.App.Account.Suspend(ctx, &audit.Staff{ID: staff.ID, Username: staff.Username}, "nb_busy", "Documentos vencidos"); err != nil {
				t.Fatalf("suspend: %v", err)
			}
			if l, err := locs.Get(ctx, "nb_busy"); err != nil || l != nil {
				t.Fatalf("the suspended driver's location is still kept: %+v %v", l, err)
			}
			if got := tick(); got[qg] != 0 || got[ug] != 0 {
				t.Fatalf("after nb_busy's suspension: %v", got)
			}
			// The client's socket snapshot carries the count.
			clk.Add(time.Second)
			locate(drivers["nb_near2"], kmEast(pickup, 3), 0)
			if name == "local" {
				for _, path := range []string{"/ws/deliveries/quotes/" + qid + "/", "/ws/deliveries/users/" + client.ID + "/quotes/"} {
					d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{client.Tok}}
					conn, _, err := d.Dial("ws"+strings.TrimPrefix(w.URL, "http")+path, nil)
					if err != nil {
						t.Fatalf("dial %s: %v", path, err)
					}
					_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					var snap struct {
						Type   string           `json:"type"`
						Quotes []map[string]any `json:"quotes"`
					}
					err = conn.ReadJSON(&snap)
					_ = conn.Close()
					if err != nil {
						t.Fatalf("snapshot %s: %v", path, err)
					}
					found := false
					for _, m := range snap.Quotes {
						if m["id"] == qid {
							found = true
							if n := nearbyOf(t, path, m); n != 1 {
								t.Fatalf("%s snapshot: nearby_drivers %d, want 1 (nb_near2)", path, n)
							}
						}
					}
					if !found {
						t.Fatalf("%s snapshot without the quote: %+v", path, snap)
					}
				}
			}
			// Once the quote left pending (cancelled): no frame, null everywhere.
			mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/cancel/", client.Tok, nil), 200)
			clk.Add(time.Second)
			locate(drivers["nb_near2"], kmEast(pickup, 1), 0)
			setAvail(drivers["nb_near"], true)
			if got := tick(); len(got) != 0 {
				t.Fatalf("frames after the quote left pending: %v", got)
			}
		})
	}
}

// flaky fails its first publish.
type flaky struct {
	rec    *testutil.Recorder
	failed bool
}

func (f *flaky) Publish(ctx context.Context, msgs ...realtime.Message) error {
	if !f.failed {
		f.failed = true
		return fmt.Errorf("broker away")
	}
	return f.rec.Publish(ctx, msgs...)
}

// A pass whose publish failed records nothing as sent: the next pass sends
// the count (a client never misses a change because the broker blinked).
func TestNearbyPassRetriesAfterPublishFailure(t *testing.T) {
	w, clk := locationWeb(t, nil, noThrottles)
	pickup := geo.Point{Lat: 4.711, Lng: -74.0721}
	client, driver := newActor(t, w, "nbr_client"), newActor(t, w, "nbr_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	mustStatus(t, w.Do(t, "POST", "/user/api/me/set-availability/", driver.Tok, map[string]any{"is_available": true}), 200)
	clk.Add(time.Second)
	p := kmEast(pickup, 1)
	mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", driver.Tok, map[string]any{"latitude": p.Lat, "longitude": p.Lng}), 200)
	qid := createQuote(t, w, client, map[string]any{"pickup_latitude": pickup.Lat, "pickup_longitude": pickup.Lng})
	rec := &testutil.Recorder{}
	loop := &nearby.Loop{Store: w.Store, Counter: w.App.Market.Nearby, Publisher: &flaky{rec: rec}}
	if _, err := loop.Tick(context.Background()); err == nil {
		t.Fatal("the failed publish was not reported")
	}
	n, err := loop.Tick(context.Background())
	got := nearbyFrames(t, rec.Take())
	if err != nil || n != 1 || got[realtime.GroupQuote(qid)] != 1 || got[realtime.GroupUserQuotes(client.ID)] != 1 {
		t.Fatalf("the pass after the failure: %d %v %v", n, got, err)
	}
	if n, _ := loop.Tick(context.Background()); n != 0 {
		t.Fatalf("sent again without a change: %d", n)
	}
}
