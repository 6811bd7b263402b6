package location

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/geo"
)

// NewRedis is the shared store on one Redis or a Redis Cluster (client is
// either), under prefix (the process's REDIS_PREFIX).
func NewRedis(client redis.UniversalClient, prefix string, ttl time.Duration, now func() time.Time) *Store {
	return newStore(&redisBackend{c: client, prefix: prefix}, ttl, now)
}

type redisBackend struct {
	c      redis.UniversalClient
	prefix string
}

// userKey carries the user in a hash tag: one slot per user on a cluster.
func (r *redisBackend) userKey(user string) string { return r.prefix + "loc:{" + user + "}" }
func (r *redisBackend) cellKey(c geo.Cell) string  { return r.prefix + "loccell:" + c.String() }

// availKey is the user's availability mark ("1" or "0"), in the user's slot.
func (r *redisBackend) availKey(user string) string { return r.prefix + "locavail:{" + user + "}" }

// keepScript is the atomic once-a-second rule on one user's key.
// KEYS[1] the user's hash, KEYS[2] their availability mark (same slot);
// ARGV now (ms), recorded_at (ms), data (JSON), ttl (ms from now), min
// interval (ms), the caller's availability hint ("1"/"0"), the mark's TTL (ms).
// Returns {0, data, 0, mark} kept (data: the previous location or ""; mark:
// the stored mark, else the hint, now stored), {1, last data, wait ms} too
// soon, {2, last data, 0} not newer.
var keepScript = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'k', 't', 'd')
local now = tonumber(ARGV[1])
if cur[1] then
  local wait = tonumber(cur[1]) + tonumber(ARGV[5]) - now
  if wait > 0 then return {1, cur[3], wait} end
  if tonumber(ARGV[2]) <= tonumber(cur[2]) then return {2, cur[3], 0} end
end
redis.call('HSET', KEYS[1], 'k', ARGV[1], 't', ARGV[2], 'd', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local a = redis.call('GET', KEYS[2])
if a then
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
else
  a = ARGV[6]
  redis.call('SET', KEYS[2], a, 'PX', ARGV[7])
end
return {0, cur[3] or '', 0, a}
`)

func (r *redisBackend) set(ctx context.Context, user string, loc Location, now time.Time, ttl time.Duration) (Result, error) {
	data, err := json.Marshal(loc)
	if err != nil {
		return Result{}, err
	}
	fresh := loc.FreshUntil(ttl)
	life := fresh.Sub(now).Milliseconds()
	if life <= 0 {
		return Result{Outcome: NotNewer, Last: loc}, nil // Parse refuses these
	}
	// recorded_at in µs: two updates within one millisecond still order.
	hint := "0"
	if loc.Available {
		hint = "1"
	}
	res, err := keepScript.Run(ctx, r.c, []string{r.userKey(user), r.availKey(user)},
		now.UnixMilli(), loc.RecordedAt.UnixMicro(), data, life, MinInterval.Milliseconds(), hint, AvailabilityTTL.Milliseconds()).Slice()
	if err != nil {
		return Result{}, err
	}
	if len(res) < 3 {
		return Result{}, fmt.Errorf("unexpected reply %v", res)
	}
	code, _ := res[0].(int64)
	prevData, _ := res[1].(string)
	var prev *Location
	if prevData != "" {
		var p Location
		if err := json.Unmarshal([]byte(prevData), &p); err != nil {
			return Result{}, fmt.Errorf("stored location: %w", err)
		}
		prev = &p
	}
	switch code {
	case 1:
		wait, _ := res[2].(int64)
		return Result{Outcome: TooSoon, Last: deref(prev, loc), RetryAfter: time.Duration(wait) * time.Millisecond}, nil
	case 2:
		return Result{Outcome: NotNewer, Last: deref(prev, loc)}, nil
	}
	// Kept: index it in its cell (and out of the previous one). Best effort
	// after the user's key: readers check each entry's freshness.
	if len(res) == 4 {
		mark, _ := res[3].(string)
		loc.Available = mark == "1"
	}
	c := geo.CellOf(loc.Point())
	entry := cellValue(loc, fresh)
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if prev != nil {
			if pc := geo.CellOf(prev.Point()); pc != c {
				p.HDel(ctx, r.cellKey(pc), user)
			}
		}
		p.HSet(ctx, r.cellKey(c), user, entry)
		// An idle cell's hash ends with its last entry's freshness.
		p.PExpire(ctx, r.cellKey(c), ttl+MaxFuture+time.Minute)
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("index the location: %w", err)
	}
	return Result{Outcome: Kept, Last: loc}, nil
}

// cellValue is a user's entry in their cell: "<lat>,<lng>,<fresh until ms>,<1|0 available>".
func cellValue(loc Location, fresh time.Time) string {
	a := ",0"
	if loc.Available {
		a = ",1"
	}
	return strconv.FormatFloat(loc.Latitude, 'f', 6, 64) + "," + strconv.FormatFloat(loc.Longitude, 'f', 6, 64) + "," + strconv.FormatInt(fresh.UnixMilli(), 10) + a
}

// setIfThereScript rewrites a user's cell entry only while it is there (a
// concurrent move deletes it from the old cell: never put it back).
var setIfThereScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`)

func (r *redisBackend) setAvailable(ctx context.Context, user string, available bool, now time.Time, ttl time.Duration) error {
	mark := "0"
	if available {
		mark = "1"
	}
	if err := r.c.Set(ctx, r.availKey(user), mark, AvailabilityTTL).Err(); err != nil {
		return err
	}
	l, err := r.get(ctx, user)
	if err != nil || l == nil {
		return err
	}
	fresh := l.FreshUntil(ttl)
	if !now.Before(fresh) {
		return nil
	}
	l.Available = available
	return setIfThereScript.Run(ctx, r.c, []string{r.cellKey(geo.CellOf(l.Point()))}, user, cellValue(*l, fresh)).Err()
}

func deref(p *Location, def Location) Location {
	if p == nil {
		return def
	}
	return *p
}

func (r *redisBackend) get(ctx context.Context, user string) (*Location, error) {
	data, err := r.c.HGet(ctx, r.userKey(user), "d").Result()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Location
	if err := json.Unmarshal([]byte(data), &l); err != nil {
		return nil, fmt.Errorf("stored location: %w", err)
	}
	return &l, nil
}

func (r *redisBackend) forget(ctx context.Context, user string) error {
	l, err := r.get(ctx, user)
	if err != nil {
		return err
	}
	if l != nil {
		if err := r.c.HDel(ctx, r.cellKey(geo.CellOf(l.Point())), user).Err(); err != nil {
			return err
		}
	}
	if err := r.c.Del(ctx, r.availKey(user)).Err(); err != nil {
		return err
	}
	return r.c.Del(ctx, r.userKey(user)).Err()
}

func (r *redisBackend) inCells(ctx context.Context, cells []geo.Cell, now time.Time) ([]cellEntry, error) {
	cmds := make([]*redis.MapStringStringCmd, len(cells))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range cells {
			cmds[i] = p.HGetAll(ctx, r.cellKey(c))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []cellEntry
	stale := map[geo.Cell][]string{}
	for i, cmd := range cmds {
		for user, v := range cmd.Val() {
			e, ok := parseEntry(cells[i], user, v)
			if !ok || !now.Before(e.freshUntil) {
				stale[cells[i]] = append(stale[cells[i]], user)
				continue
			}
			out = append(out, e)
		}
	}
	if len(stale) > 0 {
		_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for c, users := range stale {
				p.HDel(ctx, r.cellKey(c), users...)
			}
			return nil
		})
	}
	return out, nil
}

// parseEntry reads a cell entry (cellValue; one written without the
// availability field reads as not available).
func parseEntry(c geo.Cell, user, v string) (cellEntry, bool) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 && len(parts) != 4 {
		return cellEntry{}, false
	}
	lat, err1 := strconv.ParseFloat(parts[0], 64)
	lng, err2 := strconv.ParseFloat(parts[1], 64)
	ms, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return cellEntry{}, false
	}
	return cellEntry{cell: c, user: user, p: geo.Point{Lat: lat, Lng: lng}, freshUntil: time.UnixMilli(ms), available: len(parts) == 4 && parts[3] == "1"}, true
}
