package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

var bogota = geo.Point{Lat: 4.711, Lng: -74.0721}

// east is the point km east of p.
func east(p geo.Point, km float64) geo.Point {
	return geo.Point{Lat: p.Lat, Lng: geo.Round6(p.Lng + km/(geo.EarthRadiusKm*math.Pi/180*math.Cos(p.Lat*math.Pi/180)))}
}

// placedQuote inserts a pending quote with its pickup at p (nil: none).
func placedQuote(t testing.TB, st *store.Store, client string, p *geo.Point, created time.Time) store.Quote {
	t.Helper()
	q := addQuote(t, st, client, created)
	if p != nil {
		if err := st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Updates(map[string]any{"pickup_latitude": p.Lat, "pickup_longitude": p.Lng}).Error; err != nil {
			t.Fatal(err)
		}
		q.PickupLatitude, q.PickupLongitude = &p.Lat, &p.Lng
	}
	return q
}

// quoteEvent publishes typ about q to new_quotes as market does: marked with
// its pickup (added: the change gave it one).
func quoteEvent(t testing.TB, pub realtime.Publisher, q store.Quote, typ string, version int64, added bool) {
	t.Helper()
	m, err := realtime.NewMessage(realtime.GroupNewQuotes, typ, map[string]any{"id": q.ID.String(), "pickup_latitude": q.PickupLatitude, "pickup_longitude": q.PickupLongitude})
	if err != nil {
		t.Fatal(err)
	}
	m = m.About(realtime.ResourceQuote(q.ID.String()), version, typ == realtime.QuoteDeleted)
	if q.PickupLatitude != nil {
		m.Pickup = &realtime.Pickup{Lat: *q.PickupLatitude, Lng: *q.PickupLongitude, Added: added}
	}
	if err := pub.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// setPickup moves q's pickup in the database (nil: none).
func setPickup(t testing.TB, st *store.Store, q *store.Quote, p *geo.Point) {
	t.Helper()
	upd := map[string]any{"pickup_latitude": nil, "pickup_longitude": nil}
	q.PickupLatitude, q.PickupLongitude = nil, nil
	if p != nil {
		upd = map[string]any{"pickup_latitude": p.Lat, "pickup_longitude": p.Lng}
		lat, lng := p.Lat, p.Lng
		q.PickupLatitude, q.PickupLongitude = &lat, &lng
	}
	if err := st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Updates(upd).Error; err != nil {
		t.Fatal(err)
	}
}

// endQuote cancels q in the database and publishes its quote_deleted.
func endQuote(t testing.TB, st *store.Store, pub realtime.Publisher, q store.Quote, version int64) {
	t.Helper()
	if err := st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Update("status", store.QuoteCancelled).Error; err != nil {
		t.Fatal(err)
	}
	quoteEvent(t, pub, q, realtime.QuoteDeleted, version, false)
}

func quoteIDs(m map[string]any) []string {
	qs, _ := m["quotes"].([]any)
	out := []string{}
	for _, q := range qs {
		out = append(out, q.(map[string]any)["id"].(string))
	}
	return out
}

// event is "<type> <quote id>" of an event frame.
func event(m map[string]any) string {
	d, _ := m["data"].(map[string]any)
	id, _ := d["id"].(string)
	return fmt.Sprint(m["type"], " ", id)
}

func setLocation(t testing.TB, locs *location.Store, user string, p geo.Point) {
	t.Helper()
	r, err := locs.Set(context.Background(), user, location.Location{Latitude: p.Lat, Longitude: p.Lng, RecordedAt: locs.Now()})
	if err != nil || r.Outcome != location.Kept {
		t.Fatalf("location of %s: %+v %v", user, r, err)
	}
}

// TestPlacedNewQuotes (place.md §4): a driver with a fresh location gets the
// quotes near them (nearest first) and those without pickup, nothing else;
// events about a quote it was sent reach it even once that quote's pickup
// moved away; moving re-snapshots; the location's expiry brings the socket
// back to every quote; an unplaced socket sees everything as before.
func TestPlacedNewQuotes(t *testing.T) {
	t.Run("local", func(t *testing.T) { testPlacedNewQuotes(t, nil) })
	t.Run("redis", func(t *testing.T) {
		url, prefix := testutil.Redis(t)
		testPlacedNewQuotes(t, redisBroker(t, url, prefix))
	})
	t.Run("cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("short")
		}
		testPlacedNewQuotes(t, clusterBroker(t, testutil.StartRedisCluster(t)))
	})
}

func testPlacedNewQuotes(t *testing.T, broker *app.Broker) {
	st := testutil.NewStore(t)
	w := startWorker(t, st, broker, app.WorkerOptions{}, func(c *config.Config) {
		c.QuoteRadiusKm = 10
		c.LocationTTLSeconds = 4
	})
	pub := w.Broker.Publisher
	client, driver, far, idle := "pl-client", "pl-driver", "pl-far", "pl-idle"
	for _, u := range []string{client, driver, far, idle} {
		addUser(t, st, u)
	}
	now := store.Now()
	near2, near6, far30, edge12 := east(bogota, 2), east(bogota, 6), east(bogota, 30), east(bogota, 12)
	qNear6 := placedQuote(t, st, client, &near6, now.Add(-4*time.Minute))
	qNear2 := placedQuote(t, st, client, &near2, now.Add(-3*time.Minute))
	qFar := placedQuote(t, st, client, &far30, now.Add(-2*time.Minute))
	qNone := placedQuote(t, st, client, nil, now.Add(-time.Minute))
	locs := w.W.Hub.Locations
	setLocation(t, locs, driver, bogota)
	medellin := geo.Point{Lat: 6.2442, Lng: -75.5812}
	setLocation(t, locs, far, medellin)

	placed := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", w.token(t, driver))
	got := quoteIDs(read(t, placed, wait))
	want := []string{qNear2.ID.String(), qNear6.ID.String(), qNone.ID.String()}
	if !slices.Equal(got, want) {
		t.Fatalf("placed snapshot %v, want %v (nearest first, then without pickup)", got, want)
	}
	elsewhere := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", w.token(t, far))
	if got := quoteIDs(read(t, elsewhere, wait)); !slices.Equal(got, []string{qNone.ID.String()}) {
		t.Fatalf("snapshot 250 km away %v, want only the quote without pickup", got)
	}
	unplaced := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", w.token(t, idle))
	if got := quoteIDs(read(t, unplaced, wait)); len(got) != 4 {
		t.Fatalf("unplaced snapshot %v, want every quote", got)
	}
	joined(t, w, realtime.GroupNewQuotes, 3)

	// New quotes: one near, one beyond the radius in a covered cell, one
	// far, one without pickup: the placed socket gets the near one and the
	// one without pickup; the other placed socket only the one without; the
	// unplaced one all four, in order.
	n1 := east(bogota, 1)
	qNew := placedQuote(t, st, client, &n1, now)
	qEdge := placedQuote(t, st, client, &edge12, now)
	qFar2 := placedQuote(t, st, client, &far30, now)
	qNone2 := placedQuote(t, st, client, nil, now)
	for _, q := range []store.Quote{qNew, qEdge, qFar2, qNone2} {
		quoteEvent(t, pub, q, realtime.QuoteCreated, 1, false)
	}
	for _, want := range []string{"quote_created " + qNew.ID.String(), "quote_created " + qNone2.ID.String()} {
		if got := event(read(t, placed, wait)); got != want {
			t.Fatalf("placed socket got %s, want %s", got, want)
		}
	}
	if got := event(read(t, elsewhere, wait)); got != "quote_created "+qNone2.ID.String() {
		t.Fatalf("the socket elsewhere got %s", got)
	}
	for _, q := range []store.Quote{qNew, qEdge, qFar2, qNone2} {
		if got := event(read(t, unplaced, wait)); got != "quote_created "+q.ID.String() {
			t.Fatalf("unplaced socket got %s, want %s", got, q.ID)
		}
	}

	// qNear2's pickup moves 30 km away: the placed socket was sent it, so it
	// gets the update and then its removal, though it is out of range now.
	setPickup(t, st, &qNear2, &far30)
	quoteEvent(t, pub, qNear2, realtime.QuoteUpdated, 2, false)
	endQuote(t, st, pub, qNear2, 3)
	// A quote without pickup that gets one far away: every socket may show it.
	setPickup(t, st, &qNone, &far30)
	quoteEvent(t, pub, qNone, realtime.QuoteUpdated, 2, true)
	endQuote(t, st, pub, qNone, 3)
	for _, want := range []string{"quote_updated " + qNear2.ID.String(), "quote_deleted " + qNear2.ID.String(),
		"quote_updated " + qNone.ID.String(), "quote_deleted " + qNone.ID.String()} {
		if got := event(read(t, placed, wait)); got != want {
			t.Fatalf("placed socket got %s, want %s", got, want)
		}
	}
	for _, want := range []string{"quote_updated " + qNone.ID.String(), "quote_deleted " + qNone.ID.String()} {
		if got := event(read(t, elsewhere, wait)); got != want {
			t.Fatalf("the socket elsewhere got %s, want %s", got, want)
		}
	}
	expectSilence(t, elsewhere, 300*time.Millisecond)

	// Moving 28 km east: a fresh snapshot of the new area.
	time.Sleep(1100 * time.Millisecond) // the once-a-second rule runs on the real clock here
	setLocation(t, locs, driver, east(bogota, 28))
	m := read(t, placed, wait)
	if m["type"] != "initial_quotes" {
		t.Fatalf("after moving: %v, want initial_quotes", m)
	}
	got = quoteIDs(m)
	if len(got) != 3 || !slices.Contains(got[:2], qFar.ID.String()) || !slices.Contains(got[:2], qFar2.ID.String()) || got[2] != qNone2.ID.String() {
		t.Fatalf("snapshot after moving %v, want the two far quotes then %s", got, qNone2.ID)
	}
	// From now on the new area's events, and no more of the old one's.
	endQuote(t, st, pub, qNew, 2)
	endQuote(t, st, pub, qFar, 2)
	if got := event(read(t, placed, wait)); got != "quote_deleted "+qFar.ID.String() {
		t.Fatalf("after moving got %s, want the far quote's removal only", got)
	}

	// The location expires (4 s): back to unplaced, a snapshot of every quote.
	_ = placed.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := placed.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the unplaced snapshot: %v", err)
		}
		if strings.Contains(string(b), `"initial_quotes"`) {
			m := map[string]any{}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if got := quoteIDs(m); len(got) != 4 { // qNear6, qEdge, qFar2, qNone2 remain pending
				t.Fatalf("unplaced again: snapshot %v, want the 4 quotes left", got)
			}
			break
		}
	}
	endQuote(t, st, pub, qEdge, 2)
	if got := event(read(t, placed, wait)); got != "quote_deleted "+qEdge.ID.String() {
		t.Fatalf("unplaced again, got %s", got)
	}
}
