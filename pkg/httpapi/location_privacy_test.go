package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// sockets collects every frame one user's sockets receive.
type sockets struct {
	mu     sync.Mutex
	frames []string
}

func (s *sockets) open(t *testing.T, w *testutil.Web, path, tok string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{tok}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(w.URL, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.frames = append(s.frames, string(b))
			s.mu.Unlock()
		}
	}()
	return c
}

func (s *sockets) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.frames...)
}

func (s *sockets) has(text string) bool {
	for _, f := range s.all() {
		if strings.Contains(f, text) {
			return true
		}
	}
	return false
}

// TestLocationPrivacy runs a whole flow (quote → offers → accept → the
// delivery's steps to delivered) while a driver sends distinctive locations
// by HTTP and on a socket, collects every HTTP body and socket frame the other
// users (the client, another driver) receive, and finds none of the driver's
// coordinates (place.md §3) outside the one exception: the client of the
// delivery that driver drives, while it is active, in `driver_location`
// (§6). The driver's new_quotes socket is placed and the quote near them
// still reaches it.
func TestLocationPrivacy(t *testing.T) {
	t.Run("local", func(t *testing.T) { testLocationPrivacy(t, nil) })
	t.Run("redis", func(t *testing.T) {
		url, prefix := testutil.Redis(t)
		c, err := realtime.OpenRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		testLocationPrivacy(t, &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: prefix}, Redis: c})
	})
}

func testLocationPrivacy(t *testing.T, broker *app.Broker) {
	w, clk := locationWeb(t, broker, nil)
	client := newActor(t, w, "priv-client")
	driver := newActor(t, w, "priv-driver")
	other := newActor(t, w, "priv-other")
	addVehicle(t, w, driver.ID, "Moto", true)
	addVehicle(t, w, other.ID, "Moto", true)
	// The driver's positions, written as they would appear in any JSON.
	secrets := []string{"7.123457", "73.987653", "7.123458", "73.987654", "7.131111", "73.981111"}

	var bodies []string
	var clientBodies []string // the client's, while their delivery is active: driver_location allowed
	active := false
	do := func(a actor, method, path string, body any) map[string]any {
		res := w.Do(t, method, path, a.Tok, body)
		switch {
		case a.ID == client.ID && active:
			clientBodies = append(clientBodies, string(res.Body))
		case a.ID != driver.ID:
			bodies = append(bodies, string(res.Body))
		}
		if res.Status >= 300 || len(res.Body) == 0 || res.Body[0] != '{' {
			return nil
		}
		return res.Map(t)
	}
	clientSocks, otherSocks, driverSocks := &sockets{}, &sockets{}, &sockets{}
	clientSocks.open(t, w, "/ws/deliveries/new-quotes/", client.Tok)
	clientSocks.open(t, w, "/ws/deliveries/users/me/quotes/", client.Tok)
	clientSocks.open(t, w, "/ws/deliveries/users/me/deliveries/", client.Tok)
	otherSocks.open(t, w, "/ws/deliveries/new-quotes/", other.Tok)
	otherSocks.open(t, w, "/ws/deliveries/drivers/me/offers/", other.Tok)
	otherSocks.open(t, w, "/ws/deliveries/drivers/me/deliveries/", other.Tok)

	// The driver's locations: by HTTP, then on a socket (which places it).
	mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", driver.Tok, map[string]any{"latitude": 7.123457, "longitude": -73.987653, "accuracy": 4}), 200)
	dsock := driverSocks.open(t, w, "/ws/deliveries/new-quotes/", driver.Tok)
	driverSocks.open(t, w, "/ws/deliveries/drivers/me/deliveries/", driver.Tok)
	clk.Add(1100 * time.Millisecond)
	if err := dsock.WriteMessage(websocket.TextMessage, []byte(`{"type":"location","latitude":7.123458,"longitude":-73.987654,"speed":3}`)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the socket's location kept", func() bool {
		l, _ := w.App.Broker.Locations(w.Config, nil).Get(t.Context(), driver.ID)
		return l != nil && l.Latitude == 7.123458
	})

	// The flow: a quote near the driver, two offers, reads, accept, steps.
	body := quoteBody(t, w, client, map[string]any{"pickup_latitude": 7.12, "pickup_longitude": -73.98, "delivery_latitude": 7.1, "delivery_longitude": -73.99})
	q := do(client, "POST", "/deliveries/api/quotes/", body)
	if q == nil {
		t.Fatal("quote not created")
	}
	qid := q["id"].(string)
	testutil.Eventually(t, 5*time.Second, "the placed driver got the quote near them", func() bool { return driverSocks.has(`"quote_created"`) })
	clientSocks.open(t, w, "/ws/deliveries/quotes/"+qid+"/", client.Tok)
	offer := makeOffer(t, w, driver, qid, 13000, 201)
	do(other, "POST", "/deliveries/api/quotes/"+qid+"/offers/", map[string]any{"delivery_person_id": other.ID, "quote_id": qid, "proposed_price": 14000})
	clk.Add(1100 * time.Millisecond)
	mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", driver.Tok, map[string]any{"latitude": 7.131111, "longitude": -73.981111}), 200)
	for _, p := range []string{"/deliveries/api/quotes/", "/deliveries/api/quotes/" + qid + "/", "/deliveries/api/quotes/" + qid + "/offers/",
		"/user/api/me/", "/user/api/me/" + driver.ID + "/", "/user/api/me/" + driver.ID + "/ratings/"} {
		do(client, "GET", p, nil)
		do(other, "GET", p, nil)
	}
	active = true
	acc := do(client, "POST", "/deliveries/api/offers/"+offer["id"].(string)+"/accept/", nil)
	if acc == nil {
		t.Fatal("accept failed")
	}
	d, _ := acc["delivery"].(map[string]any)
	did, _ := d["id"].(string)
	if did == "" {
		t.Fatalf("accept answered no delivery: %v", acc)
	}
	clientSocks.open(t, w, "/ws/deliveries/"+did+"/", client.Tok)
	for i := range 3 { // assigned → picked_up → in_transit → delivered
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", driver.Tok, nil), 200)
		clk.Add(1100 * time.Millisecond)
		active = i < 2
		do(client, "GET", "/deliveries/api/"+did+"/", nil)
	}
	do(client, "GET", "/deliveries/api/", nil)
	do(other, "GET", "/deliveries/api/", nil)
	do(other, "GET", "/deliveries/api/?filter_by=delivery_person", nil)
	testutil.Eventually(t, 5*time.Second, "the client's sockets saw the delivery delivered", func() bool {
		return clientSocks.has(`"delivered"`)
	})

	if len(clientSocks.all()) < 10 || len(otherSocks.all()) < 4 || len(bodies) < 15 || len(clientBodies) < 3 {
		t.Fatalf("too few bodies and frames collected (client %d, other %d, bodies %d): the flow did not run",
			len(clientSocks.all()), len(otherSocks.all()), len(bodies))
	}
	check := func(who, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("%s received the driver's coordinate %s in %s", who, s, text)
			}
		}
	}
	// Everything the other driver got, and the client's answers before the
	// accept and after delivered: nothing.
	for _, text := range append(bodies, otherSocks.all()...) {
		check("another user", text)
	}
	// The client's frames and answers while the delivery was active: only
	// inside driver_location.
	exception := 0
	for _, text := range append(clientBodies, clientSocks.all()...) {
		stripped, n := withoutDriverLocation(t, text)
		exception += n
		check("the client (outside driver_location)", stripped)
	}
	if exception == 0 {
		t.Fatal("the client never got driver_location: the exception of place.md §6 was not exercised")
	}
}

// withoutDriverLocation removes from a JSON text every driver_location frame
// and field (the one channel allowed to carry a driver's position to the
// delivery's client) and says how many it removed.
func withoutDriverLocation(t *testing.T, text string) (string, int) {
	t.Helper()
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return text, 0
	}
	n := 0
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "driver_location" {
				n++
				return nil
			}
			if dl, ok := x["driver_location"]; ok && dl != nil {
				n++
				delete(x, "driver_location")
			}
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		}
		return v
	}
	b, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), n
}

// TestPlacedQuotesThroughHTTP: quotes created and edited through the API
// carry their pickup mark to new_quotes (market → broker → hub): a placed
// driver's socket gets the quote near them, not the one 300 km away, and the
// update that gives a pickup-less quote a far pickup (it may be on the list).
func TestPlacedQuotesThroughHTTP(t *testing.T) {
	w, _ := locationWeb(t, nil, nil)
	client := newActor(t, w, "plh-client")
	driver := newActor(t, w, "plh-driver")
	mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", driver.Tok, map[string]any{"latitude": 7.12, "longitude": -73.12}), 200)
	socks := &sockets{}
	socks.open(t, w, "/ws/deliveries/new-quotes/", driver.Tok)
	testutil.Eventually(t, 5*time.Second, "the snapshot", func() bool { return socks.has(`"initial_quotes"`) })
	far := createQuote(t, w, client, map[string]any{"pickup_latitude": 4.71, "pickup_longitude": -74.07})
	none := createQuote(t, w, client, nil)
	near := createQuote(t, w, client, map[string]any{"pickup_latitude": 7.13, "pickup_longitude": -73.11})
	testutil.Eventually(t, 5*time.Second, "the near quote", func() bool { return socks.has(near) })
	mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+none+"/", client.Tok, map[string]any{"pickup_latitude": 4.7, "pickup_longitude": -74.0}), 200)
	testutil.Eventually(t, 5*time.Second, "the update of the quote without pickup", func() bool {
		for _, f := range socks.all() {
			if strings.Contains(f, `"quote_updated"`) && strings.Contains(f, none) {
				return true
			}
		}
		return false
	})
	var types []string
	for _, f := range socks.all() {
		if strings.Contains(f, far) {
			t.Fatalf("the placed driver got the quote 300 km away: %s", f)
		}
		var m map[string]any
		_ = json.Unmarshal([]byte(f), &m)
		types = append(types, fmt.Sprint(m["type"]))
	}
	if want := "[initial_quotes quote_created quote_created quote_updated]"; fmt.Sprint(types) != want {
		t.Fatalf("frames %v, want %s (the quote without pickup, the near one, the update)", types, want)
	}
}
