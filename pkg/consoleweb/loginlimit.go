package consoleweb

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/throttle"
)

// limiter is the staff login limit: failed logins in a sliding window, per
// client IP + username and (a backstop against rotating IPs) per username.
// The sliding log is pkg/throttle's: throttle.Redis when the web has Redis
// (shared by every web instance), else throttle.Memory; a Redis failure
// falls back to an in-process log (logged), so the console stays usable and
// guesses stay limited. Keys leave a log only once their window has passed,
// so guesses spread over many usernames never reset another username's cap.
type limiter struct {
	log        throttle.Log
	fallback   *limiter // the in-process limiter while log (Redis) fails; nil for it
	pair, user throttle.Rate
	logger     *slog.Logger
	now        func() time.Time // the store's clock
}

// newLimiter makes the login limit: on client (keys under prefix) when it is
// not nil, else in this process.
func newLimiter(client redis.UniversalClient, prefix string, logger *slog.Logger, now func() time.Time) *limiter {
	pair := throttle.Rate{N: LoginFailsPerIP, Period: LoginWindow}
	user := throttle.Rate{N: LoginFailsPerAcc, Period: LoginWindow}
	local := &limiter{log: throttle.NewMemory(), pair: pair, user: user, now: now}
	if client == nil {
		return local
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &limiter{log: &throttle.Redis{Client: client, Prefix: prefix}, fallback: local, pair: pair, user: user, logger: logger, now: now}
}

// maxKeyUsername bounds the username in a key (no account has a longer one).
const maxKeyUsername = 150

// limiterKeys are the pair's and the username's logs. Both carry the
// username as a hash tag ({username}) so they live in one slot of a Redis
// Cluster and can be taken together.
func limiterKeys(ip, username string) (pair, user string) {
	u := strings.ToLower(strings.TrimSpace(username))
	if len(u) > maxKeyUsername {
		u = u[:maxKeyUsername]
	}
	base := "login:{" + u + "}:"
	return base + "p:" + ip, base + "u"
}

// limitTimeout bounds one call to the log: a slow Redis falls back rather
// than hold the login page.
const limitTimeout = 500 * time.Millisecond

// reserve takes one attempt for ip+username before the password is checked,
// in one step: when either count is already at its cap the attempt is
// refused (blocked, with how long to wait); else it is counted as a failure
// at once, so concurrent guesses can never pass the caps. done settles it:
// done(true) (the password was right) takes the attempt back and clears the
// pair's failures; done(false) keeps it.
func (l *limiter) reserve(ip, username string) (blocked bool, wait time.Duration, done func(ok bool)) {
	t := l.now()
	pair, user := limiterKeys(ip, username)
	ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
	defer cancel()
	d, err := l.log.Take(ctx, t, []string{pair, user}, []throttle.Rate{l.pair, l.user})
	if err != nil { // only the Redis log fails; the in-process one never does
		l.logger.Error("staff login limit: Redis unavailable, limiting in this process", "err", err)
		return l.fallback.reserve(ip, username)
	}
	if !d.Allowed {
		return true, d.RetryAfter, nil
	}
	return false, 0, func(ok bool) {
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
		defer cancel()
		if err := l.log.Reset(ctx, pair); err != nil {
			l.logger.Warn("staff login limit: clearing after a good login failed", "err", err)
		}
		if err := l.log.Untake(ctx, user, t); err != nil {
			l.logger.Warn("staff login limit: clearing after a good login failed", "err", err)
		}
	}
}
