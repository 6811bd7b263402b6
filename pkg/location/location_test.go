package location_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/testutil"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const ttl = 120 * time.Second

// stores runs f on every backend: memory, one Redis (TEST_REDIS_URL or
// miniredis), and a real Redis Cluster where redis-server is installed.
// mk makes another Store on the same backend (another process).
func stores(t *testing.T, f func(t *testing.T, clk *clock, mk func() *location.Store)) {
	t.Run("memory", func(t *testing.T) {
		clk := newClock()
		s := location.NewMemory(ttl, clk.Now)
		f(t, clk, func() *location.Store { return s })
	})
	t.Run("redis", func(t *testing.T) {
		url, prefix := testutil.Redis(t)
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		clk := newClock()
		f(t, clk, func() *location.Store {
			c := redis.NewClient(opts)
			t.Cleanup(func() { _ = c.Close() })
			return location.NewRedis(c, prefix, ttl, clk.Now)
		})
	})
	t.Run("cluster", func(t *testing.T) {
		if testing.Short() {
			t.Skip("short")
		}
		rc := testutil.StartRedisCluster(t)
		opts, err := redis.ParseClusterURL(rc.URL())
		if err != nil {
			t.Fatal(err)
		}
		clk := newClock()
		f(t, clk, func() *location.Store {
			c := redis.NewClusterClient(opts)
			t.Cleanup(func() { _ = c.Close() })
			return location.NewRedis(c, "t:", ttl, clk.Now)
		})
	})
}

func at(clk *clock, lat, lng float64, ago time.Duration) location.Location {
	return location.Location{Latitude: lat, Longitude: lng, RecordedAt: clk.Now().Add(-ago).Truncate(time.Microsecond)}
}

func TestOnceASecond(t *testing.T) {
	stores(t, func(t *testing.T, clk *clock, mk func() *location.Store) {
		ctx := context.Background()
		s := mk()
		var observed []location.Location
		s.Observe(func(user string, l location.Location) {
			if user == "d1" {
				observed = append(observed, l)
			}
		})
		r, err := s.Set(ctx, "d1", at(clk, 4.7, -74.07, 0))
		if err != nil || r.Outcome != location.Kept {
			t.Fatalf("first: %+v %v", r, err)
		}
		first := r.Last
		clk.Add(999 * time.Millisecond)
		r, err = s.Set(ctx, "d1", at(clk, 4.8, -74.07, 0))
		if err != nil || r.Outcome != location.TooSoon || r.RetryAfter <= 0 || r.RetryAfter > time.Second || !r.Last.RecordedAt.Equal(first.RecordedAt) {
			t.Fatalf("999 ms later: %+v %v", r, err)
		}
		clk.Add(time.Millisecond)
		// Not newer than the kept one (recorded 5 s earlier): not kept, the last returned.
		r, err = s.Set(ctx, "d1", at(clk, 4.9, -74.07, 5*time.Second))
		if err != nil || r.Outcome != location.NotNewer || r.Last.Latitude != 4.7 {
			t.Fatalf("older recorded_at: %+v %v", r, err)
		}
		r, err = s.Set(ctx, "d1", at(clk, 4.8, -74.07, 0))
		if err != nil || r.Outcome != location.Kept {
			t.Fatalf("1 s later: %+v %v", r, err)
		}
		got, err := s.Get(ctx, "d1")
		if err != nil || got == nil || got.Latitude != 4.8 {
			t.Fatalf("Get: %+v %v", got, err)
		}
		if len(observed) != 2 {
			t.Fatalf("observed %d kept updates, want 2", len(observed))
		}
		// Another user is independent.
		if r, err := s.Set(ctx, "d2", at(clk, 4.8, -74.07, 0)); err != nil || r.Outcome != location.Kept {
			t.Fatalf("d2: %+v %v", r, err)
		}
	})
}

// TestOnceASecondAcrossProcesses: updates of one user sent at once through
// several stores (processes) on one backend: exactly one is kept.
func TestOnceASecondAcrossProcesses(t *testing.T) {
	stores(t, func(t *testing.T, clk *clock, mk func() *location.Store) {
		ctx := context.Background()
		procs := []*location.Store{mk(), mk(), mk()}
		var kept, soon atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := procs[i%3].Set(ctx, "racer", at(clk, 1+float64(i)/100, 2, 0))
				if err != nil {
					t.Error(err)
					return
				}
				switch r.Outcome {
				case location.Kept:
					kept.Add(1)
				case location.TooSoon:
					soon.Add(1)
				}
			}()
		}
		wg.Wait()
		if kept.Load() != 1 || soon.Load() != 29 {
			t.Fatalf("kept %d, too soon %d; want 1 and 29", kept.Load(), soon.Load())
		}
	})
}

func TestExpiryAndForget(t *testing.T) {
	stores(t, func(t *testing.T, clk *clock, mk func() *location.Store) {
		ctx := context.Background()
		s := mk()
		if _, err := s.Set(ctx, "e1", at(clk, 10, 10, 20*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Set(ctx, "e2", at(clk, 10.01, 10, 0)); err != nil {
			t.Fatal(err)
		}
		if l, _ := s.Get(ctx, "e1"); l == nil {
			t.Fatal("e1 not fresh")
		}
		clk.Add(ttl - 20*time.Second) // e1 recorded ttl ago now
		if l, err := s.Get(ctx, "e1"); err != nil || l != nil {
			t.Fatalf("e1 after its TTL: %+v %v", l, err)
		}
		near, err := s.Near(ctx, geo.Point{Lat: 10, Lng: 10}, 5)
		if err != nil || len(near) != 1 || near[0].User != "e2" {
			t.Fatalf("Near after e1 expired: %+v %v", near, err)
		}
		// A fresh update after expiry is kept whatever came before.
		if r, err := s.Set(ctx, "e1", at(clk, 10, 10, 0)); err != nil || r.Outcome != location.Kept {
			t.Fatalf("e1 again: %+v %v", r, err)
		}
		if err := s.Forget(ctx, "e2"); err != nil {
			t.Fatal(err)
		}
		if l, _ := s.Get(ctx, "e2"); l != nil {
			t.Fatal("e2 still there after Forget")
		}
		near, _ = s.Near(ctx, geo.Point{Lat: 10, Lng: 10}, 5)
		if len(near) != 1 || near[0].User != "e1" {
			t.Fatalf("Near after Forget: %+v", near)
		}
		if err := s.Forget(ctx, "nobody"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNear(t *testing.T) {
	stores(t, func(t *testing.T, clk *clock, mk func() *location.Store) {
		ctx := context.Background()
		s := mk()
		centre := geo.Point{Lat: 4.711, Lng: -74.0721}
		// Users east of the centre, 0.5 km apart: 0 … 14.5 km.
		want := 0
		for i := 0; i < 30; i++ {
			km := float64(i) * 0.5
			lng := centre.Lng + km/(111.195*math.Cos(centre.Lat*math.Pi/180))
			if _, err := s.Set(ctx, fmt.Sprintf("u%02d", i), at(clk, centre.Lat, geo.Round6(lng), 0)); err != nil {
				t.Fatal(err)
			}
			if geo.DistanceKm(centre, geo.Point{Lat: centre.Lat, Lng: geo.Round6(lng)}) <= 10 {
				want++
			}
		}
		near, err := s.Near(ctx, centre, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(near) != want || want < 19 {
			t.Fatalf("Near: %d users, want %d", len(near), want)
		}
		for i := 1; i < len(near); i++ {
			if near[i].DistanceKm < near[i-1].DistanceKm {
				t.Fatal("not nearest first")
			}
		}
		// A user who moves leaves their old cell's index.
		clk.Add(time.Second)
		if _, err := s.Set(ctx, "u00", at(clk, 40, 40, 0)); err != nil {
			t.Fatal(err)
		}
		near, _ = s.Near(ctx, centre, 10)
		if len(near) != want-1 {
			t.Fatalf("after u00 moved away: %d, want %d", len(near), want-1)
		}
		far, _ := s.Near(ctx, geo.Point{Lat: 40, Lng: 40}, 1)
		if len(far) != 1 || far[0].User != "u00" {
			t.Fatalf("at the new place: %+v", far)
		}
	})
}

// TestRedisAway: the store's calls fail with an error (no panic, no hang
// beyond its timeout) while Redis is away.
func TestRedisAway(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	s := location.NewRedis(c, "x:", ttl, nil)
	start := time.Now()
	_, err := s.Set(context.Background(), "u", location.Location{Latitude: 1, Longitude: 1, RecordedAt: time.Now()})
	if err == nil {
		t.Fatal("Set with Redis away succeeded")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("Set waited %v", time.Since(start))
	}
	if _, err := s.Get(context.Background(), "u"); err == nil {
		t.Fatal("Get with Redis away succeeded")
	}
}

func TestParse(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		body  string
		field string // "" = valid
		msg   string
	}{
		{`{"latitude": 4.7110001234, "longitude": "-74.0721"}`, "", ""},
		{`{"latitude": 4.7, "longitude": -74, "accuracy": 0, "heading": 360, "speed": 0, "recorded_at": "2026-03-01T11:59:00Z"}`, "", ""},
		{`{"latitude": 4.7, "longitude": -74, "accuracy": null, "heading": null, "speed": null, "recorded_at": null}`, "", ""},
		{`{"longitude": -74}`, "latitude", "Este campo es requerido."},
		{`{"latitude": 4.7}`, "longitude", "Este campo es requerido."},
		{`{"latitude": null, "longitude": -74}`, "latitude", "Este campo no puede ser nulo."},
		{`{"latitude": 90.0001, "longitude": -74}`, "latitude", "Asegúrese de que este valor sea menor o igual a 90."},
		{`{"latitude": -90.5, "longitude": -74}`, "latitude", "Asegúrese de que este valor sea mayor o igual a -90."},
		{`{"latitude": 4, "longitude": 180.1}`, "longitude", "Asegúrese de que este valor sea menor o igual a 180."},
		{`{"latitude": "NaN", "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": "Infinity", "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": true, "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": {"a":1}, "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": [1], "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": "0x10", "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": 1e999, "longitude": -74}`, "latitude", location.MsgNumber},
		{`{"latitude": 4, "longitude": -74, "accuracy": -1}`, "accuracy", "Asegúrese de que este valor sea mayor o igual a 0."},
		{`{"latitude": 4, "longitude": -74, "heading": 360.5}`, "heading", "Asegúrese de que este valor sea menor o igual a 360."},
		{`{"latitude": 4, "longitude": -74, "heading": -0.1}`, "heading", "Asegúrese de que este valor sea mayor o igual a 0."},
		{`{"latitude": 4, "longitude": -74, "speed": -3}`, "speed", "Asegúrese de que este valor sea mayor o igual a 0."},
		{`{"latitude": 4, "longitude": -74, "speed": "fast"}`, "speed", location.MsgNumber},
		{`{"latitude": 4, "longitude": -74, "recorded_at": "2026-03-01T12:00:31Z"}`, "recorded_at", location.MsgFuture},
		{`{"latitude": 4, "longitude": -74, "recorded_at": "2026-03-01T11:58:00Z"}`, "recorded_at", "La ubicación es demasiado antigua (más de 120 segundos)."},
		{`{"latitude": 4, "longitude": -74, "recorded_at": "ayer"}`, "recorded_at", location.MsgBadTime},
		{`{"latitude": 4, "longitude": -74, "recorded_at": 1700000000}`, "recorded_at", location.MsgBadTime},
	}
	for _, c := range cases {
		l, err := location.ParseJSON([]byte(c.body), now, ttl)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
			t.Errorf("%s: want a field error, got %v (%+v)", c.body, err, l)
			continue
		}
		if got := ae.Fields[c.field]; len(got) != 1 || got[0] != c.msg {
			t.Errorf("%s: %s = %q, want %q", c.body, c.field, got, c.msg)
		}
	}
	l, err := location.ParseJSON([]byte(`{"latitude": 4.7110005, "longitude": "-74.07210049", "heading": 90}`), now, ttl)
	if err != nil || l.Latitude != 4.711001 || l.Longitude != -74.0721 || *l.Heading != 90 || !l.RecordedAt.Equal(now) || l.Speed != nil || l.Accuracy != nil {
		t.Fatalf("rounding and defaults: %+v %v", l, err)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{`, `null`} {
		if _, err := location.ParseJSON([]byte(bad), now, ttl); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"latitude": 4.7, "longitude": -74, "accuracy": 3, "heading": 20, "speed": 1, "recorded_at": "2026-03-01T11:59:00Z"}`))
	f.Add([]byte(`{"latitude": "1e3", "longitude": "-0"}`))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := location.ParseJSON(b, now, ttl)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != apperr.Invalid {
				t.Fatalf("not a 400: %v", err)
			}
			return
		}
		if !geo.ValidLat(l.Latitude) || !geo.ValidLng(l.Longitude) || l.RecordedAt.Sub(now) > location.MaxFuture || now.Sub(l.RecordedAt) >= ttl {
			t.Fatalf("accepted %+v", l)
		}
		if l.Heading != nil && (*l.Heading < 0 || *l.Heading > 360) || l.Speed != nil && *l.Speed < 0 || l.Accuracy != nil && *l.Accuracy < 0 {
			t.Fatalf("accepted %+v", l)
		}
	})
}
