package httpapi_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
	"hermez/pkg/track"
)

// socketLog is a socket whose every text frame is kept, raw.
type socketLog struct {
	mu     sync.Mutex
	frames []string
	conn   *websocket.Conn
}

func openLog(t *testing.T, w *testutil.Web, tok, path string) *socketLog {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{tok}}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(w.URL, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	s := &socketLog{conn: conn}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.frames = append(s.frames, string(b))
			s.mu.Unlock()
		}
	}()
	return s
}

// ofType are the data objects of the frames of type typ received so far.
func (s *socketLog) ofType(t *testing.T, typ string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, f := range s.frames {
		var m struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if json.Unmarshal([]byte(f), &m) == nil && m.Type == typ {
			out = append(out, m.Data)
		}
	}
	return out
}

func (s *socketLog) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.frames, "\n")
}

// refETA is place.md §6's ETA computed here independently: haversine on the
// 6371.0088 km sphere, v the reported speed (m/s) when above 2, else 20 km/h.
func refETA(lat1, lng1, lat2, lng2 float64, speed *float64) (km float64, minutes float64) {
	rad := math.Pi / 180
	a := math.Pow(math.Sin((lat2-lat1)*rad/2), 2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Pow(math.Sin((lng2-lng1)*rad/2), 2)
	d := 2 * 6371.0088 * math.Asin(math.Sqrt(a))
	v := 20.0
	if speed != nil && *speed > 2 {
		v = *speed * 3.6
	}
	return math.Round(d*100) / 100, math.Ceil(d / v * 60)
}

func fp(v float64) *float64 { return &v }

// A tracked delivery over HTTP and real sockets (place.md §6): frames only to
// delivery_{id} and user_deliveries_{client}, distance and ETA against a
// reference computation for the delivery's state, driver_location on the
// party's reads and null for staff, nothing of it on a third user's sockets
// or reads, the first frame on joining delivery_{id}, the trail sampled at
// fixed instants (injected clock), its last point written when the delivery
// ends, no frame after, the track route's ownership, and its retention.
func TestTrackedDelivery(t *testing.T) {
	t.Parallel()
	rec, mem := &testutil.Recorder{}, realtime.NewMemory()
	clk := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	st := testutil.NewStore(t)
	st.Now = clk.Now
	w := testutil.NewWeb(t, testutil.WebOptions{Store: st, Config: noThrottles, Broker: &app.Broker{Publisher: tee{rec, mem}, Memory: mem}})
	client, driver, other, staff := newActor(t, w, "trk_client"), newActor(t, w, "trk_driver"), newActor(t, w, "trk_other"), newActor(t, w, "trk_staff")
	if err := st.DB.Model(&store.User{}).Where("userid = ?", staff.ID).Update("is_staff", true).Error; err != nil {
		t.Fatal(err)
	}
	w.App.Auth.Forget(staff.ID)
	addVehicle(t, w, driver.ID, "Moto", false)
	pickup, drop := geo.Point{Lat: 7.119349, Lng: -73.122741}, geo.Point{Lat: 7.108601, Lng: -73.128952}
	qid := createQuote(t, w, client, map[string]any{"pickup_latitude": pickup.Lat, "pickup_longitude": pickup.Lng,
		"delivery_latitude": drop.Lat, "delivery_longitude": drop.Lng})
	offer := makeOffer(t, w, driver, qid, 11000, 201)
	acc := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+offer["id"].(string)+"/accept/", client.Tok, nil), 201)
	id := acc["delivery_id"].(string)
	if acc["delivery"].(map[string]any)["driver_location"] != nil {
		t.Fatalf("driver_location before any location: %v", acc["delivery"])
	}

	clientDelivery := openLog(t, w, client.Tok, "/ws/deliveries/"+id+"/")
	clientList := openLog(t, w, client.Tok, "/ws/deliveries/users/me/deliveries/")
	otherList := openLog(t, w, other.Tok, "/ws/deliveries/users/me/deliveries/")
	otherNew := openLog(t, w, other.Tok, "/ws/deliveries/new-quotes/")
	driverList := openLog(t, w, driver.Tok, "/ws/deliveries/drivers/me/deliveries/")
	// Each socket's snapshot is there: they joined.
	for _, s := range []*socketLog{clientList, otherList, otherNew, driverList} {
		testutil.Eventually(t, 5*time.Second, "snapshot", func() bool { return s.all() != "" })
	}
	rec.Take()

	// The driver moves towards the pickup: the frame reaches the client's two sockets only.
	start := clk.Now()
	loc := func(lat, lng float64, speed *float64) *testutil.Response {
		body := map[string]any{"latitude": lat, "longitude": lng}
		if speed != nil {
			body["speed"] = *speed
		}
		return w.Do(t, "POST", "/user/api/me/location/", driver.Tok, body)
	}
	wantStatus(t, loc(7.130001, -73.120002, fp(5)), 200)
	testutil.Eventually(t, 5*time.Second, "driver_location on the client's sockets", func() bool {
		return len(clientDelivery.ofType(t, "driver_location")) == 1 && len(clientList.ofType(t, "driver_location")) == 1
	})
	f := clientDelivery.ofType(t, "driver_location")[0]
	km, minutes := refETA(7.130001, -73.120002, pickup.Lat, pickup.Lng, fp(5))
	if f["delivery_id"] != id || f["latitude"] != 7.130001 || f["distance_remaining_km"] != km || f["eta_minutes"] != minutes || f["speed"] != 5.0 {
		t.Fatalf("frame %v; want %v km, %v min to the pickup", f, km, minutes)
	}
	for _, m := range rec.Take() {
		if m.Type == track.EventDriverLocation && m.Group != realtime.GroupDelivery(id) && m.Group != realtime.GroupUserDeliveries(client.ID) {
			t.Fatalf("driver_location to %s", m.Group)
		}
	}

	// Reads: the client and the driver see it; staff and a third user do not.
	got := mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+id+"/", client.Tok, nil), 200)
	if dl, _ := got["driver_location"].(map[string]any); dl == nil || dl["latitude"] != 7.130001 || dl["eta_minutes"] != minutes {
		t.Fatalf("client's read: %v", got["driver_location"])
	}
	list := w.Do(t, "GET", "/deliveries/api/?filter_by=delivery_person", driver.Tok, nil)
	if !strings.Contains(string(list.Body), `"driver_location":{"delivery_id":"`+id) {
		t.Fatalf("driver's list: %s", list.Body)
	}
	if m := mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+id+"/", staff.Tok, nil), 200); m["driver_location"] != nil {
		t.Fatalf("staff's read carries driver_location: %v", m["driver_location"])
	}
	wantStatus(t, w.Do(t, "GET", "/deliveries/api/"+id+"/", other.Tok, nil), 404)
	// A new socket on delivery_{id} gets the last fresh location first.
	late := openLog(t, w, driver.Tok, "/ws/deliveries/"+id+"/")
	testutil.Eventually(t, 5*time.Second, "first frame", func() bool { return late.all() != "" })
	if first := late.all(); !strings.HasPrefix(first, `{"type":"driver_location","data":{"delivery_id":"`+id) {
		t.Fatalf("first frame on joining: %s", first)
	}

	// Sampling at fixed instants: moving 3 m a second, a point every 15 s
	// (the first one kept); then a jump of 100 m is kept at once.
	lat := func(i int) float64 { return geo.Round6(7.130001 - float64(i)*0.000027) }
	for i := 1; i <= 16; i++ {
		clk.Add(time.Second)
		wantStatus(t, loc(lat(i), -73.120002, nil), 200)
	}
	clk.Add(time.Second)
	jump := geo.Round6(lat(16) - 0.0009) // ~100 m from the last
	wantStatus(t, loc(jump, -73.120002, nil), 200)
	testutil.Eventually(t, 5*time.Second, "three trail points", func() bool {
		var n int64
		st.DB.Model(&store.TrackPoint{}).Where("delivery_id = ?", id).Count(&n)
		return n == 3
	})
	var tr struct {
		DeliveryID string `json:"delivery_id"`
		Points     []struct {
			Latitude   float64 `json:"latitude"`
			RecordedAt string  `json:"recorded_at"`
		} `json:"points"`
		DistanceKm float64 `json:"distance_km"`
	}
	w.Do(t, "GET", "/deliveries/api/"+id+"/track/", client.Tok, nil).JSON(t, &tr)
	wantTimes := []time.Time{start, start.Add(15 * time.Second), start.Add(17 * time.Second)}
	wantLats := []float64{7.130001, lat(15), jump}
	if tr.DeliveryID != id || len(tr.Points) != 3 {
		t.Fatalf("track %+v", tr)
	}
	for i, p := range tr.Points {
		at, err := time.Parse(time.RFC3339Nano, p.RecordedAt)
		if err != nil || !at.Equal(wantTimes[i]) || p.Latitude != wantLats[i] {
			t.Fatalf("point %d at %s %v, want %s %v", i, p.RecordedAt, p.Latitude, wantTimes[i], wantLats[i])
		}
	}
	if want := geo.Round2(geo.DistanceKm(geo.Point{Lat: wantLats[0], Lng: -73.120002}, geo.Point{Lat: wantLats[1], Lng: -73.120002}) +
		geo.DistanceKm(geo.Point{Lat: wantLats[1], Lng: -73.120002}, geo.Point{Lat: wantLats[2], Lng: -73.120002})); tr.DistanceKm != want {
		t.Fatalf("distance_km %v, want %v", tr.DistanceKm, want)
	}

	// Picked up: the distance is to the delivery point now.
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+id+"/change_status/", driver.Tok, nil), 200)
	clk.Add(time.Second)
	n := len(clientList.ofType(t, "driver_location"))
	wantStatus(t, loc(7.12, -73.125, fp(1)), 200) // 1 m/s: below 2, the trip speed counts
	testutil.Eventually(t, 5*time.Second, "frame after pickup", func() bool { return len(clientList.ofType(t, "driver_location")) == n+1 })
	f = clientList.ofType(t, "driver_location")[n]
	km, minutes = refETA(7.12, -73.125, drop.Lat, drop.Lng, fp(1))
	if f["distance_remaining_km"] != km || f["eta_minutes"] != minutes {
		t.Fatalf("after pickup %v; want %v km %v min to the delivery point", f, km, minutes)
	}

	// Ownership of the trail.
	for _, c := range []struct {
		who    actor
		status int
	}{{client, 200}, {driver, 200}, {staff, 200}, {other, 404}} {
		wantStatus(t, w.Do(t, "GET", "/deliveries/api/"+id+"/track/", c.who.Tok, nil), c.status)
	}
	wantStatus(t, w.Do(t, "GET", "/deliveries/api/"+uuid.NewString()+"/track/", client.Tok, nil), 404)
	wantStatus(t, w.Do(t, "GET", "/deliveries/api/not-a-uuid/track/", client.Tok, nil), 404)
	wantStatus(t, w.Do(t, "GET", "/deliveries/api/"+id+"/track/", "", nil), 401)

	// Delivered: the last location, not sampled (1 m and 1 s after the last
	// point), is kept as the trail's last point.
	clk.Add(time.Second)
	wantStatus(t, loc(7.12001, -73.125, nil), 200) // 1 m, 1 s: not sampled
	testutil.Eventually(t, 5*time.Second, "frame", func() bool { return len(clientList.ofType(t, "driver_location")) == n+2 })
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+id+"/change_status/", driver.Tok, nil), 200) // in_transit
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+id+"/change_status/", driver.Tok, nil), 200) // delivered
	ended := clk.Now()
	var ps []store.TrackPoint
	testutil.Eventually(t, 5*time.Second, "five trail points", func() bool {
		ps, _ = track.Points(context.Background(), st, uuid.MustParse(id))
		return len(ps) == 5
	})
	if ps[3].Latitude != 7.12 || ps[4].Latitude != 7.12001 {
		t.Fatalf("trail after delivery: %v", ps)
	}
	// Nothing after the delivery left the active states.
	clk.Add(2 * time.Second)
	before := len(clientList.ofType(t, "driver_location"))
	wantStatus(t, loc(7.1, -73.1, nil), 200)
	time.Sleep(300 * time.Millisecond) // a frame would have arrived by now (it took ms above)
	if after := len(clientList.ofType(t, "driver_location")); after != before {
		t.Fatalf("%d driver_location frames after delivery", after-before)
	}
	if m := mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+id+"/", client.Tok, nil), 200); m["driver_location"] != nil {
		t.Fatalf("delivered delivery still carries driver_location: %v", m["driver_location"])
	}

	// The third user's sockets never carried the driver's coordinates.
	for _, s := range []*socketLog{otherList, otherNew} {
		if a := s.all(); strings.Contains(a, "driver_location") || strings.Contains(a, "7.130001") || strings.Contains(a, "7.12001") {
			t.Fatalf("third user's socket: %s", a)
		}
	}

	// Retention: kept until TRACK_RETENTION_DAYS after it ended, then deleted.
	clk.Set(ended.Add(30*24*time.Hour - time.Second))
	if n, err := track.Purge(context.Background(), st, 30*24*time.Hour); err != nil || n != 0 {
		t.Fatalf("purge before retention: %d %v", n, err)
	}
	clk.Set(ended.Add(30*24*time.Hour + time.Second))
	if n, err := track.Purge(context.Background(), st, 30*24*time.Hour); err != nil || n != 5 {
		t.Fatalf("purge after retention: %d %v", n, err)
	}
}

func (c *testClock) Set(at time.Time) {
	c.mu.Lock()
	c.now = at
	c.mu.Unlock()
}

// Order under out-of-order recorded_at (place.md §6): two updates of one
// driver handled in the wrong order — as when two processes keep them a
// second apart and publish them late — reach a socket newest only: the
// older position is never delivered after the newer one.
func TestDriverLocationOrder(t *testing.T) {
	t.Parallel()
	mem := realtime.NewMemory()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: noThrottles, Broker: &app.Broker{Publisher: mem, Memory: mem}})
	client, driver := newActor(t, w, "ord_client"), newActor(t, w, "ord_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	qid := createQuote(t, w, client, map[string]any{"pickup_latitude": 7.1, "pickup_longitude": -73.1})
	offer := makeOffer(t, w, driver, qid, 11000, 201)
	id := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+offer["id"].(string)+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
	sock := openLog(t, w, client.Tok, "/ws/deliveries/"+id+"/")
	list := openLog(t, w, client.Tok, "/ws/deliveries/users/me/deliveries/")
	testutil.Eventually(t, 5*time.Second, "snapshot", func() bool { return list.all() != "" })

	trk, ctx, now := w.App.Market.Tracking, context.Background(), time.Now().UTC()
	newer := location.Location{Latitude: 7.2, Longitude: -73.2, RecordedAt: now.Add(2 * time.Second)}
	older := location.Location{Latitude: 7.3, Longitude: -73.3, RecordedAt: now.Add(time.Second)}
	newest := location.Location{Latitude: 7.4, Longitude: -73.4, RecordedAt: now.Add(3 * time.Second)}
	for _, l := range []location.Location{newer, older, newest} {
		if err := trk.Handle(ctx, driver.ID, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*socketLog{sock, list} {
		testutil.Eventually(t, 5*time.Second, "newest position", func() bool { return strings.Contains(s.all(), "7.4") })
		var lats []float64
		for _, f := range s.ofType(t, "driver_location") {
			lats = append(lats, f["latitude"].(float64))
		}
		if len(lats) != 2 || lats[0] != 7.2 || lats[1] != 7.4 {
			t.Fatalf("positions received %v, want [7.2 7.4] (7.3 is older than 7.2)", lats)
		}
	}
}
