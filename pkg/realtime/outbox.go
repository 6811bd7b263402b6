package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/metrics"
	"hermez/pkg/store"
)

// Outbox writes frames in the transaction of the change that caused them, and
// publishes them after commit; the relay republishes what a crash or an outage left.
type Outbox struct {
	Store     *store.Store
	Publisher Publisher
	Log       *slog.Logger

	// failedUntil (unix ns): after a failed publish, Flush leaves frames to
	// the relay for FlushBackoff instead of making every request wait on a
	// broker that is down.
	failedUntil atomic.Int64
	// marks queues the published marks while Run runs (marks.go).
	marks markQueue
}

// Pending is what Write returns: the rows to publish once the transaction commits.
type Pending struct {
	ids  []int64
	msgs []Message
}

// Len is the number of frames.
func (p *Pending) Len() int {
	if p == nil {
		return 0
	}
	return len(p.msgs)
}

// Change is the one transaction-plus-outbox mechanism of the services: it
// runs fn in one transaction of st, writes the frames fn returns to the
// outbox in the same transaction (one INSERT), and after commit publishes them
// and marks them published (one UPDATE, shared by many changes while
// Outbox.Run runs). A publish failure is logged and left
// to the relay, never returned; with a nil outbox the relay publishes them.
// fn's and the database's errors are returned as they are (map them with
// store.MapError).
func Change(ctx context.Context, st *store.Store, o *Outbox, fn func(tx *gorm.DB) ([]Message, error)) error {
	var pending *Pending
	err := st.Transaction(ctx, func(tx *gorm.DB) error {
		msgs, err := fn(tx)
		if err != nil {
			return err
		}
		pending, err = Write(tx, msgs...)
		return err
	})
	if err != nil {
		return err
	}
	if o != nil {
		o.Flush(ctx, pending)
	}
	return nil
}

// ChangeBatch is Change for a change whose writes are only fixed inserts
// (store.Batch): fn reads what it needs through db (the store's pool, with
// ctx; no transaction is open) and queues its rows in b; its frames' outbox
// row is queued last, and the batch is written as one transaction — on
// PostgreSQL in one round trip (store.Store.WriteBatch). Then, as Change,
// the frames are published and marked. fn must take no lock and rely on no
// snapshot across its reads: under READ COMMITTED a read inside a
// transaction saw no more than the same read before it, and the database's
// constraints check the rows the batch writes.
func ChangeBatch(ctx context.Context, st *store.Store, o *Outbox, fn func(db *gorm.DB, b *store.Batch) ([]Message, error)) error {
	var b store.Batch
	msgs, err := fn(st.DB.WithContext(ctx), &b)
	if err != nil {
		return err
	}
	pending := &Pending{}
	var row store.OutboxEvent
	if len(msgs) > 0 {
		if row, err = outboxRow(msgs, st.Now()); err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
		b.InsertOutbox(st.Dialect, &row)
	}
	if err := st.WriteBatch(ctx, &b); err != nil {
		return err // each statement's error names it (store.Batch)
	}
	if len(msgs) > 0 {
		pending = &Pending{ids: []int64{row.ID}, msgs: msgs}
	}
	if o != nil {
		o.Flush(ctx, pending)
	}
	return nil
}

// Write stores msgs, the frames of one change, in the outbox inside tx: one
// row, with one statement (rows.go).
func Write(tx *gorm.DB, msgs ...Message) (*Pending, error) {
	if len(msgs) == 0 {
		return &Pending{}, nil
	}
	row, err := outboxRow(msgs, tx.NowFunc()) // the store's clock (store.Store.Now)
	if err != nil {
		return nil, fmt.Errorf("write outbox: %w", err)
	}
	if err := store.InsertOutbox(tx, &row); err != nil {
		return nil, fmt.Errorf("write outbox: %w", err)
	}
	return &Pending{ids: []int64{row.ID}, msgs: msgs}, nil
}

// FlushTimeout bounds the publish after commit; after a failure, Flush
// leaves the frames of the next FlushBackoff to the relay (which republishes
// rows left unpublished for 2 s), so writes stay fast while Redis is down.
const (
	FlushTimeout = 500 * time.Millisecond
	FlushBackoff = time.Second
)

// Flush publishes p after commit and marks its rows published (queued for
// Run when it runs, see marks.go; at once otherwise). A failure is logged and
// counted, never returned: the relay publishes those rows later.
func (o *Outbox) Flush(ctx context.Context, p *Pending) {
	if p.Len() == 0 {
		return
	}
	// failedUntil is a backoff of this process's publishes, not a rule or a
	// record: it reads the monotonic wall clock, not Store.Now (a test's
	// frozen clock would otherwise hold the backoff forever).
	if time.Now().UnixNano() < o.failedUntil.Load() {
		metrics.PublishFailures.Add(float64(len(p.msgs)))
		return // the broker just failed: the relay publishes these
	}
	// The request may be finishing: publish with its own short deadline. A
	// healthy Redis answers in milliseconds; an unreachable one must not hold
	// the answer (go-redis retries dials for seconds): the relay publishes
	// what failed here.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
	defer cancel()
	if err := o.Publisher.Publish(ctx, p.msgs...); err != nil {
		metrics.PublishFailures.Add(float64(len(p.msgs)))
		o.failedUntil.Store(time.Now().Add(FlushBackoff).UnixNano())
		o.logger().Error("publish after commit failed; the outbox relay will publish; publishes of the next second are left to it",
			"frames", len(p.msgs), "err", err)
		return
	}
	metrics.EventsPublished.Add(float64(len(p.msgs)))
	if len(p.ids) == 0 || o.marks.queue(p.ids) {
		return
	}
	if err := o.markNow(ctx, p.ids); err != nil {
		o.logger().Error("mark outbox rows published; the relay will publish them again", "err", err)
	}
}

// Relay publishes the frames of outbox rows older than minAge that were never
// marked published, oldest row first, at most batch rows, and returns how
// many frames it published. Call it from one runner at a time (the worker
// holds a lock); on PostgreSQL the rows are also locked with SKIP LOCKED.
//
// A frame is superseded when a newer frame of its resource to its group is
// already marked published (typically: its publish failed during a Redis
// outage, and a later change of the same resource was published once Redis
// came back). That newer frame reached every subscribed worker (or they closed
// their sockets with 1012), and sockets that joined since read a snapshot at
// least as new: publishing the old frame would only put an older state after
// a newer one (docs/realtime.md "Order"). Superseded frames are not published (their
// row is marked all the same), counted and logged. A resource's changes are
// written in commit order (each holds the resource's row lock), so their rows'
// ids grow with its versions: only published rows newer than the oldest row
// relayed are read for the check.
//
// A row whose frames cannot be decoded (only a hand edit can do that) is
// logged, marked and skipped, so it never blocks the rows after it.
func (o *Outbox) Relay(ctx context.Context, minAge time.Duration, batch int) (int, error) {
	published, superseded := 0, 0
	err := o.Store.Transaction(ctx, func(tx *gorm.DB) error {
		q := tx.Where("published_at IS NULL AND created_at <= ?", o.Store.Now().Add(-minAge)).Order("id").Limit(batch)
		if o.Store.Dialect == store.Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var rows []store.OutboxEvent
		if err := q.Find(&rows).Error; err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		newest, err := publishedHeads(tx, rows[0].ID)
		if err != nil {
			return err
		}
		ids := make([]int64, len(rows))
		var msgs []Message
		for i, r := range rows {
			ids[i] = r.ID
			frames, err := RowFrames(r)
			if err != nil {
				o.logger().Error("outbox row unreadable; marked published without publishing", "id", r.ID, "err", err)
				continue
			}
			for _, m := range frames {
				if m.Resource != "" && newest[headKey{m.Group, m.Resource}] > m.Version {
					superseded++
					continue
				}
				msgs = append(msgs, m)
			}
		}
		if len(msgs) > 0 {
			if err := o.Publisher.Publish(ctx, msgs...); err != nil {
				return fmt.Errorf("relay publish: %w", err)
			}
		}
		published = len(msgs)
		metrics.OutboxRelayed.Add(float64(published))
		metrics.OutboxSuperseded.Add(float64(superseded))
		return tx.Model(&store.OutboxEvent{}).Where("id IN ?", ids).Update("published_at", o.Store.Now()).Error
	})
	if err == nil && superseded > 0 {
		o.logger().Info("outbox relay skipped frames superseded by a newer published frame of the same resource",
			"frames", superseded)
	}
	return published, err
}

// publishedHeads returns the newest version of each resource's frames to each
// group among the published rows after id.
func publishedHeads(tx *gorm.DB, id int64) (map[headKey]int64, error) {
	var heads []struct {
		GroupName, Resource, Heads string
		Version                    int64
	}
	err := tx.Model(&store.OutboxEvent{}).Select("group_name, resource, version, heads").
		Where("id > ? AND published_at IS NOT NULL AND (resource <> '' OR heads <> '')", id).Find(&heads).Error
	if err != nil {
		return nil, fmt.Errorf("read published outbox heads: %w", err)
	}
	newest := map[headKey]int64{}
	for _, h := range heads {
		noteHeads(newest, h.GroupName, h.Resource, h.Version, h.Heads)
	}
	return newest, nil
}

// OutboxRetention is how long published outbox rows are kept (the outbox is
// not an archive; a day covers any investigation of a missed frame).
const OutboxRetention = 24 * time.Hour

// Purge deletes rows published more than OutboxRetention ago and returns how
// many it removed. The runner's purge job calls it.
func (o *Outbox) Purge(ctx context.Context) (int64, error) {
	res := o.Store.DB.WithContext(ctx).Where("published_at IS NOT NULL AND published_at < ?", o.Store.Now().Add(-OutboxRetention)).
		Delete(&store.OutboxEvent{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge outbox: %w", res.Error)
	}
	return res.RowsAffected, nil
}

func (o *Outbox) logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}
