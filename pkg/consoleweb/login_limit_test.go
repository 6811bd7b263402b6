package consoleweb_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/console"
	"hermez/pkg/consoleweb"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// guess posts one login attempt with extra headers (after fetching the form).
func (b *browser) guess(user, pass string, hdr ...string) *page {
	b.t.Helper()
	lp := b.get("/admin/login/")
	return b.do(http.MethodPost, "/admin/login/", url.Values{"csrf_token": {csrf(b.t, lp)}, "username": {user}, "password": {pass}}, hdr...)
}

func limitFixture(t *testing.T, edit func(*config.Config)) *fixture {
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) {
		c.ThrottleAnon = "0"
		if edit != nil {
			edit(c)
		}
	}})
	if _, err := console.New(w.Store).CreateAccount(context.Background(), "ana", staffPass, false); err != nil {
		t.Fatal(err)
	}
	return &fixture{W: w}
}

// Issue 12 §3: a new X-Forwarded-For or X-Real-IP on each try does not lift
// the limit (TRUSTED_PROXY_HOPS=0: the peer address is the client's).
func TestLoginLimitIgnoresForgedAddresses(t *testing.T) {
	f := limitFixture(t, nil)
	b := f.browser(t)
	for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
		ip := fmt.Sprintf("198.51.100.%d", i)
		if res := b.guess("ana", "mala", "X-Forwarded-For", ip, "X-Real-IP", ip); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	for _, hdr := range [][]string{
		{"X-Forwarded-For", "203.0.113.50"}, {"X-Real-IP", "203.0.113.51"},
		{"X-Forwarded-For", "203.0.113.52, 203.0.113.53", "X-Real-IP", "203.0.113.54"},
	} {
		if res := b.guess("ana", staffPass, hdr...); res.Status != http.StatusTooManyRequests {
			t.Fatalf("forged %v lifted the limit: %d", hdr, res.Status)
		}
	}
}

// Behind one proxy (TRUSTED_PROXY_HOPS=1) the proxy's entry is the client:
// entries the client wrote to the left of it change nothing.
func TestLoginLimitBehindAProxy(t *testing.T) {
	f := limitFixture(t, func(c *config.Config) { c.TrustedProxyHops = 1 })
	b := f.browser(t)
	for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
		forged := fmt.Sprintf("198.51.100.%d, 203.0.113.9", i)
		if res := b.guess("ana", "mala", "X-Forwarded-For", forged, "X-Real-IP", "1.2.3.4"); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	if res := b.guess("ana", staffPass, "X-Forwarded-For", "10.10.10.10, 203.0.113.9"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("same client, forged left entry: %d", res.Status)
	}
	if res := b.guess("ana", staffPass, "X-Forwarded-For", "203.0.113.10"); res.Status != http.StatusSeeOther {
		t.Fatalf("another client is not limited: %d", res.Status)
	}
}

// Issue 12 §3: concurrent guesses from many addresses never pass the
// per-username cap (it is reserved before the password is checked).
func TestConcurrentGuessesNeverPassTheUsernameCap(t *testing.T) {
	f := limitFixture(t, func(c *config.Config) { c.TrustedProxyHops = 1 })
	const workers, total = 8, 60
	var next, checked, refused atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := f.browser(t)
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				ip := fmt.Sprintf("192.0.2.%d", n) // a new address each time: only the username cap applies
				switch res := b.guess("ana", "mala", "X-Forwarded-For", ip); res.Status {
				case http.StatusUnauthorized:
					checked.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("guess %d: %d", n, res.Status)
				}
			}
		}()
	}
	wg.Wait()
	if checked.Load() != consoleweb.LoginFailsPerAcc || refused.Load() != total-consoleweb.LoginFailsPerAcc {
		t.Fatalf("%d passwords checked and %d refused of %d guesses; the cap is %d", checked.Load(), refused.Load(), total, consoleweb.LoginFailsPerAcc)
	}
}

// A username PostgreSQL would refuse (U+0000, not UTF-8, too long) is a
// failed login, never a 500.
func TestLoginWithHostileUsernames(t *testing.T) {
	f := limitFixture(t, func(c *config.Config) { c.TrustedProxyHops = 1 })
	b := f.browser(t)
	for i, u := range []string{"ana\x00", "\xa5\xff", strings.Repeat("a", 5000)} {
		if res := b.guess(u, staffPass, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1)); res.Status != http.StatusUnauthorized {
			t.Fatalf("username %.10q: %d", u, res.Status)
		}
	}
}

// redisClient is a client on TEST_REDIS_URL (or a miniredis) and a prefix of
// the test's own.
func redisClient(t *testing.T) (redis.UniversalClient, string) {
	url, prefix := testutil.Redis(t)
	c, err := realtime.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, prefix
}

// With Redis the login limit is shared by every web instance: failures on
// one count on the other, and concurrent guesses on both never pass the
// per-username cap.
func TestLoginLimitSharedByTwoWebs(t *testing.T) {
	c, prefix := redisClient(t)
	web1, web2 := consoleweb.NewLoginLimiter(c, prefix, time.Now), consoleweb.NewLoginLimiter(c, prefix, time.Now)
	for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
		blocked, _, done := []consoleweb.LoginLimiter{web1, web2}[i%2].Reserve("203.0.113.1", "ana")
		if blocked {
			t.Fatalf("attempt %d refused", i+1)
		}
		done(false)
	}
	for _, l := range []consoleweb.LoginLimiter{web1, web2} {
		if blocked, wait, _ := l.Reserve("203.0.113.1", "Ana "); !blocked || wait <= 0 || wait > consoleweb.LoginWindow {
			t.Fatalf("6th attempt: blocked %v, wait %s", blocked, wait)
		}
	}
	// A good password clears the pair and gives its attempt back.
	blocked, _, done := web2.Reserve("203.0.113.2", "ana")
	if blocked {
		t.Fatal("another address refused")
	}
	done(true)

	var checked, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Go(func() {
			blocked, _, done := []consoleweb.LoginLimiter{web1, web2}[i%2].Reserve(fmt.Sprintf("198.51.100.%d", i), "bruno")
			if blocked {
				refused.Add(1)
				return
			}
			checked.Add(1)
			done(false)
		})
	}
	wg.Wait()
	if checked.Load() != consoleweb.LoginFailsPerAcc {
		t.Fatalf("%d of 120 concurrent guesses on two webs checked, want the cap %d", checked.Load(), consoleweb.LoginFailsPerAcc)
	}
}

// The limit's Redis taken away: the console falls back to this process's
// limit (still limited, never open, never a 500).
func TestLoginLimitWithoutRedisFallsBack(t *testing.T) {
	srv := testutil.StartRedisServer(t)
	c, err := realtime.OpenRedis(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := consoleweb.NewLoginLimiter(c, "fallback:", time.Now)
	srv.Kill()
	for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
		if blocked, _, done := l.Reserve("203.0.113.1", "ana"); blocked {
			t.Fatalf("attempt %d refused", i+1)
		} else {
			done(false)
		}
	}
	if blocked, _, _ := l.Reserve("203.0.113.1", "ana"); !blocked {
		t.Fatal("with Redis down the limit is gone")
	}
}

// On a Redis Cluster the two keys of a username share a slot (hash tag), so
// the one script reserving both runs there.
func TestLoginLimitOnACluster(t *testing.T) {
	cl := testutil.StartRedisCluster(t)
	c, err := realtime.OpenRedisCluster(cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := consoleweb.NewLoginLimiter(c, "hermez:", time.Now)
	for _, u := range []string{"ana", "bruno", "carla", "{odd}name"} {
		for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
			blocked, _, done := l.Reserve("203.0.113.1", u)
			if blocked {
				t.Fatalf("%s attempt %d refused", u, i+1)
			}
			done(false)
		}
		if blocked, _, _ := l.Reserve("203.0.113.1", u); !blocked {
			t.Fatalf("%s: 6th attempt not refused", u)
		}
		// Counted on the cluster itself (a CROSSSLOT error would have fallen
		// back to the per-process limit, which refuses the 6th too).
		if n, err := c.ZCard(context.Background(), "hermez:login:{"+u+"}:u").Result(); err != nil || n != int64(consoleweb.LoginFailsPerIP) {
			t.Fatalf("%s: %d failures on the cluster (%v), want %d", u, n, err, consoleweb.LoginFailsPerIP)
		}
	}
}

// Wired: two web processes on one database and one Redis share the console's
// login limit.
func TestConsoleLoginLimitAcrossTwoWebs(t *testing.T) {
	url, prefix := testutil.Redis(t)
	st := testutil.NewStore(t)
	web := func() *fixture {
		c, err := realtime.OpenRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		b := &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: prefix}, Redis: c}
		return &fixture{W: testutil.NewWeb(t, testutil.WebOptions{Store: st, Broker: b, Config: func(c *config.Config) { c.ThrottleAnon = "0" }})}
	}
	w1, w2 := web(), web()
	if _, err := console.New(st).CreateAccount(context.Background(), "ana", staffPass, false); err != nil {
		t.Fatal(err)
	}
	b1, b2 := w1.browser(t), w2.browser(t)
	for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
		if res := []*browser{b1, b2}[i%2].guess("ana", "mala"); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	for _, b := range []*browser{b1, b2} {
		if res := b.guess("ana", staffPass); res.Status != http.StatusTooManyRequests {
			t.Fatalf("6th attempt on either web: %d", res.Status)
		}
	}
}
