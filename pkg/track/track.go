// Package track is live tracking of active deliveries (place.md §6): each
// kept location of a driver with a delivery assigned, picked up or in transit
// becomes a `driver_location` frame to that delivery's groups, and a sampled
// trail point in PostgreSQL; reads of a Delivery carry the driver's last
// fresh location for its client and driver.
//
// A location update never waits on PostgreSQL. The deliveries a driver is
// tracked for live in an index beside the locations (Redis, or memory in
// local mode; index.go, redis.go), kept by the marketplace after each
// delivery change commits (Changed: accepted → put, status changed → put,
// delivered / paid / cancelled → end) and refreshed from PostgreSQL every
// RefreshEvery by every process (Refresh), each entry valid RefreshTTL
// unless refreshed, so an end lost while Redis was away stops counting. An
// update costs one Redis script (index lookup, sampling, queueing the point:
// one atomic step on one slot) and, when tracked, one PUBLISH per group,
// done before the update is answered. A Redis that restarted empty has lost
// the index: every process notices within 500 ms (a marker key) and refills it. The
// sampled points wait in a Redis list until a process's drainer (Run)
// inserts them in batches, so a web killed mid-delivery loses none of its
// sampled points; only the unsampled ones were never meant to be kept.
//
// Order: each frame is about the resource "driver_location:<delivery>" at
// version recorded_at (µs), so the hub never delivers an older position after
// a newer one to a group's sockets (docs/realtime.md "Order").
package track

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm/clause"

	"hermez/pkg/location"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// EventDriverLocation is the frame's type.
const EventDriverLocation = realtime.DriverLocation

// Resource is the order rule's resource of a delivery's driver_location frames.
func Resource(deliveryID string) string { return "driver_location:" + deliveryID }

// Defaults of the process configuration (config.md "Place").
const (
	DefaultSampleEvery  = 15 * time.Second
	DefaultSampleMeters = 50.0
	DefaultRetention    = 30 * 24 * time.Hour
	// RefreshEvery and RefreshTTL: see the package comment.
	RefreshEvery = time.Minute
	RefreshTTL   = 10 * time.Minute
	batchSize    = 500
)

// Config are the tracking settings.
type Config struct {
	SampleEvery  time.Duration // TRACK_SAMPLE_SECONDS
	SampleMeters float64       // TRACK_SAMPLE_METERS
	Retention    time.Duration // TRACK_RETENTION_DAYS
}

// Tracker is one process's live tracking.
type Tracker struct {
	Store     *store.Store
	Locations *location.Store
	Publisher realtime.Publisher
	Config    Config
	Log       *slog.Logger

	idx     index
	running atomic.Bool

	mu      sync.Mutex
	pending map[string]string // delivery → driver: ends to retry (Redis was away)
}

// New builds a tracker on Redis (rdb non-nil, keys under prefix) or in memory,
// and hooks it to locs: every kept location is observed.
func New(st *store.Store, locs *location.Store, pub realtime.Publisher, rdb redis.UniversalClient, prefix string, cfg Config, log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.Default()
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = DefaultSampleEvery
	}
	if !(cfg.SampleMeters > 0) {
		cfg.SampleMeters = DefaultSampleMeters
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	t := &Tracker{Store: st, Locations: locs, Publisher: pub, Config: cfg, Log: log, pending: map[string]string{}}
	if rdb != nil {
		t.idx = &redisIndex{c: rdb, prefix: prefix}
	} else {
		t.idx = newMemIndex()
	}
	if locs != nil {
		locs.Observe(t.observe)
	}
	return t
}

func (t *Tracker) now() time.Time { return t.Store.Now() }

// observe is the location store's observer: it tracks the update before the
// caller answers (its sampled point is in Redis before the driver's 200, so
// a process killed right after loses none), bounded by Handle's timeout.
func (t *Tracker) observe(user string, loc location.Location) {
	if err := t.Handle(context.Background(), user, loc); err != nil {
		t.logFailure(err)
	}
}

// Handle tracks one kept update: frames to the groups of each delivery the
// driver is tracked for, its trail sampled; Redis only (one script, then one
// PUBLISH per group), never PostgreSQL.
func (t *Tracker) Handle(ctx context.Context, driver string, loc location.Location) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	seen, err := t.idx.observe(ctx, driver, loc, t.now().UnixMilli(), t.Config.SampleEvery, t.Config.SampleMeters)
	if err != nil {
		metrics.TrackUpdates.WithLabelValues("error").Inc()
		return fmt.Errorf("track the location of %s: %w", driver, err)
	}
	if len(seen) == 0 {
		return nil
	}
	msgs := make([]realtime.Message, 0, 2*len(seen))
	for _, s := range seen {
		if s.Sampled {
			metrics.TrackUpdates.WithLabelValues("sampled").Inc()
		}
		m, err := t.frames(s.Active, loc)
		if err != nil {
			return err
		}
		msgs = append(msgs, m...)
	}
	if err := t.Publisher.Publish(ctx, msgs...); err != nil {
		metrics.TrackUpdates.WithLabelValues("error").Inc()
		return fmt.Errorf("publish the location of %s: %w", driver, err)
	}
	metrics.TrackUpdates.WithLabelValues("published").Inc()
	return nil
}

// frames renders a's driver_location for its two groups.
func (t *Tracker) frames(a Active, loc location.Location) ([]realtime.Message, error) {
	pu, dp := a.Points()
	data := view.NewDriverLocation(a.Delivery, a.Status, pu, dp, loc)
	ver := loc.RecordedAt.UnixMicro()
	out := make([]realtime.Message, 0, 2)
	for _, g := range []string{realtime.GroupDelivery(a.Delivery), realtime.GroupUserDeliveries(a.Client)} {
		m, err := realtime.NewMessage(g, EventDriverLocation, data)
		if err != nil {
			return nil, err
		}
		out = append(out, m.About(Resource(a.Delivery), ver, false))
	}
	return out, nil
}

// Frame is a's driver_location frame text for loc ({"type","data"}), as the
// join of delivery_{id} sends it first.
func Frame(d *store.Delivery, loc location.Location) *view.DriverLocation {
	pu, dp := view.DeliveryPoints(d)
	return view.NewDriverLocation(d.ID.String(), d.Status, pu, dp, loc)
}

// Current is the driver's fresh location (nil when none, or when the store
// is away: reads then show null rather than fail).
func (t *Tracker) Current(ctx context.Context, driver string) *location.Location {
	if t == nil || t.Locations == nil || driver == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	l, err := t.Locations.Get(ctx, driver)
	if err != nil {
		t.Log.Warn("driver_location left null: the location store is unavailable", "err", err)
		return nil
	}
	return l
}

// For is d's driver_location as viewer reads it: the driver's last fresh
// location while d is tracked, for its client and driver; nil otherwise.
func (t *Tracker) For(ctx context.Context, d *store.Delivery, viewer string) *view.DriverLocation {
	if t == nil || d == nil || d.DeliveryPersonID == nil || !view.Tracked(d.Status) {
		return nil
	}
	if viewer != d.ClientID && viewer != *d.DeliveryPersonID {
		return nil
	}
	l := t.Current(ctx, *d.DeliveryPersonID)
	if l == nil {
		return nil
	}
	return Frame(d, *l)
}

// Attach sets out.DriverLocation for viewer (see For).
func (t *Tracker) Attach(ctx context.Context, out *view.Delivery, d *store.Delivery, viewer string) {
	if out != nil {
		out.DriverLocation = t.For(ctx, d, viewer)
	}
}

// Changed is the marketplace's hook after a delivery change committed: a
// tracked delivery is put in (or updated in) its driver's index; one that
// left the active states is ended: its entry removed and its driver's last
// location, when newer than its last sampled point, written as the trail's
// last point.
func (t *Tracker) Changed(ctx context.Context, d *store.Delivery) {
	if t == nil || d == nil || d.DeliveryPersonID == nil {
		return
	}
	driver := *d.DeliveryPersonID
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if view.Tracked(d.Status) {
		if err := t.idx.put(ctx, driver, activeOf(d, t.now().Add(RefreshTTL))); err != nil {
			t.Log.Warn("tracking index not updated (the refresh will)", "delivery_id", d.ID, "err", err)
		}
		return
	}
	if err := t.end(ctx, driver, d); err != nil {
		t.Log.Warn("tracking end failed: retried", "delivery_id", d.ID, "err", err)
		t.mu.Lock()
		t.pending[d.ID.String()] = driver
		t.mu.Unlock()
	}
}

func (t *Tracker) end(ctx context.Context, driver string, d *store.Delivery) error {
	last, err := t.idx.end(ctx, driver, d.ID.String())
	if err != nil {
		return err
	}
	l, err := t.Locations.Get(ctx, driver)
	if err != nil || l == nil || !l.RecordedAt.After(last) || l.RecordedAt.Before(d.CreatedAt) {
		return nil // nothing newer to keep (or the store is away: that point is lost)
	}
	return t.write(ctx, []store.TrackPoint{{DeliveryID: d.ID, RecordedAt: l.RecordedAt, Latitude: l.Latitude, Longitude: l.Longitude}})
}

// write inserts points (a point already there is kept as it is).
func (t *Tracker) write(ctx context.Context, ps []store.TrackPoint) error {
	if len(ps) == 0 {
		return nil
	}
	for i := range ps {
		ps[i].RecordedAt = ps[i].RecordedAt.UTC()
	}
	err := t.Store.DB.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&ps).Error
	if err != nil {
		return fmt.Errorf("write %d trail points: %w", len(ps), err)
	}
	metrics.TrackPointsWritten.Add(float64(len(ps)))
	return nil
}

// Drain writes up to one batch of queued points to PostgreSQL; on failure
// they are queued again. It returns how many it wrote.
func (t *Tracker) Drain(ctx context.Context) (int, error) {
	ps, err := t.idx.pop(ctx, batchSize)
	if err != nil || len(ps) == 0 {
		return 0, err
	}
	if err := t.write(ctx, ps); err != nil {
		if perr := t.idx.push(context.WithoutCancel(ctx), ps); perr != nil {
			return 0, fmt.Errorf("%w; and %d points could not be queued again: %v", err, len(ps), perr)
		}
		return 0, err
	}
	return len(ps), nil
}

// Refresh puts every active delivery in its driver's index again (valid
// RefreshTTL more), and retries the ends that failed.
func (t *Tracker) Refresh(ctx context.Context) error {
	t.mu.Lock()
	pend := t.pending
	t.pending = map[string]string{}
	t.mu.Unlock()
	for id, driver := range pend {
		d := &store.Delivery{ID: uuid.MustParse(id), DeliveryPersonID: &driver}
		if err := t.Store.DB.WithContext(ctx).Select("id", "created_at").Where("id = ?", d.ID).Take(d).Error; err != nil {
			d.CreatedAt = t.now()
		}
		if err := t.end(ctx, driver, d); err != nil {
			t.mu.Lock()
			t.pending[id] = driver
			t.mu.Unlock()
		}
	}
	var ds []store.Delivery
	err := t.Store.DB.WithContext(ctx).Select("id", "client_id", "delivery_person_id", "status", "pickup_latitude", "pickup_longitude", "delivery_latitude", "delivery_longitude").
		Where("status IN ? AND delivery_person_id IS NOT NULL", []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit}).
		Find(&ds).Error
	if err != nil {
		return fmt.Errorf("load the active deliveries: %w", err)
	}
	until := t.now().Add(RefreshTTL)
	es := make([]driverActive, 0, len(ds))
	t.mu.Lock()
	for i := range ds {
		if _, ending := t.pending[ds[i].ID.String()]; !ending {
			es = append(es, driverActive{*ds[i].DeliveryPersonID, activeOf(&ds[i], until)})
		}
	}
	t.mu.Unlock()
	if err := t.idx.putMany(ctx, es); err != nil {
		return fmt.Errorf("refresh the tracking index: %w", err)
	}
	return t.idx.markReady(ctx)
}

// Run runs the drainer of sampled points (every 200 ms, sooner while there
// are more), the refresh (every RefreshEvery, and at once when the index
// was lost: checked every 500 ms) until ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	if !t.running.CompareAndSwap(false, true) {
		<-ctx.Done() // web and worker sharing an in-process broker: one Run does the work
		return
	}
	defer t.running.Store(false)
	drain := time.NewTicker(200 * time.Millisecond)
	defer drain.Stop()
	refresh := time.NewTicker(RefreshEvery)
	defer refresh.Stop()
	lost := time.NewTicker(500 * time.Millisecond)
	defer lost.Stop()
	if err := t.Refresh(ctx); err != nil && ctx.Err() == nil {
		t.Log.Warn("tracking refresh", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			// What is still queued stays queued (Redis) for another process.
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			for {
				if n, err := t.Drain(dctx); err != nil || n == 0 {
					break
				}
			}
			cancel()
			return
		case <-drain.C:
			for {
				n, err := t.Drain(ctx)
				if err != nil {
					t.logFailure(err)
				}
				if n < batchSize {
					break
				}
			}
		case <-refresh.C:
			if err := t.Refresh(ctx); err != nil && ctx.Err() == nil {
				t.logFailure(err)
			}
		case <-lost.C:
			if ok, err := t.idx.ready(ctx); err == nil && !ok {
				if err := t.Refresh(ctx); err != nil && ctx.Err() == nil {
					t.logFailure(err)
				}
			}
		}
	}
}

var lastFailure atomic.Int64

// logFailure logs at most once a second per process.
func (t *Tracker) logFailure(err error) {
	now := time.Now().Unix()
	if last := lastFailure.Load(); last == now || !lastFailure.CompareAndSwap(last, now) {
		return
	}
	t.Log.Warn("live tracking", "err", err)
}

// Points is a delivery's trail, oldest first.
func (t *Tracker) Points(ctx context.Context, id uuid.UUID) ([]store.TrackPoint, error) {
	return Points(ctx, t.Store, id)
}

// Points is delivery id's trail, oldest first.
func Points(ctx context.Context, st *store.Store, id uuid.UUID) ([]store.TrackPoint, error) {
	var ps []store.TrackPoint
	if err := st.DB.WithContext(ctx).Where("delivery_id = ?", id).Order("recorded_at").Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("load the trail of %s: %w", id, err)
	}
	for i := range ps {
		ps[i].RecordedAt = ps[i].RecordedAt.UTC()
	}
	return ps, nil
}

// Purge deletes the trails of deliveries that ended (delivered, paid or
// cancelled) more than retention ago, and returns how many points it removed.
func Purge(ctx context.Context, st *store.Store, retention time.Duration) (int64, error) {
	cutoff := st.Now().Add(-retention)
	ended := st.DB.Model(&store.Delivery{}).Select("id").
		Where("(status IN ? AND completed_at < ?) OR (status = ? AND cancelled_at < ?)",
			[]string{store.DeliveryDelivered, store.DeliveryPaid}, cutoff, store.DeliveryCancelled, cutoff)
	res := st.DB.WithContext(ctx).Where("delivery_id IN (?)", ended).Delete(&store.TrackPoint{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge trails: %w", res.Error)
	}
	return res.RowsAffected, nil
}
