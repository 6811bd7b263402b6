package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// testClock is an injected clock (the store's clock, which the location store reads).
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// locationWeb is a web process on its own database with an injected clock
// and the given broker (nil: the in-process one).
func locationWeb(t *testing.T, broker *app.Broker, edit func(*config.Config)) (*testutil.Web, *testClock) {
	t.Helper()
	clk := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	st := testutil.NewStore(t)
	st.Now = clk.Now
	if broker == nil {
		m := realtime.NewMemory()
		broker = &app.Broker{Publisher: m, Memory: m}
	}
	w := testutil.NewWeb(t, testutil.WebOptions{Store: st, Broker: broker, Config: edit})
	return w, clk
}

func TestPostLocation(t *testing.T) {
	brokers := map[string]func(t *testing.T) *app.Broker{
		"local": func(*testing.T) *app.Broker { return nil },
		"redis": func(t *testing.T) *app.Broker {
			url, prefix := testutil.Redis(t)
			c, err := realtime.OpenRedis(url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: prefix}, Redis: c}
		},
	}
	for name, mk := range brokers {
		t.Run(name, func(t *testing.T) {
			// THROTTLE_USER_WRITES of 2/min: location updates must not count against it.
			w, clk := locationWeb(t, mk(t), func(c *config.Config) { c.ThrottleUserWrites = "2/min" })
			tok := w.Token(t, "drv-loc")
			path := "/user/api/me/location/"

			res := w.Do(t, "POST", path, tok, map[string]any{"latitude": 4.7110004, "longitude": "-74.0721", "accuracy": 5, "heading": 90, "speed": 3.5})
			wantStatus(t, res, 200)
			wantKeys(t, "location", res.Body, []string{"latitude", "longitude", "recorded_at"})
			m := res.Map(t)
			if rec, _ := m["recorded_at"].(string); m["latitude"] != 4.711 || m["longitude"] != -74.0721 || !strings.HasPrefix(rec, clk.Now().Format("2006-01-02T15:04:05")) {
				t.Fatalf("answer %s", res.Body)
			}
			// Within the second: 429, Retry-After: 1, the throttle body.
			clk.Add(500 * time.Millisecond)
			res = w.Do(t, "POST", path, tok, map[string]any{"latitude": 4.72, "longitude": -74.0721})
			wantStatus(t, res, 429)
			if res.Header.Get("Retry-After") != "1" || !strings.Contains(string(res.Body), "Solicitud fue regulada (throttled). Se espera que esté disponible en 1 segundo.") {
				t.Fatalf("429: %v %s", res.Header, res.Body)
			}
			// Not newer than the kept one: 200 with the last kept one.
			clk.Add(600 * time.Millisecond)
			old := clk.Now().Add(-10 * time.Second).Format(time.RFC3339Nano)
			res = w.Do(t, "POST", path, tok, map[string]any{"latitude": 5, "longitude": -75, "recorded_at": old})
			wantStatus(t, res, 200)
			if res.Map(t)["latitude"] != 4.711 {
				t.Fatalf("not newer: answered %s, want the last kept one", res.Body)
			}
			// Bad ones: 400 field errors, nothing kept.
			for _, bad := range []struct {
				body  any
				field string
			}{
				{map[string]any{"latitude": 91, "longitude": 0}, "latitude"},
				{map[string]any{"latitude": 1}, "longitude"},
				{map[string]any{"latitude": 1, "longitude": 1, "heading": 400}, "heading"},
				{map[string]any{"latitude": 1, "longitude": 1, "speed": -1}, "speed"},
				{map[string]any{"latitude": 1, "longitude": 1, "accuracy": "x"}, "accuracy"},
				{map[string]any{"latitude": 1, "longitude": 1, "recorded_at": clk.Now().Add(time.Minute).Format(time.RFC3339)}, "recorded_at"},
				{map[string]any{"latitude": 1, "longitude": 1, "recorded_at": clk.Now().Add(-time.Hour).Format(time.RFC3339)}, "recorded_at"},
			} {
				res = w.Do(t, "POST", path, tok, bad.body)
				wantFieldError(t, res, bad.field)
			}
			res = w.Do(t, "POST", path, tok, "{")
			wantStatus(t, res, 400)
			res = w.Do(t, "POST", path, tok, "[1,2]")
			wantStatus(t, res, 400)
			locs := w.App.Broker.Locations(w.Config, nil)
			if l, err := locs.Get(context.Background(), "drv-loc"); err != nil || l == nil || l.Latitude != 4.711 {
				t.Fatalf("stored: %+v %v (the refused ones must not be)", l, err)
			}
			// A second later a new one is kept; many in a row, one a second,
			// none refused by THROTTLE_USER_WRITES.
			for i := 0; i < 5; i++ {
				clk.Add(time.Second)
				res = w.Do(t, "POST", path, tok, map[string]any{"latitude": 4.75 + float64(i)/100, "longitude": -74.0721})
				wantStatus(t, res, 200)
			}
			// Only the caller's: another user, no token, other methods.
			wantStatus(t, w.Do(t, "POST", path, "", map[string]any{"latitude": 1, "longitude": 1}), 401)
			wantStatus(t, w.Do(t, "GET", path, tok, nil), 405)
			wantStatus(t, w.Do(t, "PUT", path, tok, map[string]any{}), 405)
			other := w.Token(t, "someone-else")
			res = w.Do(t, "POST", path, other, map[string]any{"latitude": 1, "longitude": 1})
			wantStatus(t, res, 200)
			if l, _ := locs.Get(context.Background(), "drv-loc"); l == nil || l.Latitude != 4.79 {
				t.Fatalf("the other user's update touched drv-loc: %+v", l)
			}
			// Privacy: the User object carries no location.
			res = w.Do(t, "GET", "/user/api/me/", tok, nil)
			if strings.Contains(string(res.Body), "4.79") || strings.Contains(string(res.Body), "74.0721") {
				t.Fatalf("the User object carries the location: %s", res.Body)
			}
			// Deleting the profile forgets the location at once.
			wantStatus(t, w.Do(t, "DELETE", "/user/api/me/drv-loc/", tok, nil), 204)
			if l, err := locs.Get(context.Background(), "drv-loc"); err != nil || l != nil {
				t.Fatalf("after deletion: %+v %v", l, err)
			}
		})
	}
}

// TestLocationRedisAway: while Redis is away the route answers a clear 503
// (never a 500) quickly, and works again when Redis is back.
func TestLocationRedisAway(t *testing.T) {
	srv := testutil.StartRedisServer(t)
	c, err := realtime.OpenRedis(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.Options().MaxRetries = 0
	t.Cleanup(func() { _ = c.Close() })
	w, clk := locationWeb(t, &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: "away:"}, Redis: c}, nil)
	tok := w.Token(t, "drv-away")
	path := "/user/api/me/location/"
	wantStatus(t, w.Do(t, "POST", path, tok, map[string]any{"latitude": 1, "longitude": 1}), 200)
	srv.Kill()
	for i := 0; i < 5; i++ {
		clk.Add(time.Second)
		start := time.Now()
		res := w.Do(t, "POST", path, tok, map[string]any{"latitude": 1.001 * float64(i+1), "longitude": 1})
		if res.Status != 503 {
			t.Fatalf("Redis away: %d %s, want 503", res.Status, res.Body)
		}
		var body map[string]any
		_ = json.Unmarshal(res.Body, &body)
		if body["detail"] == nil || !strings.Contains(fmt.Sprint(body["detail"]), "ubicación") {
			t.Fatalf("503 body %s", res.Body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("503 after %v", d)
		}
	}
	srv.Restart()
	clk.Add(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := w.Do(t, "POST", path, tok, map[string]any{"latitude": 2, "longitude": 2})
		if res.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back: still %d %s", res.Status, res.Body)
		}
		clk.Add(time.Second)
		time.Sleep(100 * time.Millisecond)
	}
}
