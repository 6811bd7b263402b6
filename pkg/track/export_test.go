package track

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/location"
	"hermez/pkg/store"
)

// Index exposes the index to the external tests.
type Index struct{ i index }

func MemIndex() Index { return Index{newMemIndex()} }
func RedisIndex(c redis.UniversalClient, prefix string) Index {
	return Index{&redisIndex{c: c, prefix: prefix}}
}

func (x Index) Put(ctx context.Context, driver string, a Active) error {
	return x.i.put(ctx, driver, a)
}
func (x Index) End(ctx context.Context, driver, delivery string) (time.Time, error) {
	return x.i.end(ctx, driver, delivery)
}
func (x Index) Observe(ctx context.Context, driver string, loc location.Location, nowMs int64, every time.Duration, meters float64) ([]Seen, error) {
	return x.i.observe(ctx, driver, loc, nowMs, every, meters)
}
func (x Index) List(ctx context.Context, driver string, nowMs int64) ([]Active, error) {
	return x.i.list(ctx, driver, nowMs)
}
func (x Index) Pop(ctx context.Context, n int) ([]store.TrackPoint, error) { return x.i.pop(ctx, n) }
