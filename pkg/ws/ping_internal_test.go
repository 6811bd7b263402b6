package ws

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// The ping walk writes the pings of idle sockets itself, without blocking,
// as the fan-out writes an event: when pingDue returns, no socket has a
// writer goroutine (none was started: with one P, a goroutine started per
// ping would not have run yet), and every client gets exactly one ping.
func TestPingsAreWrittenByTheWalkWithoutAGoroutinePerSocket(t *testing.T) {
	const n = 200
	h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{PingInterval: time.Hour})
	srv, conns := idleSocketServer(h, n)
	defer srv.Close()
	pings := make([]atomic.Int32, n)
	for i := range n {
		client, _, err := websocket.DefaultDialer.Dial("ws"+srv.URL[len("http"):]+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		client.SetPingHandler(func(string) error { pings[i].Add(1); return nil })
		go func() {
			for {
				if _, _, err := client.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	all := make([]*Conn, 0, n)
	for range n {
		c := <-conns
		waitIdle(t, c)
		if !c.out.canTry() {
			t.Fatal("the socket's connection cannot be written without blocking")
		}
		all = append(all, c)
	}

	now := time.Now()
	for _, c := range all {
		c.nextPing = now // due (the walk owns nextPing; Run is not running)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	h.pingDue(now)
	for i, c := range all {
		c.mu.Lock()
		busy, queued := c.writing, len(c.queue)
		c.mu.Unlock()
		if busy || queued != 0 {
			t.Fatalf("socket %d after the ping walk: writer %v, %d queued (want its ping written by the walk)", i, busy, queued)
		}
		if !c.nextPing.After(now) {
			t.Fatalf("socket %d: next ping not moved on", i)
		}
	}
	runtime.GOMAXPROCS(prev)
	for deadline := time.Now().Add(5 * time.Second); ; {
		got := 0
		for i := range pings {
			if pings[i].Load() == 1 {
				got++
			}
		}
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d clients got their ping", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Not due again: no second ping.
	h.pingDue(now.Add(time.Second))
	time.Sleep(50 * time.Millisecond)
	for i := range pings {
		if p := pings[i].Load(); p != 1 {
			t.Fatalf("client %d got %d pings", i, p)
		}
	}
}

// idleSocketServer serves sockets that join h's new_quotes as idle sockets
// (no writer, reading), each sent on conns once joined (n at most).
func idleSocketServer(h *Hub, n int) (*httptest.Server, chan *Conn) {
	s := &Server{Hub: h}
	s.init()
	conns := make(chan *Conn, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wsc, err := s.upgrader.Upgrade(batchingWriter{w}, r, nil)
		if err != nil {
			return
		}
		c := newConn(wsc, "user_ping", "new_quotes", &h.opts)
		if !h.join(c) {
			return
		}
		c.onExit = func() { h.leave(c) }
		h.release(c, nil, nil)
		go c.readLoop()
		conns <- c
	}))
	return srv, conns
}
