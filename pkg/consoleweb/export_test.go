package consoleweb

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// SetClock replaces the clock of sessions and the login rate limiter.
func SetClock(f func() time.Time) (restore func()) {
	old := now
	now = f
	return func() { now = old }
}

// LoginLimiter is the login limit for tests: the one every web instance
// shares through client when it is not nil, else the per-process one.
type LoginLimiter struct{ l *limiter }

// NewLoginLimiter makes the console's login limiter (window and caps as in
// production).
func NewLoginLimiter(client redis.UniversalClient, prefix string) LoginLimiter {
	return LoginLimiter{newLimiter(client, prefix, slog.Default())}
}

// Reserve is reserve.
func (l LoginLimiter) Reserve(ip, username string) (bool, time.Duration, func(ok bool)) {
	return l.l.reserve(ip, username)
}

// Money is money, for tests.
var Money = money
