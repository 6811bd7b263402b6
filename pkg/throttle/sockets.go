package throttle

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sockets caps the concurrent WebSockets of one user across every worker
// (WS_MAX_SOCKETS_PER_USER). With Redis, each user has a sorted set of socket
// ids scored by expiry; the worker that holds a socket pushes its expiry
// forward every Heartbeat, so the sockets of a worker that dies stop counting
// within TTL (45 s by default) and no user stays locked out by a crash.
// Without Redis (local mode) the count is this process's.
type Sockets struct {
	Max    int                   // 0 disables the cap
	Client redis.UniversalClient // nil: in-process
	Prefix string
	Log    *slog.Logger
	// TTL and Heartbeat default to 45 s and 15 s.
	TTL, Heartbeat time.Duration
	// Now is the clock of the expiry scores (time.Now when nil). Every
	// worker sharing the Redis must read the same clock.
	Now func() time.Time

	once   sync.Once
	worker string
	seq    atomic.Uint64
	mu     sync.Mutex
	live   map[string]map[string]struct{} // user → ids of this process's sockets
}

const (
	defaultSocketTTL       = 45 * time.Second
	defaultSocketHeartbeat = 15 * time.Second
)

func (s *Sockets) init() {
	s.once.Do(func() {
		s.worker = nonce()
		s.live = map[string]map[string]struct{}{}
		if s.TTL <= 0 {
			s.TTL = defaultSocketTTL
		}
		if s.Heartbeat <= 0 {
			s.Heartbeat = defaultSocketHeartbeat
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
		if s.Now == nil {
			s.Now = time.Now
		}
	})
}

func (s *Sockets) key(user string) string { return s.Prefix + "sockets:" + user }

// acquireSocket: KEYS[1] the user's set; ARGV now (ms), expiry (ms), max,
// member, key ttl (ms). 1 when the socket was added, 0 when the user is at max.
var acquireSocket = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`)

// Acquire counts a new socket of user. ok is false when the user already has
// Max sockets open (the caller closes the new one with 4429); release must be
// called when an accepted socket ends. A Redis failure lets the socket in
// (logged and counted in hermez_throttle_decisions_total{outcome="error"}).
func (s *Sockets) Acquire(ctx context.Context, user string) (release func(), ok bool) {
	if s == nil || s.Max <= 0 {
		return func() {}, true
	}
	s.init()
	id := s.worker + ":" + strconv.FormatUint(s.seq.Add(1), 36)
	s.mu.Lock()
	if s.Client == nil && len(s.live[user]) >= s.Max {
		s.mu.Unlock()
		Decisions.WithLabelValues(ScopeSockets, "throttled").Inc()
		return nil, false
	}
	if s.Client != nil {
		s.mu.Unlock()
		now := s.Now()
		ctx, cancel := context.WithTimeout(ctx, storeTimeout)
		added, err := acquireSocket.Run(ctx, s.Client, []string{s.key(user)}, now.UnixMilli(),
			now.Add(s.TTL).UnixMilli(), s.Max, id, s.TTL.Milliseconds()).Int()
		cancel()
		switch {
		case err != nil:
			Decisions.WithLabelValues(ScopeSockets, "error").Inc()
			s.Log.Error("socket cap store unavailable: socket let through", "user", user, "err", err)
		case added == 0:
			Decisions.WithLabelValues(ScopeSockets, "throttled").Inc()
			return nil, false
		}
		s.mu.Lock()
	}
	Decisions.WithLabelValues(ScopeSockets, "allowed").Inc()
	if s.live[user] == nil {
		s.live[user] = map[string]struct{}{}
	}
	s.live[user][id] = struct{}{}
	s.mu.Unlock()
	var done atomic.Bool
	return func() {
		if done.Swap(true) {
			return
		}
		s.release(user, id)
	}, true
}

func (s *Sockets) release(user, id string) {
	s.mu.Lock()
	delete(s.live[user], id)
	if len(s.live[user]) == 0 {
		delete(s.live, user)
	}
	s.mu.Unlock()
	if s.Client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.Client.ZRem(ctx, s.key(user), id).Err(); err != nil {
		s.Log.Warn("socket cap: release failed (the entry expires by itself)", "user", user, "err", err)
	}
}

// Count is the user's sockets as the cap sees them (tests, diagnostics).
func (s *Sockets) Count(ctx context.Context, user string) (int, error) {
	s.init()
	if s.Client == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.live[user]), nil
	}
	n, err := s.Client.ZCount(ctx, s.key(user), strconv.FormatInt(s.Now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("count sockets of %s: %w", user, err)
	}
	return int(n), nil
}

// Run refreshes the expiry of this process's sockets every Heartbeat until
// ctx ends (Redis only).
func (s *Sockets) Run(ctx context.Context) {
	if s == nil || s.Max <= 0 || s.Client == nil {
		return
	}
	s.init()
	t := time.NewTicker(s.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.refresh(ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn("socket cap heartbeat failed", "err", err)
			}
		}
	}
}

func (s *Sockets) refresh(ctx context.Context) error {
	s.mu.Lock()
	snapshot := make(map[string][]string, len(s.live))
	for user, ids := range s.live {
		for id := range ids {
			snapshot[user] = append(snapshot[user], id)
		}
	}
	s.mu.Unlock()
	if len(snapshot) == 0 {
		return nil
	}
	exp := float64(s.Now().Add(s.TTL).UnixMilli())
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// One key per command: a cluster client splits the pipeline by slot.
	_, err := s.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for user, ids := range snapshot {
			zs := make([]redis.Z, len(ids))
			for i, id := range ids {
				zs[i] = redis.Z{Score: exp, Member: id}
			}
			// XX: only sockets still recorded (a socket released since the
			// snapshot must not come back).
			p.ZAddXX(ctx, s.key(user), zs...)
			p.PExpire(ctx, s.key(user), s.TTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("refresh socket expiries: %w", err)
	}
	return nil
}
