package ws_test

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// BenchmarkLoopbackFanout measures one event reaching every one of n real
// sockets over loopback (worker and clients in this process, so client reads
// are in the figure): publish on the in-process broker, wait until all n
// clients have read the frame. 10k sockets need 20k descriptors with the
// clients in-process; the hub-only figure for 10k is BenchmarkHubFanout.
func BenchmarkLoopbackFanout(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			st := testutil.NewStore(b)
			w := startWorker(b, st, nil, app.WorkerOptions{}, func(c *config.Config) { c.WSMaxSocketsPerUser = 0 }) // one user, n sockets
			m := memoryOf(b, w.Broker)
			tok := w.token(b, "user_bench")
			var received atomic.Int64
			all := make(chan struct{}, 1) // every n-th frame: the event reached all sockets
			var ready sync.WaitGroup
			conns := make([]*websocket.Conn, n)
			for i := range conns {
				c := mustDial(b, w.URL, "/ws/deliveries/new-quotes/", tok)
				conns[i] = c
				ready.Add(1)
				go func() {
					first := true
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						if first {
							first = false
							ready.Done()
							continue
						}
						if received.Add(1)%int64(n) == 0 {
							all <- struct{}{}
						}
					}
				}()
			}
			ready.Wait()
			joined(b, w, realtime.GroupNewQuotes, n)
			payload := []byte(`{"type":"quote_created","data":{"pad":"` + strings.Repeat("x", 1500) + `"}}`)
			msg := realtime.RawMessage(realtime.GroupNewQuotes, realtime.QuoteCreated, payload)
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				if err := m.Publish(b.Context(), msg); err != nil {
					b.Fatal(err)
				}
				select {
				case <-all:
				case <-time.After(30 * time.Second):
					b.Fatalf("only %d of %d frames arrived", received.Load(), i*n)
				}
			}
			b.StopTimer()
			for _, c := range conns {
				c.Close()
			}
		})
	}
}

// rawClient performs the WebSocket handshake by hand and keeps only the TCP
// connection, so the heap measured is (almost) the server side's.
func rawClient(b *testing.B, addr, path, token string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + token + "\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		b.Fatal(err)
	}
	// Read the 101 answer and the snapshot frame (small, in one segment or a few).
	var buf [4096]byte
	var got []byte
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !bytes.Contains(got, []byte("\r\n\r\n")) || !bytes.Contains(got, []byte(`"quotes"`)) {
		k, err := c.Read(buf[:])
		if err != nil {
			b.Fatalf("handshake: %v (%q)", err, got)
		}
		got = append(got, buf[:k]...)
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 101")) {
		b.Fatalf("handshake answer %q", got)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

func heapAndStack() (uint64, uint64) {
	for range 3 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.StackInuse
}

// BenchmarkIdleSocketMemory reports the heap and goroutine stack held per idle
// socket (joined, snapshot sent, nothing flowing). Run with -benchtime=1x.
// The raw client connections of the same process are measured separately and
// subtracted.
func BenchmarkIdleSocketMemory(b *testing.B) {
	const n = 2000
	st := testutil.NewStore(b)
	w := startWorker(b, st, nil, app.WorkerOptions{}, func(c *config.Config) { c.WSMaxSocketsPerUser = 0 }) // one user, 2,000 sockets
	tok := w.token(b, "user_idle")
	addr := strings.TrimPrefix(w.URL, "http://")
	// Warm up: pools, the user row, caches.
	for range 10 {
		rawClient(b, addr, "/ws/deliveries/new-quotes/", tok).Close()
	}
	testutil.Eventually(b, 10*time.Second, "warm-up sockets gone", func() bool { return w.W.Hub.Len() == 0 })

	// Cost of a bare TCP pair in this process (client + accepted side).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var accepted []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	h0, _ := heapAndStack()
	var bare []net.Conn
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		bare = append(bare, c)
	}
	testutil.Eventually(b, 10*time.Second, "accepted", func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) == n })
	h1, _ := heapAndStack()
	perBareConn := float64(h1-h0) / float64(2*n)
	for _, c := range bare {
		c.Close()
	}
	mu.Lock()
	for _, c := range accepted {
		c.Close()
	}
	mu.Unlock()
	l.Close()

	b.ResetTimer()
	for b.Loop() {
		heap0, stack0 := heapAndStack()
		conns := make([]net.Conn, n)
		for i := range conns {
			conns[i] = rawClient(b, addr, "/ws/deliveries/new-quotes/", tok)
		}
		testutil.Eventually(b, 10*time.Second, "all joined", func() bool { return w.W.Hub.Len() == n })
		heap1, stack1 := heapAndStack()
		perSocket := float64(heap1-heap0)/float64(n) - perBareConn // the raw client side
		b.ReportMetric(perSocket, "heapB/socket")
		b.ReportMetric(float64(stack1-stack0)/float64(n), "stackB/socket")
		b.ReportMetric(perBareConn, "heapB/bare-tcp-conn")
		for _, c := range conns {
			c.Close()
		}
		testutil.Eventually(b, 10*time.Second, "all left", func() bool { return w.W.Hub.Len() == 0 })
	}
}
