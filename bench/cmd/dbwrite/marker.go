package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// marker marks the queued rows published as web's Outbox.Run does
// (pkg/realtime/marks.go): a round takes every id queued since the last one
// and marks them with one UPDATE (at most 1,000 ids each), so under load a
// round covers many transactions and at rest it starts at once.
type marker struct {
	pool *pgxpool.Pool
	mu   sync.Mutex
	ids  []int64
	wake chan struct{}
	done chan error
	quit chan struct{}
}

func newMarker(pool *pgxpool.Pool) *marker {
	return &marker{pool: pool, wake: make(chan struct{}, 1), done: make(chan error, 1), quit: make(chan struct{})}
}

func (m *marker) queue(ids ...int64) {
	m.mu.Lock()
	m.ids = append(m.ids, ids...)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *marker) take() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.ids
	m.ids = nil
	return ids
}

func (m *marker) mark(ctx context.Context, ids []int64) error {
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		if _, err := m.pool.Exec(ctx, markSQL, time.Now().UTC().Truncate(time.Microsecond), ids[:n]); err != nil {
			return fmt.Errorf("mark %d rows published: %w", n, err)
		}
		ids = ids[n:]
	}
	return nil
}

// run marks rounds until stop, then what is left; the first failure ends it.
func (m *marker) run(ctx context.Context) {
	for {
		select {
		case <-m.quit:
			m.done <- m.mark(ctx, m.take())
			return
		case <-m.wake:
			if err := m.mark(ctx, m.take()); err != nil {
				m.done <- err
				return
			}
		}
	}
}

// stop marks what is queued and returns the first failure.
func (m *marker) stop() error {
	close(m.quit)
	return <-m.done
}
