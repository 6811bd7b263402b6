package track

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/location"
	"hermez/pkg/store"
)

// shards spread the drivers' keys and the point queues over a cluster's
// masters: a driver's hash and the queue its points go to share a hash tag,
// so the sampling script touches one slot.
const shards = 16

// redisIndex is the index on Redis (one or a cluster), under prefix:
//
//	<prefix>track:{t<n>}:d:<driver>  hash: a:<delivery> = Active (JSON), s:<delivery> = "<µs>,<lat>,<lng>" (last sampled point)
//	<prefix>track:{t<n>}:q           list of queued points "<delivery>,<µs>,<lat>,<lng>"
//
// with n = fnv32(driver) mod 16.
type redisIndex struct {
	c      redis.UniversalClient
	prefix string
}

func shardOf(driver string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(driver))
	return int(h.Sum32() % shards)
}

func (r *redisIndex) driverKey(driver string) string {
	return r.prefix + "track:{t" + strconv.Itoa(shardOf(driver)) + "}:d:" + driver
}
func (r *redisIndex) queueKey(n int) string { return r.prefix + "track:{t" + strconv.Itoa(n) + "}:q" }

// driverTTL bounds an idle driver's hash (its entries carry their own Until).
const driverTTL = 24 * time.Hour

func (r *redisIndex) put(ctx context.Context, driver string, a Active) error {
	k := r.driverKey(driver)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "a:"+a.Delivery, jsonActive(a))
		p.PExpire(ctx, k, driverTTL)
		return nil
	})
	return err
}

func (r *redisIndex) putMany(ctx context.Context, es []driverActive) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range es {
			k := r.driverKey(e.driver)
			p.HSet(ctx, k, "a:"+e.a.Delivery, jsonActive(e.a))
			p.PExpire(ctx, k, driverTTL)
		}
		return nil
	})
	return err
}

// readyKey marks an index filled by a refresh: a Redis that restarted empty
// has none, and every process refreshes at once (Run checks it twice a second).
func (r *redisIndex) readyKey() string { return r.prefix + "track:ready" }

func (r *redisIndex) ready(ctx context.Context) (bool, error) {
	n, err := r.c.Exists(ctx, r.readyKey()).Result()
	return n == 1, err
}

func (r *redisIndex) markReady(ctx context.Context) error {
	return r.c.Set(ctx, r.readyKey(), "1", 0).Err()
}

var endScript = redis.NewScript(`
local s = redis.call('HGET', KEYS[1], 's:' .. ARGV[1])
redis.call('HDEL', KEYS[1], 'a:' .. ARGV[1], 's:' .. ARGV[1])
return s or ''
`)

func (r *redisIndex) end(ctx context.Context, driver, delivery string) (time.Time, error) {
	s, err := endScript.Run(ctx, r.c, []string{r.driverKey(driver)}, delivery).Text()
	if err != nil || s == "" {
		return time.Time{}, err
	}
	us, _, _ := strings.Cut(s, ",")
	v, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("last sampled point %q: %w", s, err)
	}
	return time.UnixMicro(v).UTC(), nil
}

// observeScript: KEYS driver hash, shard queue; ARGV recorded µs, lat, lng
// (6 decimals), now ms, every µs, meters. Returns {active JSON, "0"|"1", …}.
var observeScript = redis.NewScript(`
local all = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #all, 2 do h[all[i]] = all[i + 1] end
local t, lat, lng = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now, every, meters = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
for f, v in pairs(h) do
  if string.sub(f, 1, 2) == 'a:' then
    local id = string.sub(f, 3)
    local a = cjson.decode(v)
    if tonumber(a['x']) <= now then
      redis.call('HDEL', KEYS[1], f, 's:' .. id)
    else
      local take = '0'
      local s = h['s:' .. id]
      if not s then
        take = '1'
      else
        local st, sa, so = string.match(s, '^([^,]+),([^,]+),([^,]+)$')
        st, sa, so = tonumber(st), tonumber(sa), tonumber(so)
        if t > st then
          if t - st >= every then
            take = '1'
          else
            local r = math.pi / 180
            local dl, dg = (lat - sa) * r, (lng - so) * r
            local x = math.sin(dl / 2) ^ 2 + math.cos(sa * r) * math.cos(lat * r) * math.sin(dg / 2) ^ 2
            if 2 * 6371008.8 * math.asin(math.min(1, math.sqrt(x))) > meters then take = '1' end
          end
        end
      end
      if take == '1' then
        local p = ARGV[1] .. ',' .. ARGV[2] .. ',' .. ARGV[3]
        redis.call('HSET', KEYS[1], 's:' .. id, p)
        redis.call('RPUSH', KEYS[2], id .. ',' .. p)
      end
      out[#out + 1] = v
      out[#out + 1] = take
    end
  end
end
return out
`)

func (r *redisIndex) observe(ctx context.Context, driver string, loc location.Location, nowMs int64, every time.Duration, meters float64) ([]Seen, error) {
	res, err := observeScript.Run(ctx, r.c, []string{r.driverKey(driver), r.queueKey(shardOf(driver))},
		loc.RecordedAt.UnixMicro(), strconv.FormatFloat(loc.Latitude, 'f', 6, 64), strconv.FormatFloat(loc.Longitude, 'f', 6, 64),
		nowMs, every.Microseconds(), meters).StringSlice()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]Seen, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		var s Seen
		if err := json.Unmarshal([]byte(res[i]), &s.Active); err != nil {
			return nil, fmt.Errorf("tracked delivery entry: %w", err)
		}
		s.Sampled = res[i+1] == "1"
		out = append(out, s)
	}
	return out, nil
}

func (r *redisIndex) list(ctx context.Context, driver string, nowMs int64) ([]Active, error) {
	m, err := r.c.HGetAll(ctx, r.driverKey(driver)).Result()
	if err != nil {
		return nil, err
	}
	var out []Active
	for f, v := range m {
		if !strings.HasPrefix(f, "a:") {
			continue
		}
		var a Active
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			return nil, fmt.Errorf("tracked delivery entry: %w", err)
		}
		if a.Until > nowMs {
			out = append(out, a)
		}
	}
	return out, nil
}

func (r *redisIndex) pop(ctx context.Context, n int) ([]store.TrackPoint, error) {
	cmds := make([]*redis.StringSliceCmd, shards)
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.LPopCount(ctx, r.queueKey(i), n)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []store.TrackPoint
	for _, c := range cmds {
		for _, s := range c.Val() {
			p, err := decodePoint(s)
			if err != nil {
				continue // not ours to keep: dropped
			}
			out = append(out, p)
		}
	}
	return out, nil
}

func (r *redisIndex) push(ctx context.Context, ps []store.TrackPoint) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pt := range ps {
			// Any shard: the drainer pops them all.
			p.RPush(ctx, r.queueKey(0), encodePoint(pt))
		}
		return nil
	})
	return err
}
