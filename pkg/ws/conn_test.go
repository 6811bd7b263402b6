package ws_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
	"hermez/pkg/ws"
)

// The hub's ping loop reaches idle sockets (there is no per-socket ticker).
func TestServerPingsIdleSockets(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	w := startWorker(t, st, nil, app.WorkerOptions{Socket: ws.Options{PingInterval: 100 * time.Millisecond}})
	c := mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", w.token(t, f.Client))
	read(t, c, wait) // snapshot
	pings := make(chan struct{}, 16)
	c.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case <-time.After(wait):
			t.Fatalf("ping %d never came", i+1)
		}
	}
}

// An idle socket keeps one goroutine (its reader) on the server: the writer
// exists only while there is something to write.
func TestIdleSocketsHaveNoWriterGoroutine(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	// More sockets than WS_MAX_SOCKETS_PER_USER's default, for one user.
	w := startWorker(t, st, nil, app.WorkerOptions{}, func(c *config.Config) { c.WSMaxSocketsPerUser = 0 })
	const n = 40
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = mustDial(t, w.URL, "/ws/deliveries/users/me/quotes/", w.token(t, f.Client))
		read(t, conns[i], wait) // the snapshot went through a writer
	}
	var delta int
	testutil.Eventually(t, wait, "writers gone once the snapshots were written", func() bool {
		delta = runtime.NumGoroutine() - before
		return delta <= n+n/4 // one reader each (+ slack for unrelated goroutines); two per socket would be 80
	})
	// And a writer comes back for an event.
	publish(t, w.Broker.Publisher, realtime.GroupUserQuotes(f.Client), realtime.QuoteCreated, map[string]string{"id": "x"})
	for _, c := range conns {
		if m := read(t, c, wait); m["type"] != realtime.QuoteCreated {
			t.Fatalf("event after idling: %v", m)
		}
	}
	t.Logf("%d sockets: %d more goroutines", n, delta)
}
