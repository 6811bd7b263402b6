package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Runner runs the periodic jobs of the realtime side: the outbox relay (every
// RelayEvery), the expiry sweep (every SweepEvery) and the retention purge
// (every 10 minutes), one runner at a time
// across replicas (Lock), never two passes of this process at once.
type Runner struct {
	Outbox     *realtime.Outbox
	RelayEvery time.Duration // default 1 s
	SweepEvery time.Duration // EXPIRE_INTERVAL_SECONDS
	// Sweep removes expired quotes and offers ((*market.Service).Expire
	// adapted to this signature); nil: no sweep yet. Set it before Run.
	Sweep func(ctx context.Context) error
	// Purge applies the bookkeeping tables' retention (see app.Purge); nil:
	// none.
	Purge func(ctx context.Context) error
	Lock  Locker
	Log   *slog.Logger

	mu sync.Mutex
}

// Locker takes a lock shared by every replica, without waiting.
type Locker interface {
	// TryLock returns ok=false when another replica holds it; unlock releases it.
	TryLock(ctx context.Context) (unlock func(), ok bool, err error)
}

// NewLocker picks the cross-replica lock: a PostgreSQL advisory lock, else a
// Redis lock with expiry, else none (one process on SQLite).
func NewLocker(st *store.Store, rdb redis.UniversalClient, name string) Locker {
	switch {
	case st != nil && st.Dialect == store.Postgres:
		return &PGLock{Store: st, Key: lockKey(name)}
	case rdb != nil:
		return &RedisLock{Client: rdb, Key: name, TTL: time.Minute}
	default:
		return noLock{}
	}
}

func lockKey(name string) int64 {
	// FNV-1a of the name: a stable advisory lock key of our own.
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return int64(h)
}

// PGLock is pg_try_advisory_lock on a connection of its own, held for one pass.
type PGLock struct {
	Store *store.Store
	Key   int64
}

// TryLock implements Locker.
func (l *PGLock) TryLock(ctx context.Context) (func(), bool, error) {
	conn, err := l.Store.SQL().Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock connection: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", l.Key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("pg_try_advisory_lock: %w", err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", l.Key)
		conn.Close()
	}, true, nil
}

// RedisLock is SET NX PX with a random token, released only by its holder.
// One key, so on a cluster it lives on one slot's master (no hash tag needed).
type RedisLock struct {
	Client redis.UniversalClient
	Key    string
	TTL    time.Duration
}

var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

// TryLock implements Locker.
func (l *RedisLock) TryLock(ctx context.Context) (func(), bool, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	ok, err := l.Client.SetNX(ctx, l.Key, tok, l.TTL).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redis lock: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = unlockScript.Run(uctx, l.Client, []string{l.Key}, tok).Err()
	}, true, nil
}

type noLock struct{}

func (noLock) TryLock(context.Context) (func(), bool, error) { return func() {}, true, nil }

// Run ticks until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	relayEvery, sweepEvery := r.RelayEvery, r.SweepEvery
	if relayEvery <= 0 {
		relayEvery = time.Second
	}
	if sweepEvery <= 0 {
		sweepEvery = 30 * time.Second
	}
	relay := time.NewTicker(relayEvery)
	defer relay.Stop()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	purge := time.NewTicker(10 * time.Minute)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-relay.C:
			r.RelayOnce(ctx)
		case <-sweep.C:
			r.SweepOnce(ctx)
		case <-purge.C:
			if r.Purge != nil {
				_, _ = r.locked(ctx, "purge", r.Purge)
			}
		}
	}
}

// RelayOnce republishes outbox rows left unpublished (older than 2 s).
func (r *Runner) RelayOnce(ctx context.Context) {
	if r.Outbox == nil {
		return
	}
	ran, err := r.locked(ctx, "relay", func(ctx context.Context) error {
		n, err := r.Outbox.Relay(ctx, 2*time.Second, 500)
		if n > 0 {
			r.logger().Info("outbox relay republished frames", "frames", n)
		}
		return err
	})
	switch {
	case err != nil:
		metrics.RelayRuns.WithLabelValues("error").Inc()
	case ran:
		metrics.RelayRuns.WithLabelValues("ok").Inc()
	default:
		metrics.RelayRuns.WithLabelValues("skipped").Inc()
	}
}

// SweepOnce runs the expiry sweep.
func (r *Runner) SweepOnce(ctx context.Context) {
	if r.Sweep == nil {
		return
	}
	ran, err := r.locked(ctx, "sweep", r.Sweep)
	switch {
	case err != nil:
		metrics.SweeperRuns.WithLabelValues("error").Inc()
	case ran:
		metrics.SweeperRuns.WithLabelValues("ok").Inc()
	default:
		metrics.SweeperRuns.WithLabelValues("skipped").Inc()
	}
}

// locked runs fn holding the process mutex and the cross-replica lock; ran is
// false when another replica holds it.
func (r *Runner) locked(ctx context.Context, job string, fn func(context.Context) error) (ran bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lock := r.Lock
	if lock == nil {
		lock = noLock{}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unlock, ok, err := lock.TryLock(ctx)
	if err != nil {
		r.logger().Warn("periodic job lock", "job", job, "err", err)
		return false, err
	}
	if !ok {
		return false, nil
	}
	defer unlock()
	if err := fn(ctx); err != nil {
		r.logger().Error("periodic job failed", "job", job, "err", err)
		return true, err
	}
	return true, nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}
