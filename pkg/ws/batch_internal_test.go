package ws

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// countingListener counts the writes on the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// Frames queued for one socket go out in one write (one syscall), in order;
// a lone frame is one write too; the client reads every frame.
func TestQueuedFramesOneWrite(t *testing.T) {
	h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	s := &Server{Hub: h}
	s.init()
	got := make(chan *Conn, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wsc, err := s.upgrader.Upgrade(batchingWriter{w}, r, nil)
		if err != nil {
			return
		}
		c := newConn(wsc, "user_batch", "new_quotes", &h.opts) // held: frames queue until start
		if !h.join(c) {
			return
		}
		c.onExit = func() { h.leave(c) }
		go c.readLoop()
		got <- c
	}))
	ln := &countingListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	client, _, err := websocket.DefaultDialer.Dial("ws"+srv.URL[len("http"):]+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := <-got
	if c.out == nil {
		t.Fatal("the socket's connection is not batched")
	}
	const n = 10
	for i := range n {
		c.enqueue(mustPrepare([]byte(`{"i":` + strconv.Itoa(i) + `}`)))
	}
	before := ln.writes.Load() // the handshake's answer
	h.release(c, []byte(`{"snapshot":true}`), nil)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := client.ReadMessage(); err != nil || string(m) != `{"snapshot":true}` {
		t.Fatalf("first frame %q, %v", m, err)
	}
	for i := range n {
		_, m, err := client.ReadMessage()
		if err != nil || string(m) != `{"i":`+strconv.Itoa(i)+`}` {
			t.Fatalf("frame %d: %q, %v", i, m, err)
		}
	}
	if w := ln.writes.Load() - before; w != 1 {
		t.Fatalf("%d writes for a snapshot and %d queued frames, want 1", w, n)
	}
	// A lone frame later: one write, unbuffered.
	before = ln.writes.Load()
	c.enqueue(mustPrepare([]byte(`{"lone":true}`)))
	if _, m, err := client.ReadMessage(); err != nil || string(m) != `{"lone":true}` {
		t.Fatalf("lone frame %q, %v", m, err)
	}
	if w := ln.writes.Load() - before; w != 1 {
		t.Fatalf("%d writes for a lone frame, want 1", w)
	}
	if c.out.buf != nil {
		t.Fatal("an idle socket still holds a buffer")
	}
	// Closed: the cut-off timer Close armed is stopped once the connection
	// ended (Stop reports false: it neither fires later nor is still pending).
	left := make(chan struct{})
	c.onExit = func() { h.leave(c); close(left) }
	c.Close(CloseGoingAway, ReasonGoingAway)
	select {
	case <-left:
	case <-time.After(5 * time.Second):
		t.Fatal("the socket did not end after Close")
	}
	c.mu.Lock()
	cutoff := c.cutoff
	c.mu.Unlock()
	if cutoff == nil || cutoff.Stop() {
		t.Fatal("a closed socket left its cut-off timer running")
	}
}
