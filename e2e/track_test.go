package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"hermez/pkg/testutil"
)

// TestTrackedDelivery is a tracked delivery end to end through real web and
// worker processes (place.md §6): the driver sends locations over HTTP (kept
// by web) and over a socket (kept by the worker); the client's sockets on
// delivery_{id} and user_deliveries_{client} get driver_location frames (each
// validated against the OpenAPI document), the client's reads carry it, a
// third user's socket never does, the first frame on joining is the last
// location, the trail is served to the client and refused to the stranger,
// and nothing arrives once the delivery is delivered.
func TestTrackedDelivery(t *testing.T) {
	s := startSystem(t)
	client := s.clerk.token(t, "user_trk_client", "Valentina", "Rueda", "valentina@example.com")
	driver := s.clerk.token(t, "user_trk_driver", "Jhon", "Pinzón", "jhon@example.com")
	stranger := s.clerk.token(t, "user_trk_stranger", "Otro", "Usuario", "otro@example.com")
	for _, tok := range []string{client, driver, stranger} {
		s.must(t, 200, "GET", "/user/api/me/", tok, nil)
	}
	types := decodeList(t, s.must(t, 200, "GET", "/user/api/me/vehicle-types/", driver, nil))
	var moto string
	for _, vt := range types {
		if vt["name"] == "Moto" {
			moto = vt["id"].(string)
		}
	}
	veh := decode(t, s.must(t, 201, "POST", "/user/api/me/vehicles/", driver, obj{"type_id": moto, "brand": "Bajaj",
		"model": "Boxer", "year": "2021", "licensePlate": "TRK38F", "vin": "MD2A21BZ5MWC40999", "color": "Negro"}))
	s.must(t, 200, "POST", "/user/api/me/set-current-vehicle/", driver, obj{"vehicle_id": veh["vehicleId"]})
	cats := decodeList(t, s.must(t, 200, "GET", "/deliveries/api/categories/", client, nil))
	quote := decode(t, s.must(t, 201, "POST", "/deliveries/api/quotes/", client, obj{
		"client_id": "user_trk_client", "category_id": cats[0]["id"], "client_price": 12000, "payment_method": "efectivo",
		"pickup_address": "Carrera 33 # 42-18", "delivery_address": "Calle 56 # 17A-23", "vehicle_type_id": moto,
		"pickup_latitude": 7.119349, "pickup_longitude": -73.122741, "delivery_latitude": 7.108601, "delivery_longitude": -73.128952}))
	qid := quote["id"].(string)
	offer := decode(t, s.must(t, 201, "POST", "/deliveries/api/quotes/"+qid+"/offers/", driver, obj{"proposed_price": 13000}))
	did := decode(t, s.must(t, 201, "POST", "/deliveries/api/offers/"+offer["id"].(string)+"/accept/", client, nil))["delivery_id"].(string)

	onDelivery := dial(t, s.worker.url, "/ws/deliveries/"+did+"/", client, "client delivery")
	clientList := dial(t, s.web.url, "/ws/deliveries/users/me/deliveries/", client, "client deliveries")
	strangerList := dial(t, s.worker.url, "/ws/deliveries/users/me/deliveries/", stranger, "stranger deliveries")
	driverSock := dial(t, s.worker.url, "/ws/deliveries/drivers/me/deliveries/", driver, "driver deliveries")
	expectInitial(t, clientList, "user_deliveries.initial", "deliveries", 1)
	expectInitial(t, strangerList, "user_deliveries.initial", "deliveries", 0)
	expectInitial(t, driverSock, "driver_deliveries.initial", "deliveries", 1)

	// Over HTTP (web keeps it), then over the driver's socket (the worker keeps it).
	s.must(t, 200, "POST", "/user/api/me/location/", driver, obj{"latitude": 7.125, "longitude": -73.12, "speed": 6})
	for _, sock := range []*socket{onDelivery, clientList} {
		f := sock.expect(t, "", "driver_location")[0]
		var d struct {
			DeliveryID string   `json:"delivery_id"`
			Latitude   float64  `json:"latitude"`
			ETA        *int     `json:"eta_minutes"`
			Km         *float64 `json:"distance_remaining_km"`
		}
		_ = json.Unmarshal(f.Data, &d)
		if d.DeliveryID != did || d.Latitude != 7.125 || d.ETA == nil || d.Km == nil || *d.Km <= 0 {
			t.Fatalf("%s: %s", sock.name, f.Raw)
		}
	}
	time.Sleep(1100 * time.Millisecond) // the once-a-second rule
	if err := driverSock.conn.WriteMessage(1, []byte(`{"type":"location","latitude":7.121,"longitude":-73.121}`)); err != nil {
		t.Fatal(err)
	}
	for _, sock := range []*socket{onDelivery, clientList} {
		f := sock.expect(t, "", "driver_location")[0]
		if !strings.Contains(string(f.Raw), `"latitude":7.121`) {
			t.Fatalf("%s: %s", sock.name, f.Raw)
		}
	}
	got := decode(t, s.must(t, 200, "GET", "/deliveries/api/"+did+"/", client, nil))
	if dl, _ := got["driver_location"].(obj); dl == nil || dl["latitude"] != 7.121 {
		t.Fatalf("client's read: %v", got["driver_location"])
	}
	s.must(t, 404, "GET", "/deliveries/api/"+did+"/", stranger, nil)
	late := dial(t, s.web.url, "/ws/deliveries/"+did+"/", driver, "driver delivery (late)")
	if f := late.expect(t, "", "driver_location")[0]; !strings.Contains(string(f.Raw), `"latitude":7.121`) {
		t.Fatalf("first frame on joining: %s", f.Raw)
	}

	// The trail: both points (the second moved 450 m), for the client; 404 for the stranger.
	var tr struct {
		Points []obj `json:"points"`
	}
	testutil.Eventually(t, 10*time.Second, "two trail points", func() bool {
		_ = json.Unmarshal(s.must(t, 200, "GET", "/deliveries/api/"+did+"/track/", client, nil), &tr)
		return len(tr.Points) == 2
	})
	s.must(t, 404, "GET", "/deliveries/api/"+did+"/track/", stranger, nil)

	// Delivered: no frame after.
	for range 3 {
		s.must(t, 200, "POST", "/deliveries/api/"+did+"/change_status/", driver, nil)
	}
	time.Sleep(1100 * time.Millisecond)
	drain := func(sock *socket) {
		for {
			select {
			case f := <-sock.frames:
				if f.Type == "driver_location" {
					t.Fatalf("%s: driver_location after the delivery: %s", sock.name, f.Raw)
				}
				validateFrame(t, sock.name, f.Raw)
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	}
	drain(onDelivery)
	drain(clientList)
	s.must(t, 200, "POST", "/user/api/me/location/", driver, obj{"latitude": 7.2, "longitude": -73.2})
	time.Sleep(500 * time.Millisecond)
	drain(onDelivery)
	drain(clientList)
	// The stranger's socket never carried the driver's position.
	select {
	case f := <-strangerList.frames:
		t.Fatalf("stranger's socket got %s", f.Raw)
	default:
	}
}
