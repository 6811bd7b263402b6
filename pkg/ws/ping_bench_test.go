package ws

import (
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// BenchmarkPingWalk: the hub's ping walk over 2,000 idle sockets whose pings
// are all due, until every client has its ping; CPU of the process per ping
// (the clients' reading is in it, the same whoever writes the ping).
//
//	go test -run '^$' -bench PingWalk -benchtime 200x ./pkg/ws/
func BenchmarkPingWalk(b *testing.B) {
	const n = 2000
	h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{PingInterval: time.Hour})
	srv, conns := idleSocketServer(h, n)
	defer srv.Close()
	var pings atomic.Int64
	for range n {
		client, _, err := websocket.DefaultDialer.Dial("ws"+srv.URL[len("http"):]+"/", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer client.Close()
		client.SetPingHandler(func(string) error { pings.Add(1); return nil })
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
		all = append(all, <-conns)
	}
	for _, c := range all {
		for {
			c.mu.Lock()
			busy := c.writing
			c.mu.Unlock()
			if !busy {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpu()
	for i := range b.N {
		now := time.Now()
		for _, c := range all {
			c.nextPing = now
		}
		h.pingDue(now)
		for pings.Load() < int64(n*(i+1)) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpu()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/ping")
}
