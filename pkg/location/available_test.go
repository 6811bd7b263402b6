package location_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/testutil"
)

// east is the point km east of p.
func east(p geo.Point, km float64) geo.Point {
	return geo.Point{Lat: p.Lat, Lng: geo.Round6(p.Lng + km/(111.195*math.Cos(p.Lat*math.Pi/180)))}
}

func put(t *testing.T, s *location.Store, clk *clock, user string, p geo.Point, available bool, ago time.Duration) {
	t.Helper()
	l := at(clk, p.Lat, p.Lng, ago)
	l.Available = available
	if r, err := s.Set(context.Background(), user, l); err != nil || r.Outcome != location.Kept {
		t.Fatalf("set %s: %+v %v", user, r, err)
	}
}

func count(t *testing.T, s *location.Store, probes ...location.Probe) []int {
	t.Helper()
	n, err := s.CountAvailable(context.Background(), probes, 10)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCountAvailable: place.md §5's count — available drivers with a fresh
// location within the radius, the excluded user (the quote's client) not
// counted; unavailable, stale and distant users not counted; the mark set by
// SetAvailable applies at once and wins over later updates' hints.
func TestCountAvailable(t *testing.T) {
	stores(t, func(t *testing.T, clk *clock, mk func() *location.Store) {
		ctx := context.Background()
		s := mk()
		bogota := geo.Point{Lat: 4.711, Lng: -74.0721}
		medellin := geo.Point{Lat: 6.2442, Lng: -75.5812}
		put(t, s, clk, "near1", east(bogota, 1), true, 0)
		put(t, s, clk, "near2", east(bogota, 9.9), true, 0)
		put(t, s, clk, "edge", east(bogota, 10.2), true, 0) // just outside 10 km
		put(t, s, clk, "busy", east(bogota, 2), false, 0)   // not available (or no vehicle)
		put(t, s, clk, "old", east(bogota, 3), true, ttl-time.Second)
		put(t, s, clk, "client", east(bogota, 0.1), true, 0)
		put(t, s, clk, "med", medellin, true, 0)
		probes := []location.Probe{{Point: bogota, Exclude: "client"}, {Point: bogota}, {Point: medellin}, {Point: geo.Point{Lat: 0, Lng: 0}}}
		if got := count(t, s, probes...); fmt.Sprint(got) != "[3 4 1 0]" {
			t.Fatalf("counts %v, want [3 4 1 0] (near1 near2 old, +client; med; none)", got)
		}
		// "old" turns stale one second later.
		clk.Add(time.Second)
		if got := count(t, s, probes[0]); got[0] != 2 {
			t.Fatalf("after old went stale: %d, want 2", got[0])
		}
		// busy becomes available (it set is_available with a vehicle): counted
		// at once, without a new location; near1 stops being available.
		if err := mk().SetAvailable(ctx, "busy", true); err != nil {
			t.Fatal(err)
		}
		if err := mk().SetAvailable(ctx, "near1", false); err != nil {
			t.Fatal(err)
		}
		if got := count(t, s, probes[0]); got[0] != 2 {
			t.Fatalf("after busy available, near1 not: %d, want 2 (near2 busy)", got[0])
		}
		// The mark wins over the hint of a later update (a socket's user row
		// read when it connected).
		clk.Add(time.Second)
		put(t, s, clk, "near1", east(bogota, 1.5), true, 0)
		put(t, s, clk, "busy", east(bogota, 2.5), false, 0)
		if got := count(t, s, probes[0]); got[0] != 2 {
			t.Fatalf("hints must not override the marks: %d, want 2 (near2 busy)", got[0])
		}
		// A driver moving away leaves the count; moving back enters it.
		clk.Add(time.Second)
		put(t, s, clk, "busy", medellin, true, 0)
		if got := count(t, s, probes[0], probes[2]); fmt.Sprint(got) != "[1 2]" {
			t.Fatalf("after busy moved to Medellín: %v, want [1 2]", got)
		}
		// Forget (a deleted or suspended user) drops the location and the mark.
		if err := s.Forget(ctx, "near2"); err != nil {
			t.Fatal(err)
		}
		if got := count(t, s, probes[0]); got[0] != 0 {
			t.Fatalf("after forget: %d", got[0])
		}
		clk.Add(time.Second)
		put(t, s, clk, "near2", east(bogota, 1), false, 0) // its mark is gone: the hint applies
		if got := count(t, s, probes[0]); got[0] != 0 {
			t.Fatalf("a forgotten user's mark came back: %d", got[0])
		}
		// SetAvailable of a user without a location is kept for their first one.
		if err := s.SetAvailable(ctx, "newcomer", true); err != nil {
			t.Fatal(err)
		}
		put(t, s, clk, "newcomer", east(bogota, 4), false, 0)
		if got := count(t, s, probes[0]); got[0] != 1 {
			t.Fatalf("newcomer's mark: %d, want 1", got[0])
		}
	})
}

// BenchmarkCountAvailable: one quote's count among many located drivers
// spread over 100 towns (the memory backend: the counting work itself,
// without Redis round trips). The cost follows the drivers around the quote,
// not all drivers: compare drivers=10k and drivers=100k (10× the drivers in
// every town) against towns=100 vs towns=1000 at 100k drivers (same total,
// 10× fewer per town).
func BenchmarkCountAvailable(b *testing.B) {
	for _, c := range []struct{ drivers, towns int }{{10_000, 100}, {100_000, 100}, {100_000, 1000}} {
		b.Run(fmt.Sprintf("drivers=%d/towns=%d", c.drivers, c.towns), func(b *testing.B) {
			clk := newClock()
			s := location.NewMemory(ttl, clk.Now)
			ctx := context.Background()
			towns := benchTowns(c.towns)
			for d := 0; d < c.drivers; d++ {
				if _, err := s.Set(ctx, fmt.Sprintf("d%06d", d), benchDriver(towns, d, clk)); err != nil {
					b.Fatal(err)
				}
			}
			probe := []location.Probe{{Point: towns[c.towns/2]}}
			n, err := s.CountAvailable(ctx, probe, 10)
			if err != nil || n[0] == 0 {
				b.Fatalf("count %v %v", n, err)
			}
			b.ReportMetric(float64(n[0]), "counted")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.CountAvailable(ctx, probe, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScanAllDrivers is what the count would cost by scanning every
// driver (a haversine per driver), for comparison with BenchmarkCountAvailable.
func BenchmarkScanAllDrivers(b *testing.B) {
	clk := newClock()
	towns := benchTowns(100)
	pts := make([]geo.Point, 100_000)
	for d := range pts {
		l := benchDriver(towns, d, clk)
		pts[d] = l.Point()
	}
	probe := towns[50]
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, p := range pts {
			if geo.DistanceKm(probe, p) <= 10 {
				n++
			}
		}
		if n == 0 {
			b.Fatal("none")
		}
	}
}

// BenchmarkCountAvailableRedis is BenchmarkCountAvailable on Redis
// (TEST_REDIS_URL; skipped without it): one count is one pipeline of HGETALL
// over the cells around the quote, so its cost follows the entries in those
// cells. Loading the drivers takes a while (one script per driver).
func BenchmarkCountAvailableRedis(b *testing.B) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		b.Skip("TEST_REDIS_URL not set")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	for _, cs := range []struct{ drivers, towns int }{{10_000, 100}, {100_000, 100}, {100_000, 1000}} {
		b.Run(fmt.Sprintf("drivers=%d/towns=%d", cs.drivers, cs.towns), func(b *testing.B) {
			_, prefix := testutil.Redis(b)
			defer func() { // the availability marks live a day: remove what this run wrote
				ctx := context.Background()
				iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
				var keys []string
				for iter.Next(ctx) {
					if keys = append(keys, iter.Val()); len(keys) == 500 {
						c.Del(ctx, keys...)
						keys = keys[:0]
					}
				}
				if len(keys) > 0 {
					c.Del(ctx, keys...)
				}
			}()
			clk := newClock()
			s := location.NewRedis(c, prefix, ttl, clk.Now)
			ctx := context.Background()
			towns := benchTowns(cs.towns)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := 0; w < 8; w++ {
				wg.Go(func() {
					for d := w; d < cs.drivers; d += 8 {
						if _, err := s.Set(ctx, fmt.Sprintf("d%06d", d), benchDriver(towns, d, clk)); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			probe := []location.Probe{{Point: towns[cs.towns/2]}}
			n, err := s.CountAvailable(ctx, probe, 10)
			if err != nil || n[0] == 0 {
				b.Fatalf("count %v %v", n, err)
			}
			b.ReportMetric(float64(n[0]), "counted")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.CountAvailable(ctx, probe, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchTowns is a grid of towns 0.5° apart (~55 km): their areas never overlap.
func benchTowns(n int) []geo.Point {
	towns := make([]geo.Point, n)
	for i := range towns {
		towns[i] = geo.Point{Lat: -4 + float64(i/40)*0.5, Lng: -78 + float64(i%40)*0.5}
	}
	return towns
}

// benchDriver is driver d's location: in town d mod len(towns), uniformly
// within ±0.15° (±16 km) of its centre (about half of them within 10 km);
// every other driver of a town available.
func benchDriver(towns []geo.Point, d int, clk *clock) location.Location {
	tw := towns[d%len(towns)]
	r := rand.New(rand.NewPCG(uint64(d), 7))
	p := geo.Point{Lat: geo.Round6(tw.Lat + (r.Float64()-0.5)*0.3), Lng: geo.Round6(tw.Lng + (r.Float64()-0.5)*0.3)}
	return location.Location{Latitude: p.Lat, Longitude: p.Lng, RecordedAt: clk.Now(), Available: d/len(towns)%2 == 0}
}
