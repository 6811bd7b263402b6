package ws

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// fanoutSocket serves one socket of group new_quotes through the production
// upgrader, batchConn, Conn and hub, and returns the server side, its
// client and a channel that gets the size of every finished fan-out.
func fanoutSocket(t *testing.T) (*Hub, *Conn, *websocket.Conn, chan int) {
	t.Helper()
	h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	fanned := make(chan int, 16)
	h.fannedOut = func(n int) { fanned <- n }
	s := &Server{Hub: h}
	s.init()
	got := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wsc, err := s.upgrader.Upgrade(batchingWriter{w}, r, nil)
		if err != nil {
			return
		}
		c := newConn(wsc, "user_fanout", "new_quotes", &h.opts)
		if !h.join(c) {
			return
		}
		c.onExit = func() { h.leave(c) }
		h.release(c, nil, nil)
		go c.readLoop()
		got <- c
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+srv.URL[len("http"):]+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := <-got
	if !c.out.canTry() {
		t.Fatal("the socket's connection cannot be written without blocking")
	}
	waitIdle(t, c)
	return h, c, client, fanned
}

// waitIdle waits until c has no writer.
func waitIdle(t *testing.T, c *Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		busy := c.writing
		c.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket's writer did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

func fanoutEnded(t *testing.T, fanned chan int) int {
	t.Helper()
	select {
	case n := <-fanned:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no fan-out ended")
		return 0
	}
}

// An event to an idle socket is written by the fan-out, with no writer
// goroutine of the socket's own: when the fan-out ends, the socket is idle
// again and the client has the frame.
func TestFanoutWritesIdleSocketsItself(t *testing.T) {
	h, c, client, fanned := fanoutSocket(t)
	h.Dispatch(realtime.RawMessage("new_quotes", realtime.QuoteCreated, []byte(`{"n":1}`)))
	if n := fanoutEnded(t, fanned); n != 1 {
		t.Fatalf("fan-out wrote %d sockets, want 1", n)
	}
	c.mu.Lock()
	busy := c.writing
	c.mu.Unlock()
	if busy {
		t.Fatal("the socket still has a writer after the fan-out wrote its frame")
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := client.ReadMessage(); err != nil || string(m) != `{"n":1}` {
		t.Fatalf("frame %q, %v", m, err)
	}
}

// A socket whose kernel buffer cannot take the event at once: what was not
// written stays with the socket, which gets its own writer; the client that
// reads later gets every frame whole and in order, and the socket is idle
// again.
func TestFanoutHandsFullSocketsToTheirWriter(t *testing.T) {
	h, c, client, fanned := fanoutSocket(t)
	if tc := tcpConn(c.ws.NetConn()); tc != nil {
		_ = tc.SetWriteBuffer(64 << 10) // no autotuning up to megabytes
	}
	// Far more than the client's receive window and the server's send
	// buffer hold while the client does not read.
	big := append(append([]byte(`{"big":"`), bytes.Repeat([]byte("x"), 8<<20)...), `"}`...)
	h.Dispatch(realtime.RawMessage("new_quotes", realtime.QuoteCreated, big))
	fanoutEnded(t, fanned)
	c.mu.Lock()
	handed := c.writing
	c.mu.Unlock()
	if !handed {
		t.Fatal("a socket that could not take the frame has no writer")
	}
	// Queued behind the unsent rest (its writer owns the socket now).
	const after = 5
	for i := range after {
		h.Dispatch(realtime.RawMessage("new_quotes", realtime.QuoteCreated, []byte(`{"i":`+strconv.Itoa(i)+`}`)))
	}
	_ = client.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, m, err := client.ReadMessage(); err != nil || !bytes.Equal(m, big) {
		t.Fatalf("big frame: %d bytes, %v", len(m), err)
	}
	for i := range after {
		if _, m, err := client.ReadMessage(); err != nil || string(m) != `{"i":`+strconv.Itoa(i)+`}` {
			t.Fatalf("frame %d: %q, %v", i, m, err)
		}
	}
	waitIdle(t, c)
	if c.out.buf != nil {
		t.Fatal("an idle socket still holds a buffer")
	}
}

// A write deadline set by an earlier write that could block, and passed
// since, does not fail a write that cannot block.
func TestFanoutAfterAPassedDeadline(t *testing.T) {
	h, c, client, fanned := fanoutSocket(t)
	c.out.mu.Lock()
	past := time.Now().Add(-time.Second)
	if err := c.out.applyDeadline(past); err != nil {
		c.out.mu.Unlock()
		t.Fatal(err)
	}
	c.out.mu.Unlock()
	h.Dispatch(realtime.RawMessage("new_quotes", realtime.QuoteCreated, []byte(`{"late":true}`)))
	fanoutEnded(t, fanned)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := client.ReadMessage(); err != nil || string(m) != `{"late":true}` {
		t.Fatalf("frame %q, %v", m, err)
	}
	waitIdle(t, c)
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		t.Fatal("the socket was closed")
	}
}
