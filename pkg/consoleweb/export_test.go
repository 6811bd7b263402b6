package consoleweb

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// LoginLimiter is the login limit for tests: the one every web instance
// shares through client when it is not nil, else the per-process one.
type LoginLimiter struct{ l *limiter }

// NewLoginLimiter makes the console's login limiter (window and caps as in
// production) reading the time from now.
func NewLoginLimiter(client redis.UniversalClient, prefix string, now func() time.Time) LoginLimiter {
	return LoginLimiter{newLimiter(client, prefix, slog.Default(), now)}
}

// Reserve is reserve.
func (l LoginLimiter) Reserve(ip, username string) (bool, time.Duration, func(ok bool)) {
	return l.l.reserve(ip, username)
}

// Money is money, for tests.
var Money = money
