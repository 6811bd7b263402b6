// Package view is the JSON of every resource — field names, decimal strings,
// timestamps, privacy — in one place, used by HTTP answers, socket snapshots
// and events alike.
package view

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// TimeFormat is ISO-8601 UTC with six fractional digits and Z.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Decimal renders as a JSON string with two places ("10000.00").
type Decimal decimal.Decimal

// MarshalJSON implements json.Marshaler.
func (d Decimal) MarshalJSON() ([]byte, error) {
	v := decimal.Decimal(d)
	// Fast path (the usual case: a price or weight of a few digits, two places
	// or fewer): the coefficient as an int64 scaled to cents, no rounding and
	// no big.Int arithmetic; the same text StringFixed(2) gives.
	if e := v.Exponent(); e >= -2 && e <= 6 && v.NumDigits()+int(e)+2 <= 18 {
		cents := v.CoefficientInt64()
		for range e + 2 {
			cents *= 10
		}
		b := make([]byte, 0, 24)
		b = append(b, '"')
		if cents < 0 {
			b = append(b, '-')
			cents = -cents
		}
		b = strconv.AppendInt(b, cents/100, 10)
		b = append(b, '.', byte('0'+cents%100/10), byte('0'+cents%10), '"')
		return b, nil
	}
	return []byte(`"` + v.StringFixed(2) + `"`), nil
}

// Time renders as TimeFormat in UTC.
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeFormat)+8)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, TimeFormat)
	return append(b, '"'), nil
}

func timePtr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	v := Time(*t)
	return &v
}

func decPtr(d *decimal.Decimal) *Decimal {
	if d == nil {
		return nil
	}
	v := Decimal(*d)
	return &v
}

// FormatDuration renders microseconds like Django's duration_string:
// "HH:MM:SS", "D HH:MM:SS" with days, ".ffffff" when there are microseconds.
func FormatDuration(us int64) string {
	neg := us < 0
	if neg {
		us = -us
	}
	days := us / (86400 * 1e6)
	us -= days * 86400 * 1e6
	h := us / (3600 * 1e6)
	us -= h * 3600 * 1e6
	m := us / (60 * 1e6)
	us -= m * 60 * 1e6
	s := us / 1e6
	us -= s * 1e6
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if days > 0 {
		out = fmt.Sprintf("%d %s", days, out)
	}
	if us > 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// maxDurationMicros bounds a duration: 100,000 days (about 274 years), far
// inside what a bigint of microseconds holds, so no input wraps.
const maxDurationMicros = 100000 * 86400 * 1e6

// ParseDuration reads "HH:MM:SS[.ffffff]", "D HH:MM:SS", "MM:SS", or a number
// of seconds, into microseconds.
func ParseDuration(s string) (int64, bool) {
	const maxDurationDays = 100000
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		// NaN, infinities and amounts past the bigint column are refused,
		// never wrapped.
		if !(f >= 0 && f*1e6 < maxDurationMicros) {
			return 0, false
		}
		return int64(f * 1e6), true
	}
	var days int64
	if i := strings.IndexByte(s, ' '); i > 0 {
		d, err := strconv.ParseInt(strings.TrimSpace(s[:i]), 10, 64)
		if err != nil || d < 0 {
			return 0, false
		}
		days, s = d, strings.TrimSpace(s[i+1:])
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	if len(parts) == 2 {
		parts = append([]string{"0"}, parts...)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || m < 0 || m > 59 || sec < 0 || sec >= 60 {
		return 0, false
	}
	if days > maxDurationDays || h > maxDurationDays*24 {
		return 0, false
	}
	total := days*86400*1e6 + h*3600*1e6 + m*60*1e6 + int64(sec*1e6+0.5)
	if total < 0 || float64(total) >= maxDurationMicros {
		return 0, false
	}
	return total, true
}
