package throttle_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"hermez/pkg/realtime"
	htu "hermez/pkg/testutil"
	"hermez/pkg/throttle"
)

// The cost a throttle adds to one request: in-process, and one round trip to
// Redis (TEST_REDIS_URL, else miniredis) with the sliding-log script.
func BenchmarkLimiterAllow(b *testing.B) {
	r := throttle.Rate{N: 120, Period: time.Minute} // the THROTTLE_USER_WRITES default
	run := func(b *testing.B, s throttle.Store) {
		l := &throttle.Limiter{Scope: "bench", Rate: r, Store: s}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			l.Allow(ctx, "user_"+strconv.Itoa(i%100000))
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, throttle.NewMemory()) })
	b.Run("redis", func(b *testing.B) {
		url, prefix := htu.Redis(b)
		c, err := realtime.OpenRedis(url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		run(b, &throttle.Redis{Client: c, Prefix: prefix})
	})
}
