package httpapi_test

import (
	"context"
	"testing"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/geo"
	"hermez/pkg/nearby"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// TestNearbyDriversRedisAway: the location store (its own redis-server) is
// killed and restarted. What the client sees meanwhile: its quote answers
// (GET 200, a new quote 201) with nearby_drivers null, never a 5xx; the
// runner's pass fails (logged) and sends nothing. After Redis is back (empty:
// locations are never persisted) and the driver sends their next location,
// the count returns, and the pass sends it.
func TestNearbyDriversRedisAway(t *testing.T) {
	rs := testutil.StartRedisServer(t)
	c, err := realtime.OpenRedis(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rec := &testutil.Recorder{}
	w, clk := locationWeb(t, &app.Broker{Publisher: rec, Redis: c}, noThrottles)
	pickup := geo.Point{Lat: 4.711, Lng: -74.0721}
	client, driver := newActor(t, w, "nbf_client"), newActor(t, w, "nbf_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	mustStatus(t, w.Do(t, "POST", "/user/api/me/set-availability/", driver.Tok, map[string]any{"is_available": true}), 200)
	locate := func() {
		t.Helper()
		clk.Add(time.Second)
		p := kmEast(pickup, 1)
		mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", driver.Tok, map[string]any{"latitude": p.Lat, "longitude": p.Lng}), 200)
	}
	locate()
	with := map[string]any{"pickup_latitude": pickup.Lat, "pickup_longitude": pickup.Lng}
	qid := createQuote(t, w, client, with)
	get := func() map[string]any {
		t.Helper()
		return mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", client.Tok, nil), 200)
	}
	if n := nearbyOf(t, "before", get()); n != 1 {
		t.Fatalf("before the outage: %d", n)
	}
	loop := &nearby.Loop{Store: w.Store, Counter: w.App.Market.Nearby, Publisher: rec}
	if _, err := loop.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.Take()

	rs.Kill()
	if n := nearbyOf(t, "GET while Redis is away", get()); n != -1 {
		t.Fatalf("while Redis is away: %d, want null", n)
	}
	res := w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, with))
	second := mustStatus(t, res, 201)
	if n := nearbyOf(t, "quote created while Redis is away", second); n != -1 {
		t.Fatalf("created while Redis is away: %d, want null", n)
	}
	if _, err := loop.Tick(context.Background()); err == nil {
		t.Fatal("the pass succeeded without its location store")
	}
	if got := nearbyFrames(t, rec.Take()); len(got) != 0 {
		t.Fatalf("frames while Redis is away: %v", got)
	}

	rs.Restart()
	testutil.Eventually(t, 10*time.Second, "Redis answers again", func() bool { return c.Ping(context.Background()).Err() == nil })
	if n := nearbyOf(t, "after, before the next location", get()); n != 0 {
		t.Fatalf("after the restart, before the driver's next location: %d, want 0 (nothing persisted)", n)
	}
	locate()
	if n := nearbyOf(t, "after", get()); n != 1 {
		t.Fatalf("after the driver's next location: %d, want 1", n)
	}
	if _, err := loop.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The quote created meanwhile gets its first count; the first one's is
	// unchanged (1 before, 1 after): no frame for it.
	got := nearbyFrames(t, rec.Take())
	if n, ok := got[realtime.GroupQuote(second["id"].(string))]; !ok || n != 1 || len(got) != 2 {
		t.Fatalf("the pass after the outage: %v", got)
	}
}
