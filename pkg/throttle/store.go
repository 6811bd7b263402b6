package throttle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Decision is the answer of a throttle for one request.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until a request would pass (when refused).
	RetryAfter time.Duration
}

// Store keeps the hit history of a key: DRF's SimpleRateThrottle, a sliding
// log of the request times in the last period. Hit records now and allows it
// when fewer than r.N hits remain in (now-r.Period, now]; a refused hit is not
// recorded (as in DRF), and RetryAfter is when the oldest hit leaves the window.
type Store interface {
	Hit(ctx context.Context, key string, r Rate, now time.Time) (Decision, error)
}

// Memory is the in-process Store of local mode.
type Memory struct {
	mu    sync.Mutex
	logs  map[string]*memLog
	sweep time.Time
}

type memLog struct {
	hits   []time.Time
	period time.Duration
}

// NewMemory makes an empty in-process store.
func NewMemory() *Memory { return &Memory{logs: map[string]*memLog{}} }

// memoryMaxKeys bounds the in-process store: past it, keys with no hit left
// in their window are dropped (at most once a second).
const memoryMaxKeys = 100000

// Hit implements Store.
func (m *Memory) Hit(_ context.Context, key string, r Rate, now time.Time) (Decision, error) {
	return m.Take(now, []string{key}, []Rate{r}), nil
}

// Take counts one hit at now on every key at once (keys[i] under rates[i]),
// when each still has room in its window; otherwise it counts none and
// returns the longest wait. The staff console's login limit takes a pair
// (client IP + username) and a username this way, so a refused attempt
// never uses up either. Keys are only ever dropped once their window has
// passed: no burst of other keys resets a cap.
func (m *Memory) Take(now time.Time, keys []string, rates []Rate) Decision {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.logs) >= memoryMaxKeys && now.Sub(m.sweep) > time.Second {
		m.sweep = now
		for k, l := range m.logs {
			if len(l.hits) == 0 || now.Sub(l.hits[len(l.hits)-1]) >= l.period {
				delete(m.logs, k)
			}
		}
	}
	var refused Decision
	logs := make([]*memLog, len(keys))
	for i, key := range keys {
		l := m.logs[key]
		if l == nil {
			l = &memLog{}
			m.logs[key] = l
		}
		r := rates[i]
		l.period = r.Period
		j := 0
		for j < len(l.hits) && now.Sub(l.hits[j]) >= r.Period {
			j++
		}
		l.hits = l.hits[j:]
		if len(l.hits) >= r.N {
			if wait := l.hits[0].Add(r.Period).Sub(now); wait > refused.RetryAfter {
				refused.RetryAfter = wait
			}
		}
		logs[i] = l
	}
	if refused.RetryAfter > 0 {
		return refused
	}
	for _, l := range logs {
		l.hits = append(l.hits, now)
	}
	return Decision{Allowed: true}
}

// Untake removes one hit counted at `at` from key (an attempt given back).
func (m *Memory) Untake(key string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.logs[key]; l != nil {
		for i := range l.hits {
			if l.hits[i].Equal(at) {
				l.hits = append(l.hits[:i:i], l.hits[i+1:]...)
				break
			}
		}
	}
}

// Reset drops key's hits.
func (m *Memory) Reset(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.logs, key)
}

// Redis is the shared Store: one sorted set per key (member: a unique hit id,
// score: its time in microseconds), trimmed and counted by one script. Every
// call touches one key, so it runs unchanged on a Redis Cluster.
type Redis struct {
	Client redis.UniversalClient
	Prefix string
}

// slidingLog: KEYS[1] the log; ARGV now (µs), period (µs), limit, member.
// Returns {1, 0} when allowed, {0, wait µs} when not.
var slidingLog = redis.NewScript(`
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + period - now}
`)

// Hit implements Store.
func (s *Redis) Hit(ctx context.Context, key string, r Rate, now time.Time) (Decision, error) {
	us := now.UnixMicro()
	res, err := slidingLog.Run(ctx, s.Client, []string{s.Prefix + key},
		us, r.Period.Microseconds(), r.N, fmt.Sprintf("%d-%s", us, nonce())).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("throttle %s: %w", key, err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("throttle %s: unexpected reply %v", key, res)
	}
	if res[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: time.Duration(res[1]) * time.Microsecond}, nil
}

func nonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
