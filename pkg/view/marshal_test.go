package view_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"hermez/pkg/view"
)

// Decimal and Time encode as `"` + StringFixed(2) + `"` and `"` + UTC
// Format(TimeFormat) + `"` did, on both sides of Decimal's fast path
// (exponents −2…6 within 18 digits) and past it.
func TestScalarsEncodeAsBefore(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ds []decimal.Decimal
	for _, s := range []string{"0", "-0", "0.00", "1", "-1", "12000", "12000.00", "3.5", "-3.5", "0.01", "-0.01", "0.005", "-0.005",
		"1.125", "99999999999999.99", "999999999999999.99", "9223372036854775807", "-9223372036854775808",
		"123456789012345678901234567890.129", "1e6", "1.5e6", "12e7", "-7e-3", "100.10"} {
		ds = append(ds, decimal.RequireFromString(s))
	}
	for range 5000 {
		ds = append(ds, decimal.New(r.Int64N(2e12)-1e12, int32(r.IntN(12)-4)))
	}
	ds = append(ds, decimal.NewFromFloat(12000), decimal.NewFromFloat(3.5), decimal.NewFromFloat(0.1))
	for _, d := range ds {
		got, err := json.Marshal(view.Decimal(d))
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + d.StringFixed(2) + `"`; string(got) != want {
			t.Errorf("%s (coefficient %s exp %d): %s, want %s", d, d.Coefficient(), d.Exponent(), got, want)
		}
	}
	bogota := time.FixedZone("COT", -5*3600)
	for _, tm := range []time.Time{{}, time.Date(2026, 12, 7, 9, 30, 1, 123456789, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 999999999, bogota),
		time.Unix(0, 0), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		got, err := json.Marshal(view.Time(tm))
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + tm.UTC().Format(view.TimeFormat) + `"`; string(got) != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
}
