// Package throttle holds the request throttles of docs/api.md ("Throttling") and
// the per-user socket cap: DRF's counting (up to N requests in any window of
// the period), shared by every web and worker instance through Redis, or
// in-process in local mode. A throttle whose store fails lets the request
// through, logs it and counts it: an outage of the limiter never takes the API
// down.
package throttle

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is N requests per Period; N == 0 disables the throttle.
type Rate struct {
	N      int
	Period time.Duration
}

// Disabled tells whether the rate lets everything through.
func (r Rate) Disabled() bool { return r.N <= 0 || r.Period <= 0 }

func (r Rate) String() string {
	if r.Disabled() {
		return "0"
	}
	for name, d := range periods {
		if d == r.Period {
			return fmt.Sprintf("%d/%s", r.N, name)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Period)
}

var periods = map[string]time.Duration{"sec": time.Second, "min": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}

// ParseRate reads DRF's notation `N/sec|min|hour|day` (DRF reads only the
// period's first letter: "120/minute" is "120/min"); "0" or "" disables.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Rate{}, nil
	}
	num, period, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if !ok || err != nil || n < 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/sec, N/min, N/hour or N/day (0 disables)", s)
	}
	period = strings.ToLower(strings.TrimSpace(period))
	if period == "" {
		return Rate{}, fmt.Errorf("rate %q: no period", s)
	}
	d, ok := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[period[0]]
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: period must be sec, min, hour or day", s)
	}
	return Rate{N: n, Period: d}, nil
}
