package app_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The runner runs the nearby_drivers pass once per NearbyEvery, never
// closer: with the loop publishing a quote's changed count once per pass,
// that is place.md §5's "at most once per NEARBY_INTERVAL_SECONDS per quote,
// the first within that interval of the change" (the bubble's clock, no wall
// clock).
func TestRunnerNearbyEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		start := time.Now()
		r := &app.Runner{Lock: app.NewLocker(nil, nil, "t"), NearbyEvery: 5 * time.Second,
			Nearby: func(context.Context) error {
				mu.Lock()
				at = append(at, time.Now())
				mu.Unlock()
				return nil
			}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.Run(ctx); close(done) }()
		time.Sleep(23 * time.Second)
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(at) != 4 {
			t.Fatalf("%d passes in 23 s, want 4 (every 5 s)", len(at))
		}
		prev := start
		for i, a := range at {
			if gap := a.Sub(prev); gap != 5*time.Second {
				t.Fatalf("pass %d came %v after the previous one, want 5s", i, gap)
			}
			prev = a
		}
	})
}

// One nearby pass across replicas: the runners share the lease, so a second
// process never publishes the same changes (on PostgreSQL, the runner lease).
func TestNearbyPassHeldByOneReplica(t *testing.T) {
	st := testutil.NewStore(t)
	if st.Dialect != store.Postgres {
		t.Skip("the lease is PostgreSQL's (SQLite runs one process)")
	}
	calls := map[string]int{}
	mk := func(name string) *app.Runner {
		return &app.Runner{Lock: app.NewLocker(st, nil, "nearby-test"), Nearby: func(context.Context) error {
			calls[name]++
			return nil
		}}
	}
	a, b := mk("a"), mk("b")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if !a.NearbyOnce(ctx) {
			t.Fatal("the lease holder did not run its pass")
		}
		if b.NearbyOnce(ctx) {
			t.Fatal("a second replica ran the nearby pass while the first holds the lease")
		}
	}
	if calls["a"] != 3 || calls["b"] != 0 {
		t.Fatalf("passes %v", calls)
	}
}
