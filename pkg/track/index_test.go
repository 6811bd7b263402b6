package track_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/location"
	"hermez/pkg/testutil"
	"hermez/pkg/track"
)

// Both indexes (memory, and Redis through its script) sample the same
// updates at fixed instants: the first, then every 15 s or after more than
// 50 m, never an update not newer than the last point; the points come out
// of the queue as sampled; an entry past its Until stops counting; end
// returns the last sampled instant and removes the entry.
func TestSamplingAtFixedInstants(t *testing.T) {
	url, prefix := testutil.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	for name, idx := range map[string]track.Index{"memory": track.MemIndex(), "redis": track.RedisIndex(rdb, prefix)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
			del := uuid.New()
			a := track.Active{Delivery: del.String(), Client: "c1", Status: "assigned", Until: t0.Add(time.Hour).UnixMilli()}
			if err := idx.Put(ctx, "drv", a); err != nil {
				t.Fatal(err)
			}
			// (seconds after t0, metres north of the start, sampled?)
			steps := []struct {
				sec    float64
				north  float64
				sample bool
			}{
				{0, 0, true},        // the first update
				{1, 10, false},      // 10 m, 1 s
				{14.999, 45, false}, // 45 m, just under 15 s
				{15, 48, true},      // 15 s after the first point
				{16, 98.9, true},    // 50.9 m after it: more than 50 m
				{17, 99, false},     // 0.1 m, 1 s
				{30, 100, false},    // 14 s
				{31, 100, true},     // 15 s
			}
			var want []time.Time
			for _, s := range steps {
				at := t0.Add(time.Duration(s.sec * float64(time.Second)))
				loc := location.Location{Latitude: 7 + s.north/111195.08, Longitude: -73, RecordedAt: at}
				seen, err := idx.Observe(ctx, "drv", loc, t0.UnixMilli(), 15*time.Second, 50)
				if err != nil {
					t.Fatal(err)
				}
				if len(seen) != 1 || seen[0].Delivery != a.Delivery || seen[0].Client != "c1" || seen[0].Sampled != s.sample {
					t.Fatalf("at %vs (%v m): %+v, want sampled=%v", s.sec, s.north, seen, s.sample)
				}
				if s.sample {
					want = append(want, at)
				}
			}
			// An update not newer than the last point is never sampled.
			seen, err := idx.Observe(ctx, "drv", location.Location{Latitude: 8, Longitude: -73, RecordedAt: t0}, t0.UnixMilli(), 15*time.Second, 50)
			if err != nil || len(seen) != 1 || seen[0].Sampled {
				t.Fatalf("older update: %+v %v", seen, err)
			}
			ps, err := idx.Pop(ctx, 100)
			if err != nil || len(ps) != len(want) {
				t.Fatalf("queued %v %v, want %d", ps, err, len(want))
			}
			for i, p := range ps {
				if p.DeliveryID != del || !p.RecordedAt.Equal(want[i]) {
					t.Fatalf("queued point %d: %+v, want %s", i, p, want[i])
				}
			}
			if ps, _ := idx.Pop(ctx, 100); len(ps) != 0 {
				t.Fatalf("queue not empty: %v", ps)
			}
			// Past its Until, the entry does not count.
			if seen, _ := idx.Observe(ctx, "drv", location.Location{Latitude: 7, Longitude: -73, RecordedAt: t0.Add(time.Minute)}, t0.Add(2*time.Hour).UnixMilli(), 15*time.Second, 50); len(seen) != 0 {
				t.Fatalf("expired entry still tracked: %+v", seen)
			}
			// end: the last sampled instant, and the entry gone.
			if err := idx.Put(ctx, "drv", a); err != nil {
				t.Fatal(err)
			}
			if _, err := idx.Observe(ctx, "drv", location.Location{Latitude: 7, Longitude: -73, RecordedAt: t0.Add(time.Hour)}, t0.UnixMilli(), 15*time.Second, 50); err != nil {
				t.Fatal(err)
			}
			last, err := idx.End(ctx, "drv", a.Delivery)
			if err != nil || !last.Equal(t0.Add(time.Hour)) {
				t.Fatalf("end: %v %v", last, err)
			}
			if l, _ := idx.List(ctx, "drv", t0.UnixMilli()); len(l) != 0 {
				t.Fatalf("entry after end: %v", l)
			}
		})
	}
}
