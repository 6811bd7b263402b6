package realtime

import (
	"context"
	"fmt"
	"log/slog"
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

// Messages are the frames, in order.
func (p *Pending) Messages() []Message {
	if p == nil {
		return nil
	}
	return p.msgs
}

// Merge appends q's frames after p's.
func (p *Pending) Merge(q *Pending) *Pending {
	if q == nil {
		return p
	}
	if p == nil {
		return q
	}
	return &Pending{ids: append(p.ids, q.ids...), msgs: append(p.msgs, q.msgs...)}
}

// Write stores msgs in the outbox inside tx.
func Write(tx *gorm.DB, msgs ...Message) (*Pending, error) {
	if len(msgs) == 0 {
		return &Pending{}, nil
	}
	now := store.Now()
	rows := make([]store.OutboxEvent, len(msgs))
	for i, m := range msgs {
		rows[i] = store.OutboxEvent{GroupName: m.Group, EventType: m.Type, Payload: string(m.Payload), CreatedAt: now}
	}
	if err := tx.Create(&rows).Error; err != nil {
		return nil, fmt.Errorf("write outbox: %w", err)
	}
	p := &Pending{ids: make([]int64, len(rows)), msgs: msgs}
	for i, r := range rows {
		p.ids[i] = r.ID
	}
	return p, nil
}

// Flush publishes p after commit and marks its rows published. A failure is
// logged and counted, never returned: the relay publishes those rows later.
func (o *Outbox) Flush(ctx context.Context, p *Pending) {
	if p.Len() == 0 {
		return
	}
	// The request may be finishing: publish with its own short deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := o.Publisher.Publish(ctx, p.msgs...); err != nil {
		metrics.PublishFailures.Add(float64(len(p.msgs)))
		o.logger().Error("publish after commit failed; the outbox relay will retry", "frames", len(p.msgs), "err", err)
		return
	}
	metrics.EventsPublished.Add(float64(len(p.msgs)))
	if len(p.ids) == 0 {
		return
	}
	err := o.Store.DB.WithContext(ctx).Model(&store.OutboxEvent{}).
		Where("id IN ? AND published_at IS NULL", p.ids).Update("published_at", store.Now()).Error
	if err != nil {
		o.logger().Error("mark outbox rows published", "err", err)
	}
}

// Relay publishes outbox rows older than minAge that were never marked
// published, oldest first, at most batch rows, and returns how many it published.
// Call it from one runner at a time (the worker holds a lock); on PostgreSQL the
// rows are also locked with SKIP LOCKED.
func (o *Outbox) Relay(ctx context.Context, minAge time.Duration, batch int) (int, error) {
	published := 0
	err := o.Store.Transaction(ctx, func(tx *gorm.DB) error {
		q := tx.Where("published_at IS NULL AND created_at <= ?", store.Now().Add(-minAge)).Order("id").Limit(batch)
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
		msgs := make([]Message, len(rows))
		ids := make([]int64, len(rows))
		for i, r := range rows {
			msgs[i] = RawMessage(r.GroupName, r.EventType, []byte(r.Payload))
			ids[i] = r.ID
		}
		if err := o.Publisher.Publish(ctx, msgs...); err != nil {
			return fmt.Errorf("relay publish: %w", err)
		}
		published = len(rows)
		metrics.OutboxRelayed.Add(float64(len(rows)))
		return tx.Model(&store.OutboxEvent{}).Where("id IN ?", ids).Update("published_at", store.Now()).Error
	})
	return published, err
}

// Purge deletes published rows older than age (the outbox is not an archive).
func (o *Outbox) Purge(ctx context.Context, age time.Duration) (int64, error) {
	res := o.Store.DB.WithContext(ctx).Where("published_at IS NOT NULL AND published_at < ?", store.Now().Add(-age)).
		Delete(&store.OutboxEvent{})
	return res.RowsAffected, res.Error
}

func (o *Outbox) logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}
