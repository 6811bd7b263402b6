package throttle_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/realtime"
	htu "hermez/pkg/testutil"
	"hermez/pkg/throttle"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]throttle.Rate{
		"120/min": {N: 120, Period: time.Minute}, "20/minute": {N: 20, Period: time.Minute},
		"5/sec": {N: 5, Period: time.Second}, "3/hour": {N: 3, Period: time.Hour}, "1/day": {N: 1, Period: 24 * time.Hour},
		"0": {}, "": {},
	} {
		got, err := throttle.ParseRate(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"abc", "5", "5/", "5/week", "-1/min", "x/min"} {
		if _, err := throttle.ParseRate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// stores runs f on the in-process store and on Redis (TEST_REDIS_URL or miniredis).
func stores(t *testing.T, f func(t *testing.T, s throttle.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, throttle.NewMemory()) })
	t.Run("redis", func(t *testing.T) {
		url, prefix := htu.Redis(t)
		c, err := realtime.OpenRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		f(t, &throttle.Redis{Client: c, Prefix: prefix})
	})
}

// DRF's counting: up to N in any window of the period; a burst of N passes at
// once; a refused hit is not recorded; the wait is until the oldest hit leaves.
func TestSlidingWindowIsDRFs(t *testing.T) {
	stores(t, func(t *testing.T, s throttle.Store) {
		ctx := context.Background()
		r := throttle.Rate{N: 3, Period: time.Minute}
		t0 := time.Unix(1_800_000_000, 0)
		hit := func(at time.Duration) throttle.Decision {
			d, err := s.Hit(ctx, "k", r, t0.Add(at))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for i := range 3 {
			if !hit(time.Duration(i) * time.Second).Allowed {
				t.Fatalf("hit %d of the burst refused", i+1)
			}
		}
		d := hit(10 * time.Second)
		if d.Allowed || d.RetryAfter != 50*time.Second {
			t.Fatalf("4th: %+v, want refused with 50s", d)
		}
		// GCRA (redis_rate) would let one through after period/N; DRF does not.
		if hit(30 * time.Second).Allowed {
			t.Fatal("a 4th hit inside the window passed")
		}
		if !hit(60*time.Second + time.Millisecond).Allowed { // the first left the window
			t.Fatal("not allowed once the oldest hit left")
		}
		if hit(60*time.Second + 2*time.Millisecond).Allowed {
			t.Fatal("window holds 3 again")
		}
		if d, _ := s.Hit(ctx, "other", r, t0); !d.Allowed {
			t.Fatal("keys are independent")
		}
	})
}

// Concurrent hits never pass more than N (the Redis script is atomic).
func TestConcurrentHitsNeverPassTheLimit(t *testing.T) {
	stores(t, func(t *testing.T, s throttle.Store) {
		r := throttle.Rate{N: 20, Period: time.Minute}
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := s.Hit(context.Background(), "burst", r, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if allowed != 20 {
			t.Fatalf("%d of 100 concurrent hits allowed, want 20", allowed)
		}
	})
}

// Take counts a hit on every key or on none (a refused attempt uses up
// neither), waits for the longest, and Untake and Reset give hits back: the
// staff console's login limit (a client IP + username pair and the username).
func TestTakeSeveralKeysAtOnce(t *testing.T) {
	stores(t, func(t *testing.T, s throttle.Store) {
		l, ok := s.(throttle.Log)
		if !ok {
			t.Fatalf("%T is not a throttle.Log", s)
		}
		ctx := context.Background()
		t0 := time.Unix(1_800_000_000, 0)
		rates := []throttle.Rate{{N: 2, Period: time.Minute}, {N: 3, Period: 10 * time.Minute}}
		pairKey := func(ip string) string { return "login:{ana}:p:" + ip }
		take := func(ip string, at time.Duration) throttle.Decision {
			t.Helper()
			d, err := l.Take(ctx, t0.Add(at), []string{pairKey(ip), "login:{ana}:u"}, rates)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if !take("1", 0).Allowed || !take("1", time.Second).Allowed {
			t.Fatal("the first two attempts of a pair refused")
		}
		// The pair is full: refused until its first hit leaves, and not
		// counted on the username either.
		if d := take("1", 2*time.Second); d.Allowed || d.RetryAfter != 58*time.Second {
			t.Fatalf("3rd attempt of the pair: %+v, want refused for 58s", d)
		}
		if !take("2", 3*time.Second).Allowed {
			t.Fatal("the username's 3rd attempt (another pair) refused: the refused one was counted")
		}
		// Both full: the longest wait (the username's, 600s - 4s).
		if d := take("1", 4*time.Second); d.Allowed || d.RetryAfter != 596*time.Second {
			t.Fatalf("both full: %+v, want refused for 596s", d)
		}
		// A good password: the pair's log emptied, its attempt given back.
		if err := l.Reset(ctx, pairKey("2")); err != nil {
			t.Fatal(err)
		}
		if err := l.Untake(ctx, "login:{ana}:u", t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if !take("2", 5*time.Second).Allowed {
			t.Fatal("refused after Reset and Untake")
		}
		if d := take("3", 6*time.Second); d.Allowed || d.RetryAfter != 594*time.Second {
			t.Fatalf("username full again: %+v, want refused for 594s", d)
		}
		// Untake of a time with no hit changes nothing.
		if err := l.Untake(ctx, "login:{ana}:u", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if take("4", 7*time.Second).Allowed {
			t.Fatal("an Untake of no hit gave an attempt back")
		}
	})
}

func TestMessageAndWait(t *testing.T) {
	if got := throttle.WaitSeconds(59200 * time.Millisecond); got != 60 {
		t.Fatalf("wait %d", got)
	}
	if got := throttle.WaitSeconds(0); got != 1 {
		t.Fatalf("wait %d", got)
	}
	if m := throttle.Message(42); m != "Solicitud fue regulada (throttled). Se espera que esté disponible en 42 segundos." {
		t.Fatal(m)
	}
}

// The limiter's Redis taken away: requests pass, the failure is counted (and
// logged); once Redis is back, throttling resumes.
func TestRedisOutageLetsRequestsThroughAndIsCounted(t *testing.T) {
	srv := htu.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", srv.Port), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	l := &throttle.Limiter{Scope: "fault_test", Rate: throttle.Rate{N: 2, Period: time.Minute},
		Store: &throttle.Redis{Client: c, Prefix: "fault:"}, Log: htu.Logger()}
	ctx := context.Background()
	errors := func() float64 { return testutil.ToFloat64(throttle.Decisions.WithLabelValues("fault_test", "error")) }
	throttled := func() float64 {
		return testutil.ToFloat64(throttle.Decisions.WithLabelValues("fault_test", "throttled"))
	}

	first, second, third := l.Allow(ctx, "ip"), l.Allow(ctx, "ip"), l.Allow(ctx, "ip")
	if !first.Allowed || !second.Allowed || third.Allowed {
		t.Fatal("with Redis up: 2 allowed, the 3rd refused")
	}
	srv.Kill()
	before := errors()
	start := time.Now()
	for i := range 5 {
		if !l.Allow(ctx, "ip").Allowed {
			t.Fatalf("request %d refused while the limiter's Redis is down", i+1)
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("5 requests took %s with Redis down: each must fail fast", time.Since(start))
	}
	if got := errors() - before; got != 5 {
		t.Fatalf("%v failures counted, want 5", got)
	}
	srv.Restart()
	beforeThrottled := throttled()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.Allow(ctx, "ip2")
		l.Allow(ctx, "ip2")
		if !l.Allow(ctx, "ip2").Allowed && throttled() > beforeThrottled {
			break // throttling resumed
		}
		if time.Now().After(deadline) {
			t.Fatal("throttling never resumed after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A worker that dies (no release, no heartbeat) stops counting within TTL;
// a live worker's heartbeat keeps its sockets counted past TTL.
func TestSocketsOfADeadWorkerExpire(t *testing.T) {
	url, prefix := htu.Redis(t)
	c, err := realtime.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One clock for both workers: the test steps it past the TTL instead of sleeping.
	clock := htu.NewClock(time.Time{})
	live := &throttle.Sockets{Max: 3, Client: c, Prefix: prefix, TTL: time.Minute, Heartbeat: 20 * time.Millisecond, Now: clock.Now}
	dead := &throttle.Sockets{Max: 3, Client: c, Prefix: prefix, TTL: time.Minute, Heartbeat: 20 * time.Millisecond, Now: clock.Now}
	go live.Run(ctx)
	if _, ok := live.Acquire(ctx, "u"); !ok {
		t.Fatal("first socket refused")
	}
	for range 2 {
		if _, ok := dead.Acquire(ctx, "u"); !ok {
			t.Fatal("socket refused")
		}
	}
	if _, ok := live.Acquire(ctx, "u"); ok {
		t.Fatal("4th socket across two workers accepted")
	}
	// dead never runs its heartbeat and never releases: it crashed.
	clock.Advance(time.Minute + time.Second)
	// Past the TTL every entry is stale until the live worker's next
	// heartbeat (≤ 20 ms) pushes its own forward; the dead worker's stay stale.
	var n int
	htu.Eventually(t, 5*time.Second, "the live worker's heartbeat", func() bool {
		n, err = live.Count(ctx, "u")
		return err == nil && n >= 1
	})
	if n != 1 {
		t.Fatalf("after TTL: %d sockets counted, want the live worker's 1", n)
	}
	rel, ok := live.Acquire(ctx, "u")
	if !ok {
		t.Fatal("user still locked out after the dead worker's TTL")
	}
	rel()
	rel() // idempotent
	if n, _ := live.Count(ctx, "u"); n != 1 {
		t.Fatalf("after release: %d", n)
	}
}

func TestSocketsInProcess(t *testing.T) {
	s := &throttle.Sockets{Max: 2}
	ctx := context.Background()
	r1, ok1 := s.Acquire(ctx, "u")
	_, ok2 := s.Acquire(ctx, "u")
	_, ok3 := s.Acquire(ctx, "u")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("%v %v %v", ok1, ok2, ok3)
	}
	r1()
	if _, ok := s.Acquire(ctx, "u"); !ok {
		t.Fatal("a released place was not freed")
	}
	if _, ok := (&throttle.Sockets{}).Acquire(ctx, "u"); !ok {
		t.Fatal("Max 0 must disable the cap")
	}
}
