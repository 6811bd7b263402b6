package throttle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"hermez/pkg/realtime"
	htu "hermez/pkg/testutil"
	"hermez/pkg/throttle"
)

// On a real three-master Redis Cluster (REDIS_CLUSTER_URL): the throttle
// store never lets concurrent hits through past the limit, its keys spread
// over the masters, and the socket cap counts one user's sockets across two
// workers (each with its own cluster client), heartbeat included.
func TestThrottlesAndSocketCapOnACluster(t *testing.T) {
	c := htu.StartRedisCluster(t)
	open := func() *throttle.Redis {
		cc, err := realtime.OpenRedisCluster(c.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return &throttle.Redis{Client: cc, Prefix: "hermez:throttle:"}
	}
	webs := []*throttle.Redis{open(), open()}
	r := throttle.Rate{N: 20, Period: time.Minute}
	masters := map[int]bool{}
	for k := range 6 {
		key := fmt.Sprintf("user_writes:u%d", k)
		masters[c.NodeOf("hermez:throttle:"+key)] = true
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				d, err := webs[i%2].Hit(context.Background(), key, r, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if allowed != 20 {
			t.Fatalf("%s: %d of 60 hits from two webs allowed, want 20", key, allowed)
		}
	}
	t.Logf("six throttle keys on %d masters", len(masters))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := htu.NewClock(time.Time{}) // stepped past the TTL instead of slept through
	w1 := &throttle.Sockets{Max: 3, Client: webs[0].Client, Prefix: "hermez:", TTL: time.Minute, Heartbeat: 20 * time.Millisecond, Now: clock.Now}
	w2 := &throttle.Sockets{Max: 3, Client: webs[1].Client, Prefix: "hermez:", TTL: time.Minute, Heartbeat: 20 * time.Millisecond, Now: clock.Now}
	go w1.Run(ctx)
	go w2.Run(ctx)
	var rels []func()
	for i := range 3 {
		rel, ok := []*throttle.Sockets{w1, w2, w1}[i].Acquire(ctx, "u")
		if !ok {
			t.Fatalf("socket %d refused", i+1)
		}
		rels = append(rels, rel)
	}
	if _, ok := w2.Acquire(ctx, "u"); ok {
		t.Fatal("4th socket across two workers accepted")
	}
	clock.Advance(time.Minute + time.Second) // past the TTL: only the heartbeats bring them back
	htu.Eventually(t, 5*time.Second, "both workers' heartbeats to keep their 3 sockets", func() bool {
		n, err := w1.Count(ctx, "u")
		return err == nil && n == 3
	})
	rels[1]()
	if _, ok := w2.Acquire(ctx, "u"); !ok {
		t.Fatal("a released place was not given again")
	}
}
