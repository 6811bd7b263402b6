// Package nearby is place.md §5: how many available drivers are around a
// pending quote's pickup, for its client.
//
//   - Counter.Fill sets store.Quote.NearbyDrivers before a quote is rendered
//     for its client (HTTP answers, socket snapshots, the quote's own events);
//     pkg/view renders it for the client only.
//   - Loop.Tick, run by the worker's runner every NEARBY_INTERVAL_SECONDS
//     under the runner's lease (one instance across processes), counts every
//     pending quote with a pickup and publishes a `nearby_drivers` frame to
//     quote_{id} and user_quotes_{client} for each count that changed: at
//     most one per quote per interval, the first within an interval of the
//     change.
//
// Counting reads the location store's cell index (an availability mark rides
// on each entry), only the cells covering the quotes' circles, each once per
// tick: no scan of all drivers, and no PostgreSQL read per location update.
package nearby

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// FillTimeout bounds the count made while rendering: when the location store
// is slow or away, the quote renders with nearby_drivers null instead of
// waiting.
const FillTimeout = 300 * time.Millisecond

// Counter counts the available drivers around quotes' pickups.
type Counter struct {
	Locations *location.Store
	RadiusKm  float64 // QUOTE_RADIUS_KM
	Log       *slog.Logger

	lastFailLog atomic.Int64 // unix second of the last failure logged
}

// pickup is a quote's pickup point when it counts: pending, with both
// pickup coordinates.
func pickup(q *store.Quote) (geo.Point, bool) {
	if q.Status != store.QuotePending {
		return geo.Point{}, false
	}
	return geo.Pair{Lat: q.PickupLatitude, Lng: q.PickupLongitude}.Point()
}

// Fill sets NearbyDrivers on each pending quote with a pickup (one read of the
// cells around all of them) and clears it on the others. A store failure
// leaves them nil (rendered null) and is logged.
func (c *Counter) Fill(ctx context.Context, qs ...*store.Quote) {
	if c == nil || c.Locations == nil {
		return
	}
	var probes []location.Probe
	var which []*store.Quote
	for _, q := range qs {
		q.NearbyDrivers = nil
		if p, ok := pickup(q); ok {
			probes = append(probes, location.Probe{Point: p, Exclude: q.ClientID})
			which = append(which, q)
		}
	}
	if len(probes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, FillTimeout)
	defer cancel()
	n, err := c.Locations.CountAvailable(ctx, probes, c.RadiusKm)
	if err != nil {
		// At most one line a second per process while the store is away.
		if now := time.Now().Unix(); c.lastFailLog.Swap(now) != now {
			c.logger().Warn("nearby_drivers not counted (rendered null)", "err", err)
		}
		return
	}
	for i, q := range which {
		v := n[i]
		q.NearbyDrivers = &v
	}
}

// FillAll is Fill over a slice of rows.
func (c *Counter) FillAll(ctx context.Context, qs []store.Quote) {
	ps := make([]*store.Quote, len(qs))
	for i := range qs {
		ps[i] = &qs[i]
	}
	c.Fill(ctx, ps...)
}

func (c *Counter) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// Frame is the data of a `nearby_drivers` frame.
type Frame struct {
	QuoteID string `json:"quote_id"`
	Count   int    `json:"count"`
}

// Loop publishes the changes of the counts. Tick is not safe for concurrent
// use (the runner calls it under its mutex and lease).
type Loop struct {
	Store     *store.Store
	Counter   *Counter
	Publisher realtime.Publisher

	// last is the count last published (or first seen) per pending quote.
	last map[uuid.UUID]int
}

type pendingQuote struct {
	ID              uuid.UUID
	ClientID        string
	Version         int64
	PickupLatitude  *float64
	PickupLongitude *float64
}

// Tick counts every pending, unexpired quote with a pickup and publishes a
// frame for each whose count differs from the last one published. A quote
// this loop sees for the first time gets a frame too (its client's rendering
// may be older than this count, and a runner that took over from another
// knows nothing of what was sent). Each frame carries the quote's version, so
// a worker never delivers it after the frame saying the quote left pending
// (docs/realtime.md "Order"). It returns how many frames it published.
func (l *Loop) Tick(ctx context.Context) (int, error) {
	if l.Counter == nil || l.Counter.Locations == nil {
		return 0, nil
	}
	var rows []pendingQuote
	err := l.Store.DB.WithContext(ctx).Model(&store.Quote{}).
		Select("id", "client_id", "version", "pickup_latitude", "pickup_longitude").
		Where("status = ? AND pickup_latitude IS NOT NULL AND pickup_longitude IS NOT NULL AND expires_at > ?", store.QuotePending, l.Store.Now()).
		Find(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("list the pending quotes with a pickup: %w", err)
	}
	probes := make([]location.Probe, len(rows))
	for i, r := range rows {
		probes[i] = location.Probe{Point: geo.Point{Lat: *r.PickupLatitude, Lng: *r.PickupLongitude}, Exclude: r.ClientID}
	}
	n, err := l.Counter.Locations.CountAvailable(ctx, probes, l.Counter.RadiusKm)
	if err != nil {
		return 0, err
	}
	next := make(map[uuid.UUID]int, len(rows))
	var msgs []realtime.Message
	for i, r := range rows {
		next[r.ID] = n[i]
		if last, ok := l.last[r.ID]; ok && last == n[i] {
			continue
		}
		id := r.ID.String()
		data := Frame{QuoteID: id, Count: n[i]}
		for _, g := range []string{realtime.GroupQuote(id), realtime.GroupUserQuotes(r.ClientID)} {
			m, err := realtime.NewMessage(g, realtime.NearbyDrivers, data)
			if err != nil {
				return 0, err
			}
			msgs = append(msgs, m.About(realtime.ResourceQuote(id), r.Version, false))
		}
	}
	if len(msgs) > 0 {
		if err := l.Publisher.Publish(ctx, msgs...); err != nil {
			// Nothing recorded as sent: the next tick compares with what was.
			return 0, fmt.Errorf("publish nearby_drivers: %w", err)
		}
	}
	l.last = next // quotes no longer pending are forgotten
	return len(msgs) / 2, nil
}
