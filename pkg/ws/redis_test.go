package ws_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/app"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
	"hermez/pkg/ws"
)

// redisBroker connects a broker of its own to url with prefix (like OpenBroker).
func redisBroker(t testing.TB, url, prefix string) *app.Broker {
	t.Helper()
	c, err := realtime.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &app.Broker{Publisher: &realtime.RedisPublisher{Client: c, Prefix: prefix}, Redis: c}
}

// subscribers waits until Redis counts n subscribers of the group's channel.
func subscribers(t testing.TB, c redis.UniversalClient, channel string, n int64) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "redis subscribers of "+channel, func() bool {
		m, err := c.PubSubNumSub(context.Background(), channel).Result()
		return err == nil && m[channel] >= n
	})
}

func TestTwoWorkersOnOneRedisDeliverEveryEvent(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	url, prefix := testutil.Redis(t)
	// The burst below (200 frames per socket at once) must not trip the
	// slow-client rule, which has its own test: queues big enough for all of it.
	big := app.WorkerOptions{Socket: ws.Options{QueueSize: 512}}
	w1 := startWorker(t, st, redisBroker(t, url, prefix), big)
	w2 := startWorker(t, st, redisBroker(t, url, prefix), big)
	web := redisBroker(t, url, prefix) // the web side publishes
	pub := web.Publisher.(*realtime.RedisPublisher)

	clientOn1 := mustDial(t, w1.URL, "/ws/deliveries/users/me/quotes/", w1.token(t, f.Client))
	clientOn2 := mustDial(t, w2.URL, "/ws/deliveries/users/me/quotes/", w2.token(t, f.Client))
	driverOn2 := mustDial(t, w2.URL, "/ws/deliveries/drivers/me/offers/", w2.token(t, f.Driver))
	strangerOn1 := mustDial(t, w1.URL, "/ws/deliveries/users/me/quotes/", w1.token(t, f.Stranger))
	for _, c := range []*websocket.Conn{clientOn1, clientOn2, driverOn2, strangerOn1} {
		read(t, c, wait) // snapshot
	}
	subscribers(t, web.Redis, pub.Channel(realtime.GroupUserQuotes(f.Client)), 2)
	subscribers(t, web.Redis, pub.Channel(realtime.GroupDriverOffers(f.Driver)), 1)

	const n = 200
	for i := range n {
		// Published in one pipeline per pair, as the outbox flush does.
		a, _ := realtime.NewMessage(realtime.GroupUserQuotes(f.Client), realtime.OfferMade, map[string]int{"i": i})
		b, _ := realtime.NewMessage(realtime.GroupDriverOffers(f.Driver), realtime.OfferMade, map[string]int{"i": i})
		if err := pub.Publish(context.Background(), a, b); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*websocket.Conn{"client on worker 1": clientOn1, "client on worker 2": clientOn2, "driver on worker 2": driverOn2} {
		for i := range n {
			msg := read(t, c, wait)
			if msg["type"] != realtime.OfferMade || obj(t, msg["data"])["i"] != float64(i) {
				t.Fatalf("%s: frame %d is %v", name, i, msg)
			}
		}
	}
	expectSilence(t, strangerOn1, 300*time.Millisecond)

	// The last local member leaving unsubscribes each worker.
	clientOn1.Close()
	clientOn2.Close()
	testutil.Eventually(t, 10*time.Second, "unsubscribed after the last member left", func() bool {
		m, err := web.Redis.PubSubNumSub(context.Background(), pub.Channel(realtime.GroupUserQuotes(f.Client))).Result()
		return err == nil && m[pub.Channel(realtime.GroupUserQuotes(f.Client))] == 0
	})
	if w1.W.Hub.Subscribed(realtime.GroupUserQuotes(f.Client)) || w2.W.Hub.Subscribed(realtime.GroupUserQuotes(f.Client)) {
		t.Fatal("hub still subscribed")
	}
}

func TestSlowClientIsClosedWhileOthersKeepReceiving(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	w := startWorker(t, st, nil, app.WorkerOptions{Socket: ws.Options{QueueSize: 64, WriteTimeout: time.Second}})
	m := memoryOf(t, w.Broker)
	tok := w.token(t, f.Client)

	// The slow client reads its snapshot, then nothing; a small receive buffer
	// makes the server's writes block soon.
	d := websocket.Dialer{Subprotocols: []string{tok}, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := d.Dial(wsURL(w.URL, "/ws/deliveries/users/me/quotes/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	read(t, slow, wait)
	fast := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", tok)
	read(t, fast, wait)
	joined(t, w, realtime.GroupUserQuotes(f.Client), 2)

	closedBefore := value(metrics.SocketsClosedSlow)
	droppedBefore := value(metrics.SocketMessagesDropped)
	const n = 1000
	pad := strings.Repeat("x", 16<<10)
	var got atomic.Int64
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			_ = fast.SetReadDeadline(time.Now().Add(wait))
			_, b, err := fast.ReadMessage()
			if err != nil {
				errc <- fmt.Errorf("fast client, frame %d: %w", i, err)
				return
			}
			if want := fmt.Sprintf(`"i":%d,`, i); !strings.Contains(string(b[:min(len(b), 60)]), want) {
				errc <- fmt.Errorf("fast client, frame %d out of order: %.60s", i, b)
				return
			}
			got.Add(1)
		}
		errc <- nil
	}()
	for i := range n {
		// Publish at the pace of a client that keeps up (never more than 32 ahead).
		deadline := time.Now().Add(wait)
		for int64(i)-got.Load() > 32 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		publish(t, m, realtime.GroupUserQuotes(f.Client), realtime.OfferMade, map[string]any{"i": i, "pad": pad})
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if d := value(metrics.SocketsClosedSlow) - closedBefore; d != 1 {
		t.Fatalf("slow sockets closed: %v, want 1", d)
	}
	if value(metrics.SocketMessagesDropped) <= droppedBefore {
		t.Fatal("dropped frames not counted")
	}
	// The slow socket ends (after whatever its buffers held) and left the hub.
	frames := 0
	start := time.Now()
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			t.Logf("slow client ended after %s: %v", time.Since(start), err)
			break
		}
		frames++
	}
	if frames >= n {
		t.Fatalf("slow client got all %d frames", frames)
	}
	joined(t, w, realtime.GroupUserQuotes(f.Client), 1)
	t.Logf("slow client received %d of %d frames before being cut", frames, n)
}

// redisServer is a real redis-server on a port of its own, restartable.
type redisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, err2 := os.Stat("/usr/bin/redis-server"); err2 != nil {
			t.Skip("redis-server not installed")
		}
		bin = "/usr/bin/redis-server"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &redisServer{t: t, port: port}
	s.start(bin)
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

func (s *redisServer) start(bin string) {
	s.t.Helper()
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port)})
	defer c.Close()
	testutil.Eventually(s.t, 10*time.Second, "redis-server up", func() bool { return c.Ping(context.Background()).Err() == nil })
}

func (s *redisServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *redisServer) restart() {
	s.t.Helper()
	bin := "/usr/bin/redis-server"
	if p, err := exec.LookPath("redis-server"); err == nil {
		bin = p
	}
	s.start(bin)
}

func readyz(t testing.TB, base string) int {
	t.Helper()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestRedisDroppedAndBack(t *testing.T) {
	rs := startRedisServer(t)
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	prefix := fmt.Sprintf("hermez_restart_%d:", time.Now().UnixNano())
	w := startWorker(t, st, redisBroker(t, rs.url(), prefix), app.WorkerOptions{})
	web := redisBroker(t, rs.url(), prefix)
	pub := web.Publisher.(*realtime.RedisPublisher)
	group := realtime.GroupUserQuotes(f.Client)
	tok := w.token(t, f.Client)

	c := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", tok)
	read(t, c, wait)
	subscribers(t, web.Redis, pub.Channel(group), 1)
	publish(t, pub, group, realtime.QuoteUpdated, map[string]int{"n": 1})
	if read(t, c, wait)["type"] != realtime.QuoteUpdated {
		t.Fatal("no event before the outage")
	}
	resets := value(metrics.BrokerReconnects)

	rs.kill()
	testutil.Eventually(t, 10*time.Second, "readyz to report Redis down", func() bool { return readyz(t, w.URL) == http.StatusServiceUnavailable })
	rs.restart()

	if code, _ := closeCode(t, c, 30*time.Second); code != websocket.CloseServiceRestart {
		t.Fatalf("close %d, want 1012", code)
	}
	if value(metrics.BrokerReconnects) <= resets {
		t.Fatal("reconnect not counted")
	}
	testutil.Eventually(t, 10*time.Second, "readyz back", func() bool { return readyz(t, w.URL) == http.StatusOK })

	// The client reconnects, gets a fresh snapshot, and events flow again.
	c2 := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", tok)
	if read(t, c2, wait)["type"] != "user_quotes.initial" {
		t.Fatal("no snapshot after reconnect")
	}
	subscribers(t, web.Redis, pub.Channel(group), 1)
	publish(t, pub, group, realtime.QuoteUpdated, map[string]int{"n": 2})
	msg := read(t, c2, wait)
	if msg["type"] != realtime.QuoteUpdated || obj(t, msg["data"])["n"] != float64(2) {
		t.Fatalf("after the outage: %v", msg)
	}
}

// A client that stops reading until its queue overflows, then reads again,
// sees why it was dropped: the 1013 close frame (sent before the reset).
func TestSlowClientSeesTryAgainLater(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	w := startWorker(t, st, nil, app.WorkerOptions{Socket: ws.Options{QueueSize: 16}})
	m := memoryOf(t, w.Broker)
	tok := w.token(t, f.Client)
	d := websocket.Dialer{Subprotocols: []string{tok}, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			// Small enough to fill at once, not so small that loopback's
			// 64 KB segments stall in zero-window probes.
			_ = tc.SetReadBuffer(256 << 10)
		}
		return c, err
	}}
	slow, _, err := d.Dial(wsURL(w.URL, "/ws/deliveries/users/me/quotes/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	read(t, slow, wait)
	joined(t, w, realtime.GroupUserQuotes(f.Client), 1)
	closedBefore := value(metrics.SocketsClosedSlow)
	pad := strings.Repeat("x", 32<<10)
	for i := 0; value(metrics.SocketsClosedSlow) == closedBefore; i++ {
		if i > 5000 {
			t.Fatal("the socket never overflowed")
		}
		publish(t, m, realtime.GroupUserQuotes(f.Client), realtime.OfferMade, map[string]any{"i": i, "pad": pad})
	}
	// Reads again: what the buffers held, then the close frame.
	frames := 0
	_ = slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			frames++
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
			t.Fatalf("after %d frames: %v, want close 1013", frames, err)
		}
		t.Logf("slow client read %d frames, then close %d %q", frames, ce.Code, ce.Text)
		break
	}
	testutil.Eventually(t, wait, "slow socket gone", func() bool { return w.W.Hub.Members(realtime.GroupUserQuotes(f.Client)) == 0 })
}
