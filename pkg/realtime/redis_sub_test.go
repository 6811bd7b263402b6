package realtime

import (
	"context"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"hermez/pkg/metrics"
)

func counter(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.BrokerDropped.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Counter.GetValue()
}

// go-redis reports a frame it dropped only as a log line: it is counted and
// every live subscriber is told to reset its sockets.
func TestDroppedFrameIsCountedAndResets(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s := NewRedisSubscriber(c, "p:", nil)
	defer s.Close()
	before := counter(t)
	redisLogger{}.Printf(context.Background(), "redis: %v channel is full for %s (message is dropped)", "PubSub(p:x)", "5s")
	if counter(t) != before+1 {
		t.Fatal("drop not counted")
	}
	select {
	case <-s.dropped:
	default:
		t.Fatal("subscriber not told to reset")
	}
	redisLogger{}.Printf(context.Background(), "pubsub: reconnecting")
	if counter(t) != before+1 {
		t.Fatal("an ordinary log line counted as a drop")
	}
}
