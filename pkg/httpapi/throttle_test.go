package httpapi_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
	"hermez/pkg/throttle"
)

// wantThrottled checks a 429 with Retry-After and DRF's throttled body
// {"detail": text} (one key).
func wantThrottled(t *testing.T, what string, res *testutil.Response) {
	t.Helper()
	if res.Status != http.StatusTooManyRequests {
		t.Fatalf("%s: status %d, want 429: %s", what, res.Status, res.Body)
	}
	wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || wait < 1 || wait > 60 {
		t.Fatalf("%s: Retry-After %q", what, res.Header.Get("Retry-After"))
	}
	want := "Solicitud fue regulada (throttled). Se espera que esté disponible en " + strconv.Itoa(wait) + " segundo"
	if s := testutil.DetailText(t, res.Body); !strings.HasPrefix(s, want) {
		t.Fatalf("%s: detail %q, want %q…", what, s, want)
	}
}

// twoWebs are two web processes on one Redis (the throttles' shared store).
func twoWebs(t *testing.T, edit func(*config.Config)) (*testutil.Web, *testutil.Web) {
	t.Helper()
	url, prefix := testutil.Redis(t)
	web := func() *testutil.Web {
		c, err := realtime.OpenRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		b := &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: prefix}, Redis: c}
		return testutil.NewWeb(t, testutil.WebOptions{Broker: b, Config: edit})
	}
	return web(), web()
}

// Each throttle answers 429 with Retry-After in DRF's shape, and the count is
// shared by two web processes on one Redis.
func TestThrottlesAreSharedAndAnswer429(t *testing.T) {
	t.Parallel()
	w1, w2 := twoWebs(t, func(c *config.Config) {
		c.ThrottleUserWrites, c.ThrottleQuotes, c.ThrottleAnon = "6/min", "2/min", "4/min"
	})
	ana := newActor(t, w1, "user_thr_ana")
	bob := newActor(t, w1, "user_thr_bob")
	webs := []*testutil.Web{w1, w2}

	// Quotes: 2 per minute per client, counted across both processes.
	createQuote(t, w1, ana, nil)
	createQuote(t, w2, ana, nil)
	wantThrottled(t, "3rd quote", w1.Do(t, "POST", "/deliveries/api/quotes/", ana.Tok, quoteBody(t, w1, ana, nil)))
	wantThrottled(t, "3rd quote elsewhere", w2.Do(t, "POST", "/deliveries/api/quotes/", ana.Tok, quoteBody(t, w2, ana, nil)))
	// Another user is not affected; reads are never counted as writes.
	createQuote(t, w2, bob, nil)
	for range 10 {
		mustStatus(t, w2.Do(t, "GET", "/user/api/me/"+ana.ID+"/", ana.Tok, nil), 200)
	}
	// Writes: 6 per minute per user (the 2 quotes and the 2 refused ones counted).
	for i := range 2 {
		mustStatus(t, webs[i%2].Do(t, "PATCH", "/user/api/me/update/", ana.Tok, map[string]any{"first_name": "Ana"}), 200)
	}
	wantThrottled(t, "7th write", w2.Do(t, "PATCH", "/user/api/me/update/", ana.Tok, map[string]any{"first_name": "Ana"}))
	wantThrottled(t, "7th write elsewhere", w1.Do(t, "POST", "/user/api/me/toggle-availability/", ana.Tok, nil))

	// Anonymous: 4 per minute per client IP, bad tokens included; valid
	// tokens, probes and the webhook are not counted.
	mustStatus(t, w1.Do(t, "GET", "/user/api/me/", "", nil), 401)
	mustStatus(t, w2.Do(t, "GET", "/user/api/me/", "not.a.token", nil), 401)
	mustStatus(t, w1.Do(t, "GET", "/nope/", "", nil), 404)
	for range 10 {
		mustStatus(t, w1.Do(t, "GET", "/healthz", "", nil), 200)
		mustStatus(t, w2.Do(t, "GET", "/deliveries/api/categories/", bob.Tok, nil), 200)
	}
	mustStatus(t, w2.Do(t, "GET", "/openapi.json", "", nil), 200)
	wantThrottled(t, "5th anonymous", w1.Do(t, "GET", "/user/api/me/", "", nil))
	wantThrottled(t, "5th anonymous with a forged token", w2.Do(t, "GET", "/deliveries/api/quotes/", "eyJhbGciOiJSUzI1NiJ9.e30.sig", nil))
	// Throttled: a refused token guess is not even checked.
	mustStatus(t, w1.Do(t, "GET", "/deliveries/api/categories/", bob.Tok, nil), 200)

	// Counted in /metrics.
	res := w1.Do(t, "GET", "/metrics", "", nil)
	for _, scope := range []string{"quotes", "user_writes", "anon"} {
		if !strings.Contains(string(res.Body), `hermez_throttle_decisions_total{outcome="throttled",scope="`+scope+`"}`) {
			t.Fatalf("metrics lack throttled %s", scope)
		}
	}
}

// Forged X-Forwarded-For / X-Real-IP do not split the anonymous count when
// TRUSTED_PROXY_HOPS is 0; with 1, the proxy's address is the client's.
func TestAnonThrottleKeysOnTheClientIPRule(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleAnon = "3/min" }})
	get := func(xff, realIP string) int {
		req, _ := http.NewRequest("GET", w.URL+"/user/api/me/", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		if realIP != "" {
			req.Header.Set("X-Real-IP", realIP)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 3 {
		if s := get("10.0.0."+strconv.Itoa(i), "10.9.9."+strconv.Itoa(i)); s != 401 {
			t.Fatalf("request %d: %d", i+1, s)
		}
	}
	if s := get("10.0.0.200", "10.9.9.200"); s != 429 {
		t.Fatalf("a rotated X-Forwarded-For/X-Real-IP reset the count: %d", s)
	}

	behind := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleAnon, c.TrustedProxyHops = "1/min", 1 }})
	do := func(xff string) int {
		req, _ := http.NewRequest("GET", behind.URL+"/user/api/me/", nil)
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if do("6.6.6.6, 203.0.113.1") != 401 || do("6.6.6.6, 203.0.113.2") != 401 {
		t.Fatal("two clients behind the proxy share a count")
	}
	if do("7.7.7.7, 203.0.113.1") != 429 {
		t.Fatal("a client's own X-Forwarded-For entry reset its count")
	}
}

// The throttles' Redis taken away (a redis-server of the test's own, killed
// and restarted): requests pass — no 429, no 5xx — the failures are counted
// in /metrics, and throttling resumes once Redis is back.
func TestThrottleRedisOutage(t *testing.T) {
	srv := testutil.StartRedisServer(t)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(srv.Port), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	b := &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: "outage:"}, Redis: c}
	w := testutil.NewWeb(t, testutil.WebOptions{Broker: b, Config: func(c *config.Config) {
		c.ThrottleUserWrites, c.ThrottleAnon = "3/min", "3/min"
	}})
	ana := newActor(t, w, "user_outage_ana")
	write := func() int {
		return w.Do(t, "PATCH", "/user/api/me/update/", ana.Tok, map[string]any{"first_name": "Ana"}).Status
	}
	for range 3 {
		if s := write(); s != 200 {
			t.Fatalf("write with Redis up: %d", s)
		}
	}
	if s := write(); s != 429 {
		t.Fatalf("4th write with Redis up: %d", s)
	}
	errorsOf := func(scope string) float64 {
		return promtest.ToFloat64(throttle.Decisions.WithLabelValues(scope, "error")) // what /metrics shows
	}
	beforeWrites, beforeAnon := errorsOf("user_writes"), errorsOf("anon")
	srv.Kill()
	for i := range 6 {
		if s := write(); s != 200 {
			t.Fatalf("write %d with the throttle's Redis down: %d", i+1, s)
		}
		if s := w.Do(t, "GET", "/user/api/me/", "", nil).Status; s != 401 {
			t.Fatalf("anonymous request %d with Redis down: %d", i+1, s)
		}
	}
	if got := errorsOf("user_writes") - beforeWrites; got != 6 {
		t.Fatalf("user_writes failures counted: %v, want 6", got)
	}
	if got := errorsOf("anon") - beforeAnon; got < 6 {
		t.Fatalf("anon failures counted: %v, want ≥ 6", got)
	}
	srv.Restart() // empty: the counts start over
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		if s := write(); s == 429 {
			if n < 3 {
				t.Fatalf("throttled after %d writes on the restarted Redis", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("throttling never resumed after Redis came back")
		}
	}
}
