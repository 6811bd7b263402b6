package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// readMessageLoop is the listeners' reader before readFrame: ReadMessage.
func readMessageLoop(c *websocket.Conn, got *atomic.Int64) {
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if _, ok := quoteCreatedID(msg); ok {
			got.Add(1)
		}
	}
}

// readFrameLoop is the listeners' reader now (sock.read's reading).
func readFrameLoop(c *websocket.Conn, got *atomic.Int64) {
	for {
		bp, err := readFrame(c)
		if err != nil {
			return
		}
		if _, ok := quoteCreatedID(*bp); ok {
			got.Add(1)
		}
		frameBufs.Put(bp)
	}
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkListenerRead: one bare server writes each event to 200 sockets
// read by this process, with the listeners' read buffer and reader before
// (1 KB, ReadMessage) and now; the server's part is the same in every
// variant, so the differences in CPU per frame are the readers'.
//
//	go test -run '^$' -bench ListenerRead -benchtime 2000x ./bench/cmd/load/
func BenchmarkListenerRead(b *testing.B) {
	const n = 200
	for _, size := range []int{1400, 3000} {
		frame := append([]byte(`{"type":"quote_created","data":{"id":"q1","x":"`), bytes.Repeat([]byte("x"), size)...)
		frame = append(frame, `"}}`...)
		for _, v := range []struct {
			name string
			buf  int
			loop func(*websocket.Conn, *atomic.Int64)
		}{
			{"ReadMessage-1KB", 1024, readMessageLoop},
			{"ReadMessage-4KB", 4096, readMessageLoop},
			{"readFrame-1KB", 1024, readFrameLoop},
			{"readFrame-4KB", 4096, readFrameLoop},
		} {
			b.Run(fmt.Sprintf("frame=%dB/%s", len(frame), v.name), func(b *testing.B) {
				s := newBareWS(1, slog.New(slog.NewTextHandler(io.Discard, nil)))
				srv := httptest.NewServer(s)
				defer srv.Close()
				d := websocket.Dialer{Subprotocols: []string{"t"}, ReadBufferSize: v.buf, WriteBufferSize: 1024}
				var got atomic.Int64
				for range n {
					c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
					go v.loop(c, &got)
				}
				for s.Len() != n {
					time.Sleep(time.Millisecond)
				}
				msg := realtime.Message{Group: realtime.GroupNewQuotes, Payload: frame}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuNow()
				for i := range b.N {
					s.Dispatch(msg)
					for got.Load() < int64(n*(i+1)) {
						time.Sleep(20 * time.Microsecond)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/frame")
			})
		}
	}
}

// readFrame returns each message whole, whatever its size against the read
// buffer and the pooled buffer, and a buffer given back is reused safely.
func TestReadFrame(t *testing.T) {
	s := newBareWS(1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := dialBare(t, "ws"+strings.TrimPrefix(srv.URL, "http"), 1)[0]
	waitLen(t, s, 1)
	var want [][]byte
	for i, size := range []int{3, 1400, 4096, 5000, 70000, 10} {
		want = append(want, bytes.Repeat([]byte{byte('a' + i)}, size))
		s.Dispatch(realtime.Message{Group: realtime.GroupNewQuotes, Payload: want[i]})
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, w := range want {
		bp, err := readFrame(c)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(*bp, w) {
			t.Fatalf("frame %d: %d bytes, want %d of %q", i, len(*bp), len(w), w[0])
		}
		frameBufs.Put(bp)
	}
	c.Close()
	if _, err := readFrame(c); err == nil {
		t.Fatal("read on a closed socket succeeded")
	}
}
