package consoleweb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// loginLimiter takes one login attempt before the password is checked
// (reserve) and settles it afterwards (done): the per-process limiter, or the
// one every web instance shares through Redis.
type loginLimiter interface {
	reserve(ip, username string) (blocked bool, wait time.Duration, done func(ok bool))
}

// redisLoginLimiter is the login limit shared by every web instance: one
// sorted set of failure times per client IP + username and one per username,
// checked and added to by one script. The two keys of a username share a
// hash tag ({username}) so the script runs on a Redis Cluster too: they must
// live in one slot to be reserved together. A Redis failure falls back to
// the per-process limiter (logged): the console stays usable and guesses
// stay limited.
type redisLoginLimiter struct {
	client   redis.UniversalClient
	prefix   string
	window   time.Duration
	perPair  int
	perUser  int
	fallback *limiter
	log      *slog.Logger
}

// reserveLogin: KEYS[1] the pair's failures, KEYS[2] the username's (one
// slot); ARGV now (µs), window (µs), perPair, perUser, member. {1, 0} when
// reserved, {0, wait µs} when a cap is reached.
var reserveLogin = redis.NewScript(`
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
for i, cap in ipairs({tonumber(ARGV[3]), tonumber(ARGV[4])}) do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win)
  if redis.call('ZCARD', KEYS[i]) >= cap then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {0, tonumber(oldest[2]) + win - now}
  end
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[i], math.ceil(win / 1000))
end
return {1, 0}
`)

// maxKeyUsername bounds the username in a key (no account has a longer one).
const maxKeyUsername = 150

func (l *redisLoginLimiter) keys(ip, username string) (pair, user string) {
	u := strings.ToLower(strings.TrimSpace(username))
	if len(u) > maxKeyUsername {
		u = u[:maxKeyUsername]
	}
	base := l.prefix + "login:{" + u + "}:"
	return base + "p:" + ip, base + "u"
}

func (l *redisLoginLimiter) reserve(ip, username string) (bool, time.Duration, func(ok bool)) {
	pair, user := l.keys(ip, username)
	var b [8]byte
	_, _ = rand.Read(b[:])
	member := hex.EncodeToString(b[:])
	t := now()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := reserveLogin.Run(ctx, l.client, []string{pair, user}, t.UnixMicro(), l.window.Microseconds(),
		l.perPair, l.perUser, member).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		l.log.Error("staff login limit: Redis unavailable, limiting in this process", "err", err)
		return l.fallback.reserve(ip, username)
	}
	if res[0] == 0 {
		return true, time.Duration(res[1]) * time.Microsecond, nil
	}
	return false, 0, func(ok bool) {
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if _, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, pair)
			p.ZRem(ctx, user, member)
			return nil
		}); err != nil {
			l.log.Warn("staff login limit: clearing after a good login failed", "err", err)
		}
	}
}
