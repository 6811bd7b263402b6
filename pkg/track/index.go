package track

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/store"
)

// Active is one tracked delivery as the index keeps it under its driver:
// what a location update needs to render its frame without PostgreSQL.
type Active struct {
	Delivery string   `json:"d"`
	Client   string   `json:"c"`
	Status   string   `json:"s"`
	PLat     *float64 `json:"pa,omitempty"`
	PLng     *float64 `json:"po,omitempty"`
	DLat     *float64 `json:"da,omitempty"`
	DLng     *float64 `json:"do,omitempty"`
	// Until (ms) is when the entry stops counting unless refreshed (a
	// change announced and its end lost while Redis was away).
	Until int64 `json:"x"`
}

// Points are the delivery's pickup and delivery pairs.
func (a Active) Points() (pickup, dropoff geo.Pair) {
	return geo.Pair{Lat: a.PLat, Lng: a.PLng}, geo.Pair{Lat: a.DLat, Lng: a.DLng}
}

// activeOf is d's entry (valid until until).
func activeOf(d *store.Delivery, until time.Time) Active {
	return Active{Delivery: d.ID.String(), Client: d.ClientID, Status: d.Status,
		PLat: d.PickupLatitude, PLng: d.PickupLongitude, DLat: d.DeliveryLatitude, DLng: d.DeliveryLongitude, Until: until.UnixMilli()}
}

// Seen is one tracked delivery an update belongs to, and whether the update
// was sampled into its trail (and queued for PostgreSQL).
type Seen struct {
	Active
	Sampled bool
}

// index keeps each driver's tracked deliveries, the last sampled point of
// each, and the queue of sampled points waiting for PostgreSQL: Redis (shared
// by every process) or memory (local mode).
type index interface {
	// put records a (replacing that delivery's previous entry).
	put(ctx context.Context, driver string, a Active) error
	// end removes driver's entry of delivery and returns its last sampled
	// point's time (zero: none).
	end(ctx context.Context, driver, delivery string) (time.Time, error)
	// observe returns the deliveries driver's update belongs to (entries
	// valid at nowMs), sampling it into each one's trail: a point when at
	// least every passed or more than meters were covered since the last
	// sampled point (or there is none), queued in the same step.
	observe(ctx context.Context, driver string, loc location.Location, nowMs int64, every time.Duration, meters float64) ([]Seen, error)
	// list is driver's entries valid at nowMs.
	list(ctx context.Context, driver string, nowMs int64) ([]Active, error)
	// putMany is put for many drivers' entries at once (the refresh).
	putMany(ctx context.Context, entries []driverActive) error
	// ready tells whether the index was filled since the store last lost
	// its data (a Redis restarted empty); markReady records that it was.
	ready(ctx context.Context) (bool, error)
	markReady(ctx context.Context) error
	// pop takes up to n queued points; push queues points again.
	pop(ctx context.Context, n int) ([]store.TrackPoint, error)
	push(ctx context.Context, ps []store.TrackPoint) error
}

// driverActive is one entry of putMany.
type driverActive struct {
	driver string
	a      Active
}

// Queue entries: "<delivery>,<recorded µs>,<lat>,<lng>".
func encodePoint(p store.TrackPoint) string {
	return p.DeliveryID.String() + "," + strconv.FormatInt(p.RecordedAt.UnixMicro(), 10) + "," +
		strconv.FormatFloat(p.Latitude, 'f', 6, 64) + "," + strconv.FormatFloat(p.Longitude, 'f', 6, 64)
}

func decodePoint(s string) (store.TrackPoint, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return store.TrackPoint{}, fmt.Errorf("queued point %q", s)
	}
	id, err := uuid.Parse(parts[0])
	if err != nil {
		return store.TrackPoint{}, fmt.Errorf("queued point %q: %w", s, err)
	}
	us, err1 := strconv.ParseInt(parts[1], 10, 64)
	lat, err2 := strconv.ParseFloat(parts[2], 64)
	lng, err3 := strconv.ParseFloat(parts[3], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return store.TrackPoint{}, fmt.Errorf("queued point %q", s)
	}
	return store.TrackPoint{DeliveryID: id, RecordedAt: time.UnixMicro(us).UTC(), Latitude: lat, Longitude: lng}, nil
}

// sampled is the sampling rule (place.md §6) for an update at (t, p) after
// the last sampled point (lt, lp); has is false when there is none.
func sampled(has bool, lt time.Time, lp geo.Point, t time.Time, p geo.Point, every time.Duration, meters float64) bool {
	if !has {
		return true
	}
	if !t.After(lt) {
		return false
	}
	return t.Sub(lt) >= every || geo.DistanceKm(lp, p)*1000 > meters
}

// memIndex is the index of local mode (one process).
type memIndex struct {
	mu      sync.Mutex
	drivers map[string]map[string]*memEntry
	queue   []store.TrackPoint
}

type memEntry struct {
	a     Active
	has   bool
	lastT time.Time
	lastP geo.Point
}

func newMemIndex() *memIndex { return &memIndex{drivers: map[string]map[string]*memEntry{}} }

func (m *memIndex) put(_ context.Context, driver string, a Active) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ds := m.drivers[driver]
	if ds == nil {
		ds = map[string]*memEntry{}
		m.drivers[driver] = ds
	}
	if e := ds[a.Delivery]; e != nil {
		e.a = a
		return nil
	}
	ds[a.Delivery] = &memEntry{a: a}
	return nil
}

func (m *memIndex) putMany(ctx context.Context, es []driverActive) error {
	for _, e := range es {
		_ = m.put(ctx, e.driver, e.a)
	}
	return nil
}

// Memory is never lost while the process lives.
func (m *memIndex) ready(context.Context) (bool, error) { return true, nil }
func (m *memIndex) markReady(context.Context) error     { return nil }

func (m *memIndex) end(_ context.Context, driver, delivery string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.drivers[driver][delivery]
	if e == nil {
		return time.Time{}, nil
	}
	delete(m.drivers[driver], delivery)
	if len(m.drivers[driver]) == 0 {
		delete(m.drivers, driver)
	}
	return e.lastT, nil
}

func (m *memIndex) observe(_ context.Context, driver string, loc location.Location, nowMs int64, every time.Duration, meters float64) ([]Seen, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Seen
	for id, e := range m.drivers[driver] {
		if e.a.Until <= nowMs {
			delete(m.drivers[driver], id)
			continue
		}
		s := Seen{Active: e.a}
		if sampled(e.has, e.lastT, e.lastP, loc.RecordedAt, loc.Point(), every, meters) {
			s.Sampled = true
			e.has, e.lastT, e.lastP = true, loc.RecordedAt, loc.Point()
			did, err := uuid.Parse(id)
			if err == nil {
				m.queue = append(m.queue, store.TrackPoint{DeliveryID: did, RecordedAt: loc.RecordedAt, Latitude: loc.Latitude, Longitude: loc.Longitude})
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (m *memIndex) list(_ context.Context, driver string, nowMs int64) ([]Active, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Active
	for _, e := range m.drivers[driver] {
		if e.a.Until > nowMs {
			out = append(out, e.a)
		}
	}
	return out, nil
}

func (m *memIndex) pop(_ context.Context, n int) ([]store.TrackPoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n = min(n, len(m.queue))
	out := append([]store.TrackPoint(nil), m.queue[:n]...)
	m.queue = m.queue[n:]
	return out, nil
}

func (m *memIndex) push(_ context.Context, ps []store.TrackPoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.queue = append(m.queue, ps...)
	return nil
}

// jsonActive renders an entry for Redis.
func jsonActive(a Active) string {
	b, _ := json.Marshal(a) // plain fields: never fails
	return string(b)
}
