package testutil

import (
	"sync"
	"testing"
	"time"
)

// Clock is a test clock: Now stands still until Advance or Set moves it.
// Give its Now to store.Store.Now (or any Now field) so a test steps over a
// TTL or a window instead of sleeping through it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t (the wall clock, truncated to microseconds as
// the database keeps it, when t is zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = time.Now().UTC().Truncate(time.Microsecond)
	}
	return &Clock{t: t}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Eventually polls cond (every 10 ms) until it holds, failing the test with
// what once timeout has passed. For conditions another goroutine or process
// makes true; never a way to wait out a duration (use a Clock or
// testing/synctest for that).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
