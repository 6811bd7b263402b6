package faults

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// trackedDelivery makes driverSub a Moto and has client accept its offer on a
// new quote: the delivery's id.
func (s *system) trackedDelivery(a *api, client, driverSub string) string {
	s.t.Helper()
	driver := s.token(driverSub)
	var moto string
	for _, vt := range a.list(s.t, "/user/api/me/vehicle-types/", driver) {
		if vt["name"] == "Moto" {
			moto = vt["id"].(string)
		}
	}
	plate := strings.ToUpper(driverSub[len(driverSub)-3:]) + "12A"
	veh := a.must(s.t, "POST", "/user/api/me/vehicles/", driver, map[string]any{"type_id": moto, "brand": "Bajaj", "model": "Boxer",
		"year": "2021", "licensePlate": plate, "vin": fmt.Sprintf("VIN%014d", time.Now().UnixNano()%1e14), "color": "Negro"}, 201)
	a.must(s.t, "POST", "/user/api/me/set-current-vehicle/", driver, map[string]any{"vehicle_id": veh["vehicleId"]}, 200)
	q := s.createQuote(a, client, 9000)
	o := a.must(s.t, "POST", "/deliveries/api/quotes/"+q+"/offers/", driver, map[string]any{"proposed_price": 9500}, 201)
	return a.must(s.t, "POST", "/deliveries/api/offers/"+o["id"].(string)+"/accept/", client, nil, 201)["delivery_id"].(string)
}

// locationReader follows a user_deliveries socket and keeps when each
// driver_location frame arrived.
type locationReader struct{ *frameReader }

func readLocations(url, token string) locationReader {
	return locationReader{readFrames(url, "/ws/deliveries/users/me/deliveries/", token, "driver_location")}
}

// firstAfter is when the first frame after t arrived (zero: none yet).
func (r locationReader) firstAfter(t time.Time) time.Time {
	return r.frameReader.firstAfter(t, func(json.RawMessage) bool { return true })
}

// Redis killed while drivers send locations (place.md §6): every update is
// answered — 200, or 503 with the Spanish detail while Redis is away (the
// location is not kept; counted in hermez_location_updates_total{outcome=
// "error"}) — never a 500; and tracking flows again within 2 s of Redis
// answering: a location kept and its frame on the client's socket.
func TestTrackingRedisOutage(t *testing.T) {
	t.Parallel()
	rs := newRedisServer(t)
	s := newSystem(t, rs.url(), "faults:")
	worker := s.startWorker("worker")
	web := s.startWeb(0)
	a := newAPI(web.url)
	clientSub := "user_tf_client"
	client := s.token(clientSub)
	const drivers = 5
	for i := range drivers {
		s.trackedDelivery(a, client, fmt.Sprintf("user_tf_drv%03d", i))
	}
	reader := readLocations(worker.url, client)
	defer reader.close()

	var mu sync.Mutex
	codes := map[int]int{}
	var kept atomic.Int64
	var firstKeptAfter atomic.Int64 // unix ns of the first 200 after Redis returned
	var back atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := s.token(fmt.Sprintf("user_tf_drv%03d", i))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond): // 4 a second: the once-a-second rule answers 429 to most
				}
				code, m, err := a.do("POST", "/user/api/me/location/", tok, map[string]any{"latitude": 7.1 + float64(n)*0.0001, "longitude": -73.1 - float64(i)*0.01})
				if err != nil {
					code = -1
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
				if code == 503 && !strings.Contains(fmt.Sprint(m["detail"]), "ubicación no está disponible") {
					t.Errorf("503 without the location detail: %v", m)
				}
				if code == 200 {
					kept.Add(1)
					if b := back.Load(); b != 0 {
						firstKeptAfter.CompareAndSwap(0, time.Now().UnixNano())
					}
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	if reader.firstAfter(time.Time{}).IsZero() {
		t.Fatal("no driver_location before the outage")
	}
	rs.kill()
	down := time.Now()
	time.Sleep(5 * time.Second)
	rs.start(t) // returns once Redis answers PING
	ready := time.Now()
	back.Store(ready.UnixNano())
	var flowing time.Time
	for end := ready.Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if flowing = reader.firstAfter(ready); !flowing.IsZero() {
			break
		}
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	keptAfter := time.Duration(0)
	if ns := firstKeptAfter.Load(); ns != 0 {
		keptAfter = time.Unix(0, ns).Sub(ready)
	}
	figure(t, "tracking-redis-outage", "%d drivers, 4 updates/s each; Redis down %s; answers %v; first location kept %s and first driver_location on the client's socket %s after Redis answered again",
		drivers, ready.Sub(down).Round(100*time.Millisecond), codes, keptAfter.Round(time.Millisecond), flowing.Sub(ready).Round(time.Millisecond))
	for code, n := range codes {
		if code != 200 && code != 429 && code != 503 {
			t.Fatalf("%d answers with status %d (all: %v)", n, code, codes)
		}
	}
	if codes[503] == 0 {
		t.Fatalf("no 503 while Redis was down: %v", codes)
	}
	if flowing.IsZero() || flowing.Sub(ready) > 2*time.Second {
		t.Fatalf("tracking flowed again %s after Redis returned (want ≤ 2 s)", flowing.Sub(ready))
	}
}

// Web killed (kill -9) during tracking: every sampled point survives (they
// wait in Redis until a process — here the worker — writes them), so the
// trail loses at most the points that were never sampled. Each update moves
// 100 m: every kept one is sampled.
func TestTrackingWebKilled(t *testing.T) {
	t.Parallel()
	rs := newRedisServer(t)
	s := newSystem(t, rs.url(), "faults:")
	s.startWorker("worker")
	web := s.startWeb(0)
	a := newAPI(web.url)
	client := s.token("user_tk_client")
	did := s.trackedDelivery(a, client, "user_tk_drv001")
	driver := s.token("user_tk_drv001")
	kept := 0
	for n := 0; n < 6; n++ {
		time.Sleep(1050 * time.Millisecond)
		if code, _, err := a.do("POST", "/user/api/me/location/", driver, map[string]any{"latitude": 7.1 + float64(n)*0.0009, "longitude": -73.1}); err == nil && code == 200 {
			kept++
		}
	}
	web.kill9()
	killed := time.Now()
	db, err := sql.Open("pgx", s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var points int
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := db.QueryRow(`SELECT count(*) FROM delivery_track WHERE delivery_id = $1`, did).Scan(&points); err != nil {
			t.Fatal(err)
		}
		if points >= kept {
			break
		}
	}
	figure(t, "tracking-web-killed", "%d locations kept (each sampled: 100 m apart), web killed -9 right after the last; trail points in PostgreSQL %d (%s after the kill), lost %d",
		kept, points, time.Since(killed).Round(10*time.Millisecond), kept-points)
	if kept < 5 || points != kept {
		t.Fatalf("trail has %d points of %d sampled", points, kept)
	}
}
