package view_test

import (
	"testing"

	"hermez/pkg/view"
)

// ParseDuration reads Django's duration forms; every branch, one row each.
func TestParseDuration(t *testing.T) {
	const s = int64(1e6) // a second in microseconds
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"900", 900 * s, true},                              // seconds as a number
		{" 90.5 ", 90*s + s/2, true},                        // fractional seconds, spaces trimmed
		{"0", 0, true},                                      // zero
		{"-1", 0, false},                                    // negative number
		{"NaN", 0, false},                                   // not a number ParseFloat accepts
		{"Inf", 0, false},                                   // infinity
		{"1e300", 0, false},                                 // past the bigint column
		{"00:15:00", 15 * 60 * s, true},                     // HH:MM:SS
		{"01:02:03.25", 3723*s + s/4, true},                 // fractional seconds
		{"15:30", 15*60*s + 30*s, true},                     // MM:SS
		{"2 01:00:00", (2*86400 + 3600) * s, true},          // D HH:MM:SS
		{"2  01:00:00", (2*86400 + 3600) * s, true},         // extra space after the days
		{"x 01:00:00", 0, false},                            // days not a number
		{"-1 01:00:00", 0, false},                           // negative days
		{"15", 15 * s, true},                                // a bare number is seconds, not minutes
		{"1:2:3:4", 0, false},                               // too many parts
		{"abc", 0, false},                                   // one part, not a number
		{"aa:00:00", 0, false},                              // hours not a number
		{"00:bb:00", 0, false},                              // minutes not a number
		{"00:00:cc", 0, false},                              // seconds not a number
		{"-1:00:00", 0, false},                              // negative hours
		{"00:60:00", 0, false},                              // minutes past 59
		{"00:00:60", 0, false},                              // seconds past 59.999…
		{"00:-1:00", 0, false},                              // negative minutes
		{"100001 00:00:00", 0, false},                       // days past the bound
		{"2400025:00:00", 0, false},                         // hours past the bound
		{"100000 00:00:00", 0, false},                       // the bound itself is excluded
		{"99999 23:59:59", (99999*86400 + 86399) * s, true}, // the last accepted
	} {
		got, ok := view.ParseDuration(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
