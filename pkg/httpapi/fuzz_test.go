package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/config"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// fuzzRoute is one write route: its method, its path (with the ids of
// resources made for the fuzz run) and who calls it.
type fuzzRoute struct {
	method, path string
	as           string // "client", "driver", "fresh" (a new user each time), "webhook"
}

// fuzzSystem is a web process with one of everything to write to.
type fuzzSystem struct {
	w              *testutil.Web
	client, driver actor
	routes         []fuzzRoute
	fresh          atomic.Int64
}

func newFuzzSystem(f *testing.F) *fuzzSystem {
	w := testutil.NewWeb(f, testutil.WebOptions{Config: func(c *config.Config) {
		c.ThrottleUserWrites, c.ThrottleQuotes, c.ThrottleAnon = "0", "0", "0"
		c.ClerkWebhookSecret = testutil.WebhookSecret
	}})
	s := &fuzzSystem{w: w}
	do := func(method, path, tok string, body any, want int) map[string]any {
		res := w.Do(f, method, path, tok, body)
		if res.Status != want {
			f.Fatalf("setup %s %s: %d %s", method, path, res.Status, res.Body)
		}
		var m map[string]any
		_ = json.Unmarshal(res.Body, &m)
		return m
	}
	mk := func(id string) actor {
		a := actor{ID: id, Tok: w.Token(f, id)}
		do("GET", "/user/api/me/", a.Tok, nil, 200)
		return a
	}
	s.client, s.driver = mk("user_fuzz_client"), mk("user_fuzz_driver")
	var vtype store.VehicleType
	if err := w.Store.DB.Where("name = ?", "Moto").Take(&vtype).Error; err != nil {
		f.Fatal(err)
	}
	vt := vtype.ID.String()
	veh := do("POST", "/user/api/me/vehicles/", s.driver.Tok, map[string]any{"type_id": vt, "brand": "Bajaj", "model": "Boxer",
		"year": 2021, "licensePlate": "FUZ123", "vin": "FUZZVIN0000000001", "color": "Negro"}, 201)
	addr := do("POST", "/user/api/me/addresses/", s.client.Tok, map[string]any{"name": "Casa", "address": "Calle 1", "city": "Bucaramanga", "type": "casa"}, 201)
	var cat struct{ ID string }
	var cats []struct{ ID string }
	_ = json.Unmarshal(w.Do(f, "GET", "/deliveries/api/categories/", s.client.Tok, nil).Body, &cats)
	cat = cats[0]
	quote := func() string {
		return do("POST", "/deliveries/api/quotes/", s.client.Tok, map[string]any{"category_id": cat.ID, "client_price": 12000,
			"payment_method": "efectivo", "pickup_address": "Calle 1", "delivery_address": "Calle 2"}, 201)["id"].(string)
	}
	q1, q2 := quote(), quote()
	offer := do("POST", "/deliveries/api/quotes/"+q2+"/offers/", s.driver.Tok, map[string]any{"proposed_price": 9000}, 201)["id"].(string)
	delivery := func(status string) uuid.UUID {
		d := store.Delivery{ID: uuid.New(), ClientID: s.client.ID, DeliveryPersonID: &s.driver.ID, PickupAddress: "Calle 1",
			DeliveryAddress: "Calle 2", CategoryID: uuid.MustParse(cat.ID), PaymentMethod: "efectivo", FinalPrice: decimal.NewFromInt(10000),
			Status: status, CreatedAt: time.Now(), UpdatedAt: time.Now(), HistoryID: uuid.New()}
		if err := w.Store.DB.Omit("Client", "Driver", "Category").Create(&d).Error; err != nil {
			f.Fatal(err)
		}
		return d.ID
	}
	delivery("delivered")
	rating := do("POST", "/user/api/user-ratings/", s.client.Tok, map[string]any{"ratee_id": s.driver.ID, "rating": 9}, 201)["id"].(string)
	d := delivery("assigned")
	me := "/user/api/me/" + s.client.ID + "/"
	a, v := addr["addressId"].(string), veh["vehicleId"].(string)
	s.routes = []fuzzRoute{
		{"PUT", me, "client"}, {"PATCH", me, "client"}, {"DELETE", "/user/api/me/{fresh}/", "fresh"},
		{"PATCH", "/user/api/me/update/", "client"}, {"POST", "/user/api/me/toggle-availability/", "client"}, {"POST", "/user/api/me/set-availability/", "client"},
		{"POST", "/user/api/me/location/", "driver"},
		{"POST", "/user/api/me/set-current-vehicle/", "driver"},
		{"POST", "/user/api/me/addresses/", "client"}, {"PUT", "/user/api/me/addresses/" + a + "/", "client"},
		{"PATCH", "/user/api/me/addresses/" + a + "/", "client"}, {"DELETE", "/user/api/me/addresses/" + a + "/", "client"},
		{"POST", "/user/api/me/addresses/" + a + "/add-favorite/", "client"},
		{"POST", "/user/api/me/vehicles/", "driver"}, {"PUT", "/user/api/me/vehicles/" + v + "/", "driver"},
		{"PATCH", "/user/api/me/vehicles/" + v + "/", "driver"}, {"DELETE", "/user/api/me/vehicles/" + v + "/", "driver"},
		{"POST", "/user/api/user-ratings/", "driver"}, {"PUT", "/user/api/user-ratings/" + rating + "/", "client"},
		{"PATCH", "/user/api/user-ratings/" + rating + "/", "client"}, {"DELETE", "/user/api/user-ratings/" + rating + "/", "client"},
		{"POST", "/user/webhooks/clerk/", "webhook"},
		{"POST", "/deliveries/api/categories/", "client"}, {"PATCH", "/deliveries/api/categories/" + cat.ID + "/", "client"},
		{"PUT", "/deliveries/api/categories/" + cat.ID + "/", "client"}, {"DELETE", "/deliveries/api/categories/" + cat.ID + "/", "client"},
		{"POST", "/deliveries/api/quotes/", "client"}, {"PUT", "/deliveries/api/quotes/" + q1 + "/", "client"},
		{"PATCH", "/deliveries/api/quotes/" + q1 + "/", "client"}, {"DELETE", "/deliveries/api/quotes/" + q1 + "/", "client"},
		{"POST", "/deliveries/api/quotes/" + q1 + "/offers/", "driver"}, {"POST", "/deliveries/api/quotes/" + q1 + "/cancel/", "client"},
		{"POST", "/deliveries/api/quotes/" + q1 + "/extend-expiration/", "client"},
		{"POST", "/deliveries/api/offers/" + offer + "/accept/", "client"}, {"POST", "/deliveries/api/offers/" + offer + "/reject/", "client"},
		{"POST", "/deliveries/api/" + d.String() + "/change_status/", "driver"}, {"POST", "/deliveries/api/" + d.String() + "/cancel/", "client"},
	}
	return s
}

// fuzzClient bounds each request: a hang is a finding, reported with its input.
var fuzzClient = &http.Client{Timeout: 30 * time.Second}

// hostileBodies are issue 12's cases (and DRF's coercions), tried on every route.
var hostileBodies = []string{
	``, `{}`, `[]`, `null`, `{bad`, `{"a":1}`,
	`{"first_name":"Ana\u0000","username":"\u0000"}`, `{"observations":["ok","\u0000"],"pickup_address":"a\u0000"}`,
	`{"description":"\u0000","estimated_size":"\u0000","comment":"\u0000","name":"\u0000","address":"\u0000"}`,
	`{"brand":"\u0000","model":"x","licensePlate":"\u0000","vin":"\u0000"}`, `{"k\u0000":1}`,
	`{"age":1e309}`, `{"age":18446744073709551621}`, `{"age":"18446744073709551621"}`, `{"age":-1}`,
	`{"rating":1e309,"ratee_id":"user_fuzz_client"}`, `{"rating":18446744073709551624,"ratee_id":"user_fuzz_client"}`,
	`{"year":"18446744073709553636"}`, `{"year":1e309}`, `{"minutes":18446744073709551621}`, `{"extra_minutes":"1e309"}`,
	`{"minutes":"5"}`, `{"client_price":"1e400"}`, `{"client_price":"99999999999.999"}`, `{"client_price":-5}`,
	`{"estimated_weight":"123456789"}`, `{"proposed_price":18446744073709551621}`,
	`{"proposed_price":9000,"estimated_delivery_time":1e300}`, `{"proposed_price":9000,"estimated_delivery_time":"NaN"}`,
	`{"proposed_price":9000,"estimated_delivery_time":"99999999999999 00:00:00"}`,
	`{"vehicle_id":"\u0000"}`, `{"current_vehicle_id":"not-a-uuid"}`, `{"is_available":"\u0000"}`,
	`{"type":"user.created","data":{"id":"user_\u0000x","first_name":"A\u0000","email_addresses":[{"id":"e","email_address":"a\u0000@b.c"}],"primary_email_address_id":"e"}}`,
	`{"type":"user.updated","data":{"id":"user_fuzz_client","updated_at":1e309}}`,
	`{"type":"user.updated","data":{"id":"user_fuzz_client","updated_at":9223372036854775807}}`,
	`{"type":"user.created","data":{"id":"user_fuzz_new","username":"` + strings.Repeat("0123456789abcdef", 400) + `"}}`,
	`{"type":"user.deleted","data":{"id":"\u0000"}}`, `{"type":"\u0000","data":{}}`,
	// Coordinates (place.md §1): non-numbers, out of range, beyond float64,
	// values that round onto a bound (the database's CHECK must agree), half pairs.
	`{"latitude":"NaN","longitude":"Infinity","pickup_latitude":true,"pickup_longitude":{"a":1},"delivery_latitude":[1],"delivery_longitude":"0x1p-2"}`,
	`{"latitude":1e400,"longitude":-1e400,"pickup_latitude":"1e400","pickup_longitude":"-0","delivery_latitude":"","delivery_longitude":null}`,
	`{"latitude":89.99999999,"longitude":-179.9999999,"pickup_latitude":-89.9999999,"pickup_longitude":180,"delivery_latitude":90,"delivery_longitude":"-180.0000001"}`,
	`{"latitude":90.0000001,"longitude":4.7,"pickup_latitude":4.7,"delivery_longitude":-74.1}`,
	`{"latitude":null,"longitude":4,"pickup_latitude":null,"pickup_longitude":-74,"delivery_latitude":4.7,"delivery_longitude":null}`,
	`{"latitude":4.710987654321012345678901234567890,"longitude":"-74.07209876543210987654321","pickup_latitude":1e-400,"pickup_longitude":-1e-400}`,
	// A current location (place.md §3) and the automatic accept (§7), set-availability (§8).
	`{"latitude":4.7,"longitude":-74.1,"accuracy":-1,"heading":360.0000001,"speed":1e309,"recorded_at":"9999-12-31T23:59:59Z"}`,
	`{"latitude":4.7,"longitude":-74.1,"accuracy":"NaN","heading":{"a":1},"speed":[1],"recorded_at":"0000-01-01T00:00:00Z"}`,
	`{"latitude":4.7,"longitude":-74.1,"recorded_at":"2026-13-45T25:61:61+99:99"}`, `{"latitude":4.7,"longitude":-74.1,"recorded_at":1e309}`,
	`{"latitude":4.7,"longitude":-74.1,"recorded_at":"\u0000"}`, `{"latitude":"4.7\u0000","longitude":-74.1}`,
	`{"auto_accept_lowest":"\u0000"}`, `{"auto_accept_lowest":1e309}`, `{"auto_accept_lowest":{"a":1},"auto_accept_at":"2020-01-01T00:00:00Z"}`,
	`{"auto_accept_lowest":"yes","client_price":9000}`, `{"is_available":1e309}`, `{"is_available":[true]}`,
}

func (s *fuzzSystem) send(t *testing.T, r fuzzRoute, body []byte) {
	path, tok := r.path, ""
	hdr := http.Header{}
	switch r.as {
	case "client":
		tok = s.client.Tok
	case "driver":
		tok = s.driver.Tok
	case "fresh":
		id := fmt.Sprintf("user_fuzz_fresh_%d", s.fresh.Add(1))
		tok, path = s.w.Token(t, id), strings.ReplaceAll(path, "{fresh}", id)
	case "webhook":
		hdr = testutil.SvixHeaders(t, testutil.WebhookSecret, fmt.Sprintf("msg_fuzz_%d", s.fresh.Add(1)), time.Now(), body)
	}
	req, err := http.NewRequest(r.method, s.w.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := fuzzClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		t.Fatalf("%s %s with %q: %d %s", r.method, path, body, res.StatusCode, raw)
	}
	if res.StatusCode != http.StatusNoContent && !json.Valid(raw) {
		t.Fatalf("%s %s with %q: %d, not JSON: %s", r.method, path, body, res.StatusCode, raw)
	}
	if res.StatusCode >= 400 {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			t.Fatalf("%s %s: error body is not an object: %s", r.method, path, raw)
		}
		// One text under one key (api.md "Errors"): detail alone, or DRF's
		// field lists with detail beside non_field_errors; message only on the favorite.
		if _, ok := m["error"]; ok {
			t.Fatalf("%s %s: error key in an error body: %s", r.method, path, raw)
		}
		if _, ok := m["message"]; ok && !strings.Contains(path, "/add-favorite/") {
			t.Fatalf("%s %s: message key in an error body: %s", r.method, path, raw)
		}
	}
}

// FuzzWriteRoutes sends any body to every write route of the API (through a
// real server on the test database): no answer is a 5xx, every answer is
// JSON, error bodies carry their keys. The seed corpus is every hostile case
// of issue 12 on every route (CI runs it); see README "Fuzzing" to run longer.
func FuzzWriteRoutes(f *testing.F) {
	s := newFuzzSystem(f)
	for i := range s.routes {
		for _, b := range hostileBodies {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		s.send(t, s.routes[int(route)%len(s.routes)], body)
	})
}

// FuzzPaths sends requests with fuzzed paths and queries (ids with NULs,
// escapes, traversal) to the API: never a 5xx, always JSON.
func FuzzPaths(f *testing.F) {
	s := newFuzzSystem(f)
	for _, p := range []string{
		"/user/api/me/abc%00def/ratings/", "/user/api/me/%00/", "/deliveries/api/quotes/%00/", "/deliveries/api/%00/history/",
		"/deliveries/api/quotes/?status=%00", "/deliveries/api/?month=99999999999999999999&year=-1e309",
		"/deliveries/api/quotes/?limit=18446744073709551621&offset=-5", "/user/api/me/..%2f..%2fetc/", "/user/api/me/%ff%fe/ratings/",
		"/deliveries/api/offers/?status=%27%3B--", "/ws/deliveries/users/%00/quotes/", "/admin/vehicles/%00/",
	} {
		for m := range uint8(4) {
			f.Add(m, p)
		}
	}
	methods := []string{"GET", "POST", "PATCH", "DELETE"}
	f.Fuzz(func(t *testing.T, m uint8, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], s.w.URL+path, nil)
		if err != nil {
			return // not a URL the client can send
		}
		req.Header.Set("Authorization", "Bearer "+s.client.Tok)
		res, err := fuzzClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, path, err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, path, res.StatusCode, raw)
		}
	})
}

// FuzzTrackID sends GET /deliveries/api/{id}/track/ with fuzzed ids (the
// client's and the driver's tokens): never a 5xx, always JSON, 200 only for a
// delivery the caller is party to (none exists here: always 404).
func FuzzTrackID(f *testing.F) {
	s := newFuzzSystem(f)
	for _, id := range []string{"00000000-0000-0000-0000-000000000000", "%00", "..%2f", "6b34ed5e-26ce-4726-b1f9-2cc616d92418x",
		"{6b34ed5e-26ce-4726-b1f9-2cc616d92418}", "urn:uuid:6b34ed5e-26ce-4726-b1f9-2cc616d92418", "%27%3B--", strings.Repeat("a", 5000)} {
		f.Add(id, false)
		f.Add(id, true)
	}
	f.Fuzz(func(t *testing.T, id string, asDriver bool) {
		if strings.ContainsAny(id, " \r\n\t#?/") {
			return
		}
		req, err := http.NewRequest("GET", s.w.URL+"/deliveries/api/"+id+"/track/", nil)
		if err != nil {
			return
		}
		tok := s.client.Tok
		if asDriver {
			tok = s.driver.Tok
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := fuzzClient.Do(req)
		if err != nil {
			t.Fatalf("GET track %q: %v", id, err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != 404 || !json.Valid(raw) {
			t.Fatalf("GET track %q: %d %s", id, res.StatusCode, raw)
		}
	})
}
