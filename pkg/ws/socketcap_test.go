package ws_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/testutil"
	"hermez/pkg/ws"
)

// Issue 12 §4: WS_MAX_SOCKETS_PER_USER counts a user's sockets across every
// worker on one Redis; the one over it is accepted and closed with 4429, and
// a closed socket frees its place.
func TestSocketCapAcrossTwoWorkers(t *testing.T) {
	st := testutil.NewStore(t)
	f := newFixture(t, st)
	url, prefix := testutil.Redis(t)
	three := func(c *config.Config) { c.WSMaxSocketsPerUser = 3 }
	w1 := startWorker(t, st, redisBroker(t, url, prefix), app.WorkerOptions{}, three)
	w2 := startWorker(t, st, redisBroker(t, url, prefix), app.WorkerOptions{}, three)
	const path = "/ws/deliveries/users/me/quotes/"
	open := []*websocket.Conn{
		mustDial(t, w1.URL, path, w1.token(t, f.Client)),
		mustDial(t, w2.URL, path, w2.token(t, f.Client)),
		mustDial(t, w1.URL, "/ws/deliveries/new-quotes/", w1.token(t, f.Client)),
	}
	for _, c := range open {
		read(t, c, wait) // snapshot: joined
	}
	for _, w := range []*worker{w1, w2} {
		over := mustDial(t, w.URL, path, w.token(t, f.Client))
		if code, reason := closeCode(t, over, wait); code != ws.CloseTooMany || reason == "" {
			t.Fatalf("4th socket: close %d %q, want 4429", code, reason)
		}
	}
	// Another user is not affected.
	other := mustDial(t, w2.URL, path, w2.token(t, f.Driver))
	read(t, other, wait)
	// Closing one frees a place, on either worker.
	open[1].Close()
	testutil.Eventually(t, wait, "the closed socket to leave the count", func() bool {
		c, _, err := dial(t, w1.URL, path, w1.token(t, f.Client))
		if err != nil {
			return false
		}
		if _, _, err := c.ReadMessage(); err != nil {
			c.Close()
			return false
		}
		open[1] = c
		return true
	})
	for _, c := range open {
		c.Close()
	}
}
