package ws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// TestLocationFrame: a `location` frame on any socket of the user is kept
// (no answer); a bad one gets an error frame and the socket stays open; one
// within a second of the last kept one is dropped and counted; other JSON is
// ignored as before; ping still answers pong.
func TestLocationFrame(t *testing.T) {
	st := testutil.NewStore(t)
	w := startWorker(t, st, nil, app.WorkerOptions{})
	user := "loc-frame-user"
	addUser(t, st, user)
	c := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", w.token(t, user))
	if m := read(t, c, wait); m["type"] != "initial_quotes" {
		t.Fatalf("first frame %v", m)
	}
	locs := w.W.Hub.Locations
	send := func(s string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	tooSoon := metrics.LocationUpdates.WithLabelValues("socket", "too_soon")
	before := value(tooSoon)

	send(`{"type": "location", "latitude": 4.7110004, "longitude": -74.0721, "speed": 2}`)
	testutil.Eventually(t, wait, "the location kept", func() bool {
		l, err := locs.Get(context.Background(), user)
		return err == nil && l != nil && l.Latitude == 4.711 && *l.Speed == 2
	})
	// The socket is placed now: a fresh snapshot of its area (place.md §4).
	if m := read(t, c, wait); m["type"] != "initial_quotes" {
		t.Fatalf("after the first location: %v, want initial_quotes", m)
	}
	// Too soon: dropped, counted, no answer.
	send(`{"type": "location", "latitude": 5, "longitude": -74.0721}`)
	testutil.Eventually(t, wait, "the too-frequent frame counted", func() bool { return value(tooSoon) > before })
	// Bad ones: an error frame each, in Spanish; the socket stays open.
	for _, bad := range []struct{ frame, want string }{
		{`{"type": "location", "latitude": 95, "longitude": 1}`, "latitude: Asegúrese de que este valor sea menor o igual a 90."},
		{`{"type": "location", "longitude": 1}`, "latitude: Este campo es requerido."},
		{`{"type": "location", "latitude": 1, "longitude": 1, "heading": "norte"}`, "heading: Se requiere un número válido."},
	} {
		send(bad.frame)
		m := read(t, c, wait)
		data, _ := m["data"].(map[string]any)
		if m["type"] != "error" || data["detail"] != bad.want {
			t.Fatalf("%s: answered %v, want error %q", bad.frame, m, bad.want)
		}
	}
	// Ignored as before: other JSON, other types.
	send(`{"type": "hello"}`)
	send(`[1, 2]`)
	send(`{"type": "location"`)
	send("ping")
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, b, err := c.ReadMessage()
	if err != nil || string(b) != "pong" {
		t.Fatalf("after ignored frames: %q %v, want pong", b, err)
	}
	if l, _ := locs.Get(context.Background(), user); l == nil || l.Latitude != 4.711 {
		t.Fatalf("a refused frame changed the location: %+v", l)
	}
	// A frame over the read limit ends the socket (as before), not the worker.
	c2 := mustDial(t, w.URL, "/ws/deliveries/new-quotes/", w.token(t, user))
	read(t, c2, wait)
	if err := c2.WriteMessage(websocket.TextMessage, []byte(`{"type":"location","x":"`+strings.Repeat("a", 2000)+`"}`)); err != nil {
		t.Fatal(err)
	}
	if code, _ := closeCode(t, c2, wait); code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized frame: close %d", code)
	}
	_ = realtime.GroupNewQuotes
}
