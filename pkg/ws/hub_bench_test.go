package ws

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"hermez/pkg/realtime"
)

// BenchmarkHubFanout measures the hub alone with in-memory fake connections
// (no network, no writer goroutines): one event dispatched to every local
// socket of a group (one PreparedMessage, one non-blocking enqueue each),
// then each queue drained once, as the writers would.
func BenchmarkHubFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{QueueSize: 4})
			conns := make([]*Conn, n)
			for i := range conns {
				// writing: true stands for a busy writer, so enqueue only queues.
				c := &Conn{user: fmt.Sprint("user_", i), group: "user_quotes_x", opts: &h.opts, writing: true}
				h.join(c)
				conns[i] = c
			}
			payload := []byte(`{"type":"offer_made","data":{"pad":"` + strings.Repeat("x", 1500) + `"}}`)
			msg := realtime.RawMessage("user_quotes_x", realtime.OfferMade, payload)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.Dispatch(msg)
				for _, c := range conns {
					c.mu.Lock()
					c.queue = c.queue[:0]
					c.mu.Unlock()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/socket")
		})
	}
}
