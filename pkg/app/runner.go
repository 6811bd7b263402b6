package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/market"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Runner runs the periodic jobs of the realtime side: the outbox relay (every
// RelayEvery), the expiry sweep (every SweepEvery) and the retention purge
// (every 10 minutes), one runner at a time across replicas (Lock: on
// PostgreSQL a lease its holder keeps while it lives, see PGLease), never two
// passes of this process at once.
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
	// AutoAccept runs the due automatic accepts of the lowest offer
	// ((*market.Service).AutoAcceptDue adapted; place.md §7) every
	// AutoAcceptEvery (default market.AutoAcceptTick), in every replica at
	// once — not under Lock: each quote is taken with a row lock (SKIP
	// LOCKED), so each fires once whatever the number of runners. nil: none.
	AutoAccept      func(ctx context.Context) error
	AutoAcceptEvery time.Duration
	// Nearby publishes the changed nearby_drivers counts (place.md §5;
	// NearbyJob) every NearbyEvery (NEARBY_INTERVAL_SECONDS), under Lock:
	// one pass across replicas, so at most one frame per quote per interval.
	// nil: none.
	Nearby      func(ctx context.Context) error
	NearbyEvery time.Duration
	Lock        Locker
	Log         *slog.Logger

	mu sync.Mutex
}

// Locker takes a lock shared by every replica, without waiting.
type Locker interface {
	// TryLock returns ok=false when another replica holds it; unlock ends
	// the pass (a lease stays with its holder until it expires or is
	// released).
	TryLock(ctx context.Context) (unlock func(), ok bool, err error)
}

// leaser is a Locker held for a time without its holder: the runner renews it
// during a long pass and releases it when it stops.
type leaser interface {
	Locker
	// Renew extends the lease; ok=false when this process no longer holds it.
	Renew(ctx context.Context) (ok bool, err error)
	// Release lets another replica take the lease at once.
	Release(ctx context.Context) error
	// LeaseTTL is how long the lease lasts without renewal.
	LeaseTTL() time.Duration
}

// DefaultLeaseTTL is RUNNER_LEASE_SECONDS' default.
const DefaultLeaseTTL = 15 * time.Second

// NewLocker picks the cross-replica lock: a PostgreSQL lease row (TTL
// DefaultLeaseTTL), else a Redis lock with expiry, else none (one process on
// SQLite).
func NewLocker(st *store.Store, rdb redis.UniversalClient, name string) Locker {
	return newLocker(st, rdb, name, DefaultLeaseTTL)
}

func newLocker(st *store.Store, rdb redis.UniversalClient, name string, ttl time.Duration) Locker {
	switch {
	case st != nil && st.Dialect == store.Postgres:
		return &PGLease{Store: st, Name: name, Holder: leaseHolder(), TTL: ttl}
	case rdb != nil:
		return &RedisLock{Client: rdb, Key: name, TTL: time.Minute}
	default:
		return noLock{}
	}
}

// leaseHolder names this process in runner_leases: host, pid and a random
// part (two processes of one host and pid — containers — stay apart).
func leaseHolder() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// PGLease is a row of runner_leases (migration 00009): taken when it is free,
// expired or already this holder's, in one statement, so it works through a
// transaction-mode pooler (PgBouncer), where a session advisory lock does not
// (its unlock may run on another server connection, and the lock stays with a
// server connection other clients then use). The holder keeps it between
// passes by taking it again (each relay tick, every second); one that dies
// (kill -9, a lost network) is replaced by another within TTL. Expiry is read
// on the database's clock, the one clock every replica shares.
type PGLease struct {
	Store  *store.Store
	Name   string
	Holder string
	TTL    time.Duration
}

// take inserts or extends the row when it is free, expired or ours.
func (l *PGLease) take(ctx context.Context) (bool, error) {
	var holder string
	err := l.Store.SQL().QueryRowContext(ctx, `
		INSERT INTO runner_leases (name, holder, expires_at)
		VALUES ($1::text, $2::text, now() + $3::bigint * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
		WHERE runner_leases.holder = EXCLUDED.holder OR runner_leases.expires_at < now()
		RETURNING holder`, l.Name, l.Holder, l.TTL.Milliseconds()).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("runner lease %s: %w", l.Name, err)
	}
	return true, nil
}

// TryLock implements Locker: it takes or renews the lease.
func (l *PGLease) TryLock(ctx context.Context) (func(), bool, error) {
	ok, err := l.take(ctx)
	if err != nil || !ok {
		return nil, false, err
	}
	return func() {}, true, nil
}

// Renew extends the lease while this process holds it.
func (l *PGLease) Renew(ctx context.Context) (bool, error) { return l.take(ctx) }

// Release ends this process's lease.
func (l *PGLease) Release(ctx context.Context) error {
	if _, err := l.Store.SQL().ExecContext(ctx, `DELETE FROM runner_leases WHERE name = $1::text AND holder = $2::text`, l.Name, l.Holder); err != nil {
		return fmt.Errorf("release runner lease %s: %w", l.Name, err)
	}
	return nil
}

// LeaseTTL implements leaser.
func (l *PGLease) LeaseTTL() time.Duration { return l.TTL }

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
	var nearbyC <-chan time.Time
	if r.Nearby != nil {
		every := r.NearbyEvery
		if every <= 0 {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		nearbyC = t.C
	}
	if r.AutoAccept != nil {
		// Its own loop: a slow relay or sweep never delays an accept.
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { r.autoAcceptLoop(ctx) })
	}
	for {
		select {
		case <-ctx.Done():
			r.release()
			return
		case <-relay.C:
			r.RelayOnce(ctx)
		case <-sweep.C:
			r.SweepOnce(ctx)
		case <-purge.C:
			if r.Purge != nil {
				_, _ = r.locked(ctx, "purge", r.Purge)
			}
		case <-nearbyC:
			r.NearbyOnce(ctx)
		}
	}
}

func (r *Runner) autoAcceptLoop(ctx context.Context) {
	every := r.AutoAcceptEvery
	if every <= 0 {
		every = market.AutoAcceptTick
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.AutoAccept(ctx); err != nil && ctx.Err() == nil {
				r.logger().Error("automatic accept of the lowest offer failed; retried next tick", "err", err)
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

// NearbyOnce runs the nearby_drivers pass when this replica holds the lock;
// ran is false when another one does (or there is no pass).
func (r *Runner) NearbyOnce(ctx context.Context) (ran bool) {
	if r.Nearby == nil {
		return false
	}
	ran, _ = r.locked(ctx, "nearby", r.Nearby)
	return ran
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
	if l, ok := lock.(leaser); ok {
		var stop func()
		ctx, stop = r.keepLease(ctx, job, l)
		defer stop()
	}
	if err := fn(ctx); err != nil {
		r.logger().Error("periodic job failed", "job", job, "err", err)
		return true, err
	}
	return true, nil
}

// keepLease renews l every third of its TTL while a pass runs; the pass's
// context ends when the lease was lost (another replica holds it) or could
// not be renewed for a whole TTL (another may hold it by now).
func (r *Runner) keepLease(ctx context.Context, job string, l leaser) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ttl := l.LeaseTTL()
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		renewed := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ok, err := l.Renew(ctx)
			switch {
			case err == nil && ok:
				renewed = time.Now()
				continue
			case err == nil:
				r.logger().Error("runner lease lost during a pass: stopping it", "job", job)
			case time.Since(renewed) < ttl:
				r.logger().Warn("runner lease not renewed", "job", job, "err", err)
				continue
			default:
				r.logger().Error("runner lease not renewed for its whole TTL: stopping the pass", "job", job, "err", err)
			}
			cancel()
			return
		}
	}()
	return ctx, func() {
		cancel()
		<-done
	}
}

// release gives up the lease (if the lock is one) when the runner stops, so
// another replica takes over at its next tick instead of after the TTL.
func (r *Runner) release() {
	l, ok := r.Lock.(leaser)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Release(ctx); err != nil {
		r.logger().Warn("runner lease not released: another replica takes over when it expires", "err", err, "ttl", l.LeaseTTL().String())
	}
}

func (r *Runner) logger() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}
