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

// keepScript is the atomic once-a-second rule on one user's key.
// KEYS[1] the user's hash; ARGV now (ms), recorded_at (ms), data (JSON),
// ttl (ms from now), min interval (ms).
// Returns {0, data, kept ms} kept (data: the previous location or ""),
// {1, last data, wait ms} too soon, {2, last data, 0} not newer.
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
return {0, cur[3] or '', 0}
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
	res, err := keepScript.Run(ctx, r.c, []string{r.userKey(user)},
		now.UnixMilli(), loc.RecordedAt.UnixMicro(), data, life, MinInterval.Milliseconds()).Slice()
	if err != nil {
		return Result{}, err
	}
	if len(res) != 3 {
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
	c := geo.CellOf(loc.Point())
	entry := strconv.FormatFloat(loc.Latitude, 'f', 6, 64) + "," + strconv.FormatFloat(loc.Longitude, 'f', 6, 64) + "," + strconv.FormatInt(fresh.UnixMilli(), 10)
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
			e, ok := parseEntry(user, v)
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

func parseEntry(user, v string) (cellEntry, bool) {
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		return cellEntry{}, false
	}
	lat, err1 := strconv.ParseFloat(parts[0], 64)
	lng, err2 := strconv.ParseFloat(parts[1], 64)
	ms, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return cellEntry{}, false
	}
	return cellEntry{user: user, p: geo.Point{Lat: lat, Lng: lng}, freshUntil: time.UnixMilli(ms)}, true
}
