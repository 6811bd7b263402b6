package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/testutil"
)

// Blue/green deploys of web under 50 clients on kept-alive connections, as
// the platform does it: a new instance starts and becomes the target of new
// connections, the old one gets SIGTERM while clients still hold connections
// to it. With the drain (readyz 503, `Connection: close`), no request gets
// lost: every request gets an answer, over ≥ 20 SIGTERMs.
func TestSIGTERMUnderKeepAliveLoad(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	s := newSystem(t, url, prefix)
	const clients, deploys = 50, 20
	old := s.startWeb(0)
	var target atomic.Pointer[string]
	target.Store(&old.url)
	a := newAPI(old.url)
	tokens := s.users(a, "user_st", clients)
	// The "load balancer": new connections go to the current target.
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		addr := strings.TrimPrefix(*target.Load(), "http://")
		return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
	}
	load := startAPILoad(apiLoadOptions{tokens: tokens, dial: dial,
		pause: func() time.Duration { return time.Duration(50+rand.IntN(250)) * time.Millisecond }})
	time.Sleep(500 * time.Millisecond)
	var drainLongest, readyFlip time.Duration
	for d := 0; d < deploys; d++ {
		next := s.startWeb(0)
		target.Store(&next.url)
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		start := time.Now()
		old.signal(syscall.SIGTERM)
		// readyz turns 503 at once (on a fresh connection).
		for {
			res, err := http.Get(old.url + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 503 {
					readyFlip = max(readyFlip, time.Since(start))
					break
				}
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("deploy %d: readyz not 503 after SIGTERM (%v)", d, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := old.wait(15 * time.Second); err != nil {
			t.Fatalf("deploy %d: %v", d, err)
		}
		drainLongest = max(drainLongest, time.Since(start))
		old = next
	}
	time.Sleep(300 * time.Millisecond)
	load.halt()
	figure(t, "sigterm", "%d SIGTERMs of web (blue/green) under %d keep-alive clients (POST + GET): %d answered, %d failed; "+
		"readyz 503 within %s of SIGTERM; exit %s after SIGTERM (drain 1 s)",
		deploys, clients, load.ok.Load(), load.failed.Load(), readyFlip.Round(time.Millisecond), drainLongest.Round(10*time.Millisecond))
	if load.failed.Load() != 0 {
		t.Fatalf("%d requests failed: %v", load.failed.Load(), load.firstFailures())
	}
	if load.ok.Load() < 1000 {
		t.Fatalf("only %d requests answered", load.ok.Load())
	}
}

// Clerk's JWKS unreachable when web starts: web serves but is not ready and
// refuses tokens; once the JWKS is back, tokens are accepted within 2 s and
// readyz turns 200; the loaded keys then survive another outage.
func TestJWKSUnreachableAtStart(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	s := newSystem(t, url, prefix)
	s.jwks.Down.Store(true)
	web := spawn(t, "web", s.webBin, s.dir, s.env, 0)
	web.waitStatus(t, "/healthz", 200, 30*time.Second)
	web.waitStatus(t, "/readyz", 503, 5*time.Second)
	a := newAPI(web.url)
	if code, _, err := a.do("GET", "/user/api/me/", s.token("user_jw"), nil); err != nil || code != 401 {
		t.Fatalf("token while the JWKS was never loaded: %d %v", code, err)
	}
	time.Sleep(1500 * time.Millisecond) // the retry is now at its slowest (1 s)
	s.jwks.Down.Store(false)
	back := time.Now()
	var accepted time.Duration
	for {
		// A new token each time (a verified token is cached): the first accepted one counts.
		code, _, err := a.do("GET", "/user/api/me/", s.token("user_jw"), nil)
		if err == nil && code == 200 {
			accepted = time.Since(back)
			break
		}
		if time.Since(back) > 2*time.Second {
			t.Fatalf("token still refused 2 s after the JWKS came back: %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	web.waitStatus(t, "/readyz", 200, 2*time.Second)
	ready := time.Since(back)
	s.jwks.Down.Store(true)
	time.Sleep(200 * time.Millisecond)
	if code, _, err := a.do("GET", "/user/api/me/", s.jwks.Sign(t, testutil.DefaultKID, testutil.Key(), s.jwks.Claims("user_jw2")), nil); err != nil || code != 200 {
		t.Fatalf("loaded key refused during a later outage: %d %v", code, err)
	}
	figure(t, "jwks", "JWKS unreachable at start: readyz 503 and 401 until it is back; first token accepted %s after, readyz 200 %s after; "+
		"loaded keys keep working in a later outage", accepted.Round(time.Millisecond), ready.Round(time.Millisecond))
}

// A socket whose client stops reading overflows its queue and is closed; a
// client that reads again sees the 1013 close frame before the reset.
func TestSlowClientSees1013(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	s := newSystem(t, url, prefix)
	w := s.startWorker("worker")
	tok := s.token("user_slow")
	d := websocket.Dialer{Subprotocols: []string{tok}, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(256 << 10)
		}
		return c, err
	}}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(w.url, "http")+"/ws/deliveries/users/me/quotes/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.ReadMessage(); err != nil { // the snapshot
		t.Fatal(err)
	}
	// Frames straight into the group's channel (what web publishes), 32 KB
	// each, far more than the socket's queue (128) and buffers hold.
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	pad := strings.Repeat("x", 32<<10)
	ctx := context.Background()
	for i := 0; i < 600; i++ {
		msg := fmt.Sprintf(`{"type":"offer_made","data":{"i":%d,"pad":%q}}`, i, pad)
		if err := rdb.Publish(ctx, prefix+"user_quotes_user_slow", msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // the client "stalls", then reads again
	frames := 0
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			frames++
			continue
		}
		var ce *websocket.CloseError
		code := 1006
		if errors.As(err, &ce) {
			code = ce.Code
		}
		figure(t, "slow-client", "a socket that stopped reading (600 frames of 32 KB sent) read %d frames, then close code %d", frames, code)
		if code != websocket.CloseTryAgainLater {
			t.Fatalf("close %v after %d frames, want 1013", err, frames)
		}
		return
	}
}

// A worker killed (-9): its clients reconnect to the other worker, get their
// snapshot and the next events.
func TestWorkerKilled(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	s := newSystem(t, url, prefix)
	w1, w2 := s.startWorker("worker-1"), s.startWorker("worker-2")
	web := s.startWeb(0)
	a := newAPI(web.url)
	client := s.token("user_wkill")
	quote := s.createQuote(a, client, 4000)
	ws := sockets([]string{w1.url, w2.url}, "/ws/deliveries/quotes/"+quote+"/", client, 10)
	defer func() {
		for _, w := range ws {
			w.close()
		}
	}()
	if n := settle(ws, quote, 4000, 20*time.Second); n != 0 {
		t.Fatal("sockets not up")
	}
	w1.kill9()
	killed := time.Now()
	a.must(t, "PATCH", "/deliveries/api/quotes/"+quote+"/", client, map[string]any{"client_price": 4001}, 200)
	diverged := settle(ws, quote, 4001, 20*time.Second)
	back := time.Since(killed)
	st := sum(ws)
	figure(t, "worker-kill", "worker kill -9 with %d sockets: all on the other worker showing the new state %s after the kill; diverged %d, close codes %v",
		len(ws), back.Round(10*time.Millisecond), diverged, st.codes)
	if diverged != 0 || st.violations != 0 {
		t.Fatalf("diverged %d, violations %d", diverged, st.violations)
	}
}
