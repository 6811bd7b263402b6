package faults

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// nearbyReader follows the client's user_quotes socket on a worker and keeps
// the nearby_drivers frames.
type nearbyReader struct{ *frameReader }

func readNearby(url, token string) nearbyReader {
	return nearbyReader{readFrames(url, "/ws/deliveries/users/me/quotes/", token, "nearby_drivers")}
}

// waitCount waits for a frame with count after t; it returns when it arrived.
func (r nearbyReader) waitCount(t *testing.T, after time.Time, count int, within time.Duration) time.Time {
	t.Helper()
	has := func(data json.RawMessage) bool {
		var d struct{ Count int }
		return json.Unmarshal(data, &d) == nil && d.Count == count
	}
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if at := r.firstAfter(after, has); !at.IsZero() {
			return at
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make([]string, len(r.frames))
	for i, f := range r.frames {
		seen[i] = f.at.Format("15:04:05.000") + " " + string(f.data)
	}
	t.Fatalf("no nearby_drivers frame with count %d within %s (frames: %v)", count, within, seen)
	return time.Time{}
}

// nearby_drivers (place.md §5) through real processes (a web, a worker
// running the pass every NEARBY_INTERVAL_SECONDS=1, PostgreSQL, a
// redis-server), with Redis killed and started again. What the waiting
// client sees: its quote's count on creation; a frame within the interval
// when the only driver drives away; while Redis is away its quote still
// reads 200 with nearby_drivers null (no 5xx); once Redis is back and the
// driver sends a location, the count and its frame return.
func TestNearbyDriversRedisOutage(t *testing.T) {
	t.Parallel()
	rs := newRedisServer(t)
	s := newSystem(t, rs.url(), "faults:", "NEARBY_INTERVAL_SECONDS=1")
	w := s.startWorker("worker-1")
	a := newAPI(s.startWeb(0).url)
	client, driver := s.token("user_nb_client"), s.token("user_nb_driver")
	var moto string
	for _, vt := range a.list(t, "/user/api/me/vehicle-types/", driver) {
		if vt["name"] == "Moto" {
			moto = vt["id"].(string)
		}
	}
	veh := a.must(t, "POST", "/user/api/me/vehicles/", driver, map[string]any{"type_id": moto, "brand": "Bajaj", "model": "Boxer",
		"year": "2021", "licensePlate": "NBY12A", "vin": fmt.Sprintf("VIN%014d", time.Now().UnixNano()%1e14), "color": "Negro"}, 201)
	a.must(t, "POST", "/user/api/me/set-current-vehicle/", driver, map[string]any{"vehicle_id": veh["vehicleId"]}, 200)
	a.must(t, "POST", "/user/api/me/set-availability/", driver, map[string]any{"is_available": true}, 200)
	near := map[string]any{"latitude": 7.125, "longitude": -73.12}
	far := map[string]any{"latitude": 7.5, "longitude": -73.12} // ~42 km north
	a.must(t, "POST", "/user/api/me/location/", driver, near, 200)
	q := a.must(t, "POST", "/deliveries/api/quotes/", client, map[string]any{
		"category_id": s.categoryID(a, client), "client_price": 9000, "payment_method": "efectivo",
		"pickup_address": "Carrera 33 # 42-18, Bucaramanga", "delivery_address": "Calle 56 # 17A-23, Bucaramanga",
		"pickup_latitude": 7.119349, "pickup_longitude": -73.122741}, 201)
	if q["nearby_drivers"] != 1.0 {
		t.Fatalf("created quote: nearby_drivers %v, want 1", q["nearby_drivers"])
	}
	qid := q["id"].(string)
	r := readNearby(w.url, client)
	defer r.close()
	r.waitCount(t, time.Time{}, 1, 5*time.Second) // the pass's first sight

	time.Sleep(1100 * time.Millisecond) // the once-a-second rule
	moved := time.Now()
	a.must(t, "POST", "/user/api/me/location/", driver, far, 200)
	got := r.waitCount(t, moved, 0, 5*time.Second)
	figure(t, "nearby_drivers frame after the only driver left", "%s (NEARBY_INTERVAL_SECONDS=1)", got.Sub(moved).Round(time.Millisecond))

	rs.kill()
	status, body, err := a.do("GET", "/deliveries/api/quotes/"+qid+"/", client, nil)
	if err != nil || status != 200 || body["nearby_drivers"] != nil {
		t.Fatalf("GET while Redis is away: %d %v %v, want 200 with nearby_drivers null", status, body, err)
	}
	figure(t, "client's quote while Redis is away", "200, nearby_drivers null")

	rs.start(t)
	back := time.Now()
	// The driver comes back near: their next update is kept once the web's client reconnects.
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, _, err := a.do("POST", "/user/api/me/location/", driver, near)
		if err == nil && st == 200 {
			break
		}
		if err == nil && st >= 500 && st != 503 {
			t.Fatalf("location update answered %d", st)
		}
		if time.Now().After(end) {
			t.Fatalf("no location kept within 15 s of Redis answering (last %d %v)", st, err)
		}
	}
	got = r.waitCount(t, back, 1, 10*time.Second)
	figure(t, "nearby_drivers frame after Redis came back", "%s after the restart", got.Sub(back).Round(time.Millisecond))
	_, body, _ = a.do("GET", "/deliveries/api/quotes/"+qid+"/", client, nil)
	if body["nearby_drivers"] != 1.0 {
		t.Fatalf("after Redis came back: nearby_drivers %v, want 1", body["nearby_drivers"])
	}
}
