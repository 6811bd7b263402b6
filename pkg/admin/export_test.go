package admin

import "time"

// SetClock replaces the clock of sessions and the login rate limiter.
func SetClock(f func() time.Time) (restore func()) {
	old := now
	now = f
	return func() { now = old }
}
