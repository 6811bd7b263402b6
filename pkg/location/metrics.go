package location

import "hermez/pkg/metrics"

// Count records one update of source ("http", "socket") with its outcome
// (err != nil: "error"; invalid: "invalid").
func Count(source string, r Result, invalid bool, err error) {
	outcome := "kept"
	switch {
	case invalid:
		outcome = "invalid"
	case err != nil:
		outcome = "error"
	case r.Outcome == TooSoon:
		outcome = "too_soon"
	case r.Outcome == NotNewer:
		outcome = "not_newer"
	}
	metrics.LocationUpdates.WithLabelValues(source, outcome).Inc()
}
