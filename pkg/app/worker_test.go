package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// startWorker serves a worker over an in-process broker on st.
func startWorker(t *testing.T, st *store.Store) (*app.Worker, *realtime.Memory, string) {
	t.Helper()
	cfg := testutil.Config(t)
	if st.Dialect == store.Postgres {
		cfg.DatabaseURL = "postgres://test"
	}
	m := realtime.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := app.BuildWorker(ctx, cfg, testutil.Logger(), st, &app.Broker{Publisher: m, Memory: m}, app.WorkerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range w.Background {
		go run(ctx)
	}
	srv := httptest.NewServer(w.Handler)
	t.Cleanup(srv.Close)
	return w, m, srv.URL
}

func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// socketRoundTrip opens users/me/quotes on base, checks the echo and the
// snapshot, publishes an event on m and reads it.
func socketRoundTrip(t *testing.T, base, token, user string, hubMembers func(string) int, m realtime.Publisher) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{token}}
	c, res, err := d.Dial(wsURL(base, "/ws/deliveries/users/me/quotes/"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if res.Header.Get("Sec-Websocket-Protocol") != token {
		t.Fatal("subprotocol not echoed")
	}
	if msg := readJSON(t, c); msg["type"] != "user_quotes.initial" {
		t.Fatalf("initial %v", msg)
	}
	group := realtime.GroupUserQuotes(user)
	testutil.Eventually(t, 5*time.Second, "joined", func() bool { return hubMembers(group) == 1 })
	if p, ok := m.(*realtime.RedisPublisher); ok {
		testutil.Eventually(t, 5*time.Second, "redis subscription", func() bool {
			n, err := p.Client.PubSubNumSub(context.Background(), p.Channel(group)).Result()
			return err == nil && n[p.Channel(group)] == 1
		})
	}
	ev, _ := realtime.NewMessage(group, realtime.QuoteCreated, map[string]string{"id": "q1"})
	if err := m.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if msg := readJSON(t, c); msg["type"] != realtime.QuoteCreated {
		t.Fatalf("event %v", msg)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || string(b) != "pong" {
		t.Fatalf("pong: %q %v", b, err)
	}
}

func TestWebForwardsSocketsToWorker(t *testing.T) {
	st := testutil.NewStore(t)
	w, m, workerURL := startWorker(t, st)
	for name, target := range map[string]string{"bare host:port": strings.TrimPrefix(workerURL, "http://"), "http URL": workerURL} {
		t.Run(name, func(t *testing.T) {
			web := testutil.NewWeb(t, testutil.WebOptions{Store: st, Config: func(c *config.Config) { c.WorkerURL = target }})
			user := "user_fwd_" + strings.ReplaceAll(name, " ", "_")
			socketRoundTrip(t, web.URL, web.Token(t, user), user, w.Hub.Members, m)

			// Refusals come back through the proxy as they are.
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			_, res, err := d.Dial(wsURL(web.URL, "/ws/deliveries/new-quotes/"), nil)
			if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("no token through the proxy: %v %v", err, res)
			}
			// The API itself is still served by web.
			if r := web.Do(t, "GET", "/healthz", "", nil); r.Status != http.StatusOK {
				t.Fatalf("healthz %d", r.Status)
			}
		})
	}
}

func TestWebForwardingToADeadWorkerAnswers502(t *testing.T) {
	web := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.WorkerURL = "127.0.0.1:1" }})
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{web.Token(t, "user_a")}}
	_, res, err := d.Dial(wsURL(web.URL, "/ws/deliveries/new-quotes/"), nil)
	if err == nil || res == nil || res.StatusCode != http.StatusBadGateway {
		t.Fatalf("dead worker: %v %v", err, res)
	}
}

func TestSingleProcessWebServesSockets(t *testing.T) {
	m := realtime.NewMemory()
	web := testutil.NewWeb(t, testutil.WebOptions{Broker: &app.Broker{Publisher: m, Memory: m}})
	if web.App.Hub == nil || web.App.Runner == nil {
		t.Fatal("single-process mode has no hub or runner")
	}
	socketRoundTrip(t, web.URL, web.Token(t, "user_single"), "user_single", web.App.Hub.Members, m)
}

func TestWebWithRedisAndNoWorkerURLServesSockets(t *testing.T) {
	url, prefix := testutil.Redis(t)
	c, err := realtime.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pub := &realtime.RedisPublisher{Client: c, Prefix: prefix}
	web := testutil.NewWeb(t, testutil.WebOptions{Broker: &app.Broker{Publisher: pub, Redis: c}})
	if web.App.Hub == nil || web.App.Runner != nil {
		t.Fatal("with Redis, web serves sockets but leaves the runner to the worker")
	}
	socketRoundTrip(t, web.URL, web.Token(t, "user_redis_web"), "user_redis_web", web.App.Hub.Members, pub)
}

func TestWorkerProxyTargets(t *testing.T) {
	for _, bad := range []string{"", "http://", "::::"} {
		if _, err := app.WorkerProxy(bad, testutil.Logger()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"hermez-worker:10000", "http://10.0.0.5:8000", "https://rt.example.com"} {
		if _, err := app.WorkerProxy(good, testutil.Logger()); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}
