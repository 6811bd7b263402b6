package ws

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// BenchmarkFanoutVsBare is the hub's fan-out against the limit of this
// machine, on the same sockets in the same process: n server-side sockets
// (the production upgrader, Conn, writer and hub), their clients in a child
// process (raw TCP, handshake by hand, every byte read and discarded) so the
// CPU measured here is the server side's alone. Each iteration sends one
// event (a 1.5 KB frame) through the hub — Hub.Dispatch, one PreparedMessage,
// the fan-out goroutines writing each socket without blocking — and waits for
// the hub's end of that fan-out (then checks that no socket still has a
// writer); then the bare loop writes one PreparedMessage of the same bytes to
// each socket in turn from one goroutine (gorilla's write, with its write
// deadline, on the TCP connection). CPU is this process's (getrusage: user +
// system, so loopback's kernel work on the sending side counts), per
// delivered frame. Reported: hub-µs/frame, bare-µs/frame and their ratio
// (goal ≤ 1.5, issue 23); alternating the two each iteration keeps machine
// noise on both. HERMEZ_FANOUT_WRITERS sets Options.FanoutWriters (default
// GOMAXPROCS).
//
//	go test -run '^$' -bench FanoutVsBare -benchtime 20x -count 5 ./pkg/ws/
func BenchmarkFanoutVsBare(b *testing.B) {
	for _, n := range []int{2000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			fw, _ := strconv.Atoi(os.Getenv("HERMEZ_FANOUT_WRITERS"))
			h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{FanoutWriters: fw})
			fanned := make(chan int, 1)
			h.fannedOut = func(n int) { fanned <- n }
			conns := openRatioSockets(b, h, n)
			payload := []byte(`{"type":"quote_created","data":{"pad":"` + strings.Repeat("x", 1500) + `"}}`)
			msg := realtime.RawMessage("new_quotes", realtime.QuoteCreated, payload)
			var hubCPU, bareCPU time.Duration
			var ratios []float64
			b.ResetTimer()
			for b.Loop() {
				c0 := cpuTime()
				h.Dispatch(msg)
				select {
				case <-fanned:
				case <-time.After(30 * time.Second):
					b.Fatal("no fan-out after 30 s")
				}
				waitWritersIdle(b, conns) // sockets handed to their own writer (a full kernel buffer), if any
				c1 := cpuTime()
				pm, err := websocket.NewPreparedMessage(websocket.TextMessage, payload)
				if err != nil {
					b.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for _, c := range conns {
					_ = c.ws.SetWriteDeadline(deadline)
					if err := c.ws.WritePreparedMessage(pm); err != nil {
						b.Fatal(err)
					}
				}
				c2 := cpuTime()
				hubCPU += c1 - c0
				bareCPU += c2 - c1
				if c2 > c1 {
					ratios = append(ratios, float64(c1-c0)/float64(c2-c1))
				}
			}
			b.StopTimer()
			frames := float64(b.N * n)
			b.ReportMetric(float64(hubCPU.Microseconds())/frames, "hub-µs/frame")
			b.ReportMetric(float64(bareCPU.Microseconds())/frames, "bare-µs/frame")
			b.ReportMetric(float64(hubCPU)/float64(bareCPU), "ratio")
			sort.Float64s(ratios)
			if len(ratios) > 0 {
				b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
			}
		})
	}
}

// cpuTime is this process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitWritersIdle waits until no socket has a writer (every queued frame written).
func waitWritersIdle(b *testing.B, conns []*Conn) {
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range conns {
		for {
			c.mu.Lock()
			busy := c.writing
			c.mu.Unlock()
			if !busy {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("writers still busy after 30 s")
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// openRatioSockets serves n sockets the way the worker does (its upgrader,
// newConn, join, release, readLoop) and opens their clients in a child
// process; it returns the server-side connections once all are open.
func openRatioSockets(b *testing.B, h *Hub, n int) []*Conn {
	return openBenchSockets(b, h, n, nil)
}

// openBenchSockets is openRatioSockets with prepare (when set) run on each
// connection before it joins (the i-th socket served).
func openBenchSockets(b *testing.B, h *Hub, n int, prepare func(i int, c *Conn)) []*Conn {
	b.Helper()
	s := &Server{Hub: h}
	s.init()
	got := make(chan *Conn, n)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wsc, err := s.upgrader.Upgrade(batchingWriter{w}, r, nil)
		if err != nil {
			return
		}
		c := newConn(wsc, "user_bench", "new_quotes", &h.opts)
		if prepare != nil {
			prepare(int(served.Add(1)-1), c)
		}
		if !h.join(c) {
			return
		}
		c.onExit = func() { h.leave(c) }
		h.release(c, nil, nil)
		go c.readLoop()
		got <- c
	}))
	b.Cleanup(srv.Close)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRatioClients$", "-test.v")
	cmd.Env = append(os.Environ(), "HERMEZ_RATIO_CLIENTS="+strconv.Itoa(n), "HERMEZ_RATIO_ADDR="+srv.Listener.Addr().String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close() // the child exits when its stdin closes
		_ = cmd.Wait()
	})
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	conns := make([]*Conn, 0, n)
	timeout := time.After(2 * time.Minute)
	for len(conns) < n {
		select {
		case c := <-got:
			conns = append(conns, c)
		case <-timeout:
			b.Fatalf("%d of %d sockets opened", len(conns), n)
		}
	}
	waitWritersIdle(b, conns)
	return conns
}

// TestRatioClients is the child process of BenchmarkFanoutVsBare (it does
// nothing in a normal test run): it opens the sockets and reads everything
// they receive until its stdin closes.
func TestRatioClients(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HERMEZ_RATIO_CLIENTS"))
	addr := os.Getenv("HERMEZ_RATIO_ADDR")
	if n == 0 || addr == "" {
		t.Skip("child process of BenchmarkFanoutVsBare")
	}
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		req := "GET /ws/ HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReaderSize(c, 64<<10)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101") {
			t.Fatalf("handshake %d: %q %v", i, line, err)
		}
		for line != "\r\n" {
			if line, err = br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		go func() { _, _ = io.Copy(io.Discard, br) }()
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}
