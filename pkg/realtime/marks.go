package realtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"hermez/pkg/store"
)

// The published mark of the frames a change published after commit is
// bookkeeping for the relay, which republishes rows left unmarked for 2 s.
// Marking each change's frames with a statement (and a commit) of its own
// cost every write a round trip and a WAL flush; while Outbox.Run runs, Flush
// queues the ids instead and Run marks everything queued with one UPDATE per
// round: under load a round covers many requests, at rest it starts at once.
// A mark lost in a crash only means the relay publishes those frames again
// (workers keep the newest version per resource; a repeat of the same version
// is the same change).
const (
	// markChunk bounds the ids of one UPDATE.
	markChunk = 1000
	// markQueueMax bounds the queue: past it Flush marks synchronously (the
	// database is slower than the writes; the writer waits, as without Run).
	markQueueMax = 20000
	// markTimeout bounds one round's UPDATE.
	markTimeout = 5 * time.Second
)

// markQueue holds the ids Flush published while Run is running.
type markQueue struct {
	mu      sync.Mutex
	running bool
	ids     []int64
	wake    chan struct{}
}

// queue adds ids for Run to mark; false when Run is not running or the
// queue is full (the caller marks them itself).
func (q *markQueue) queue(ids []int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running || len(q.ids)+len(ids) > markQueueMax {
		return false
	}
	q.ids = append(q.ids, ids...)
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take empties the queue.
func (q *markQueue) take() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := q.ids
	q.ids = nil
	return ids
}

// Run marks the frames Flush published, one UPDATE per round, until ctx
// ends; then it marks what is left and returns. Run it once per Outbox,
// among the process's background loops (app.StartBackground), stopped
// before the store closes. Without Run, Flush marks each change's frames
// itself.
func (o *Outbox) Run(ctx context.Context) {
	q := &o.marks
	q.mu.Lock()
	if q.running {
		q.mu.Unlock()
		panic("realtime: Outbox.Run called twice")
	}
	q.running, q.wake = true, make(chan struct{}, 1)
	q.mu.Unlock()
	// A round started is finished even when ctx ends meanwhile (each UPDATE
	// is bounded by markTimeout): the ids it took are nowhere else.
	bg := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			q.mu.Lock()
			q.running = false
			q.mu.Unlock()
			o.mark(bg, q.take())
			return
		case <-q.wake:
			o.mark(bg, q.take())
		}
	}
}

// mark sets published_at on ids, markChunk at a time. Failures are logged:
// the relay publishes those rows again.
func (o *Outbox) mark(ctx context.Context, ids []int64) {
	for len(ids) > 0 {
		n := min(len(ids), markChunk)
		if err := o.markNow(ctx, ids[:n]); err != nil {
			o.logger().Error("mark outbox rows published; the relay will publish them again", "rows", n, "err", err)
		}
		ids = ids[n:]
	}
}

// markNow marks ids published with one statement (and no transaction of its
// own). On PostgreSQL the ids go as one array parameter, so the statement
// is the same text (prepared once per connection) whatever their number.
func (o *Outbox) markNow(ctx context.Context, ids []int64) error {
	ctx, cancel := context.WithTimeout(ctx, markTimeout)
	defer cancel()
	db := o.Store.DB.WithContext(ctx)
	var err error
	if o.Store.Dialect == store.Postgres {
		err = db.Exec("UPDATE outbox_events SET published_at = ? WHERE id = ANY(?::bigint[]) AND published_at IS NULL",
			o.Store.Now(), int64Array(ids)).Error
	} else {
		err = db.Exec("UPDATE outbox_events SET published_at = ? WHERE id IN ? AND published_at IS NULL",
			o.Store.Now(), ids).Error
	}
	if err != nil {
		return fmt.Errorf("mark %d outbox rows published: %w", len(ids), err)
	}
	return nil
}

// int64Array is PostgreSQL's text form of a bigint[] ("{1,2,3}").
func int64Array(ids []int64) string {
	var b strings.Builder
	b.Grow(len(ids) * 8)
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte('}')
	return b.String()
}
