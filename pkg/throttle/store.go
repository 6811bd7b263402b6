package throttle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
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

// Log is a Store that also counts one hit on several keys at once and gives
// hits back: the staff console's login limit (pkg/consoleweb) reserves an
// attempt on a client IP + username pair and on the username together,
// before the password is checked, and gives it back when the password was
// right. Memory and Redis are the two implementations; Hit is Take of one key.
type Log interface {
	Store
	// Take counts one hit at now on every key (keys[i] under rates[i]) when
	// each still has room in its window; otherwise it counts none and returns
	// the longest wait. On a Redis Cluster the keys must share a hash slot
	// (tag them with the id they share).
	Take(ctx context.Context, now time.Time, keys []string, rates []Rate) (Decision, error)
	// Untake removes one hit counted at `at` from key (an attempt given back).
	Untake(ctx context.Context, key string, at time.Time) error
	// Reset drops key's hits.
	Reset(ctx context.Context, key string) error
}

var (
	_ Log = (*Memory)(nil)
	_ Log = (*Redis)(nil)
)

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
func (m *Memory) Hit(ctx context.Context, key string, r Rate, now time.Time) (Decision, error) {
	return m.Take(ctx, now, []string{key}, []Rate{r})
}

// Take implements Log. Keys are only ever dropped once their window has
// passed: no burst of other keys resets a cap.
func (m *Memory) Take(_ context.Context, now time.Time, keys []string, rates []Rate) (Decision, error) {
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
		return refused, nil
	}
	for _, l := range logs {
		l.hits = append(l.hits, now)
	}
	return Decision{Allowed: true}, nil
}

// Untake implements Log.
func (m *Memory) Untake(_ context.Context, key string, at time.Time) error {
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
	return nil
}

// Reset implements Log.
func (m *Memory) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.logs, key)
	return nil
}

// Redis is the shared Store: one sorted set per key (member: a unique hit id,
// score: its time in microseconds), trimmed and counted by one script. A Hit
// touches one key, so it runs unchanged on a Redis Cluster; a Take of several
// keys needs them in one slot.
type Redis struct {
	Client redis.UniversalClient
	Prefix string
}

// slidingLog: KEYS the logs; ARGV now (µs), member, then period (µs) and
// limit of each key in turn. Returns {1, 0} when the hit was counted on every
// key, {0, longest wait µs} when a key was full (then it is counted on none).
var slidingLog = redis.NewScript(`
local now = tonumber(ARGV[1])
local wait = 0
for i = 1, #KEYS do
  local period = tonumber(ARGV[1 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[2 + 2 * i]) then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + period - now)
  end
end
if wait > 0 then
  return {0, wait}
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[1 + 2 * i]) / 1000))
end
return {1, 0}
`)

// untakeOne: KEYS[1] the log; ARGV[1] the time (µs) of the hit to remove.
var untakeOne = redis.NewScript(`
local m = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if m[1] then
  redis.call('ZREM', KEYS[1], m[1])
end
return 0
`)

// Hit implements Store.
func (s *Redis) Hit(ctx context.Context, key string, r Rate, now time.Time) (Decision, error) {
	return s.Take(ctx, now, []string{key}, []Rate{r})
}

// Take implements Log.
func (s *Redis) Take(ctx context.Context, now time.Time, keys []string, rates []Rate) (Decision, error) {
	us := now.UnixMicro()
	full := make([]string, len(keys))
	args := make([]any, 0, 2+2*len(keys))
	args = append(args, us, fmt.Sprintf("%d-%s", us, nonce()))
	for i, k := range keys {
		full[i] = s.Prefix + k
		args = append(args, rates[i].Period.Microseconds(), rates[i].N)
	}
	name := strings.Join(keys, " ")
	res, err := slidingLog.Run(ctx, s.Client, full, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("throttle %s: %w", name, err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("throttle %s: unexpected reply %v", name, res)
	}
	if res[0] == 1 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: time.Duration(res[1]) * time.Microsecond}, nil
}

// Untake implements Log.
func (s *Redis) Untake(ctx context.Context, key string, at time.Time) error {
	if err := untakeOne.Run(ctx, s.Client, []string{s.Prefix + key}, at.UnixMicro()).Err(); err != nil {
		return fmt.Errorf("throttle %s: give a hit back: %w", key, err)
	}
	return nil
}

// Reset implements Log.
func (s *Redis) Reset(ctx context.Context, key string) error {
	if err := s.Client.Del(ctx, s.Prefix+key).Err(); err != nil {
		return fmt.Errorf("throttle %s: reset: %w", key, err)
	}
	return nil
}

func nonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
