package console_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"hermez/pkg/console"
	"hermez/pkg/store"
)

// TestTrends at t0 = Thursday 2026-01-01 12:00 UTC (07:00 in Colombia): the
// last day bucket is Jan 1, the last week began Monday Dec 29 00:00 COT
// (05:00 UTC). Expected values are summed by hand from the rows below.
func TestTrends(t *testing.T) {
	f := newFixture(t)
	utc := func(mo time.Month, d, h int) time.Time {
		y := 2025
		if mo == time.January {
			y = 2026
		}
		return time.Date(y, mo, d, h, 0, 0, 0, time.UTC)
	}
	for i, at := range []time.Time{utc(time.January, 1, 8), utc(time.December, 30, 12), utc(time.December, 29, 4), utc(time.September, 1, 12)} {
		f.user(store.User{UserID: "u" + string(rune('a'+i)), CreatedAt: at})
	}
	mk := func(status, pay string, created time.Time, price int64, done *time.Time) {
		d := f.delivery(store.Delivery{ClientID: "ua", Status: status, PaymentMethod: pay, CreatedAt: created})
		f.must(f.st.DB.Model(&store.Delivery{}).Where("id = ?", d.ID).Updates(map[string]any{
			"final_price": decimal.NewFromInt(price), "completed_at": done}).Error)
	}
	mk(store.DeliveryPaid, "nequi", utc(time.January, 1, 6), 27000, ptr(utc(time.January, 1, 7)))
	mk(store.DeliveryDelivered, "efectivo", utc(time.December, 31, 12), 15000, ptr(utc(time.December, 31, 13)))
	mk(store.DeliveryCancelled, "efectivo", utc(time.December, 30, 12), 11000, nil)
	mk(store.DeliveryInTransit, "nequi", utc(time.January, 1, 10), 12000, nil)
	// Sunday Dec 28 18:00 COT, completed 23:00 COT: the week of Dec 22, though Dec 29 in UTC.
	mk(store.DeliveryPaid, "efectivo", utc(time.December, 28, 23), 9000, ptr(utc(time.December, 29, 4)))
	mk(store.DeliveryCancelled, "nequi", utc(time.December, 22, 12), 8000, nil)
	// Nov 1: outside the 30 days, inside the 12 weeks (the week of Oct 27).
	mk(store.DeliveryPaid, "nequi", utc(time.November, 1, 12), 50000, ptr(utc(time.November, 1, 14)))

	b, err := f.svc.Trends(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.PerDay.Buckets); n != console.TrendDays || !b.PerDay.Buckets[n-1].Equal(utc(time.January, 1, 5)) {
		t.Fatalf("day buckets: %d, last %v", n, b.PerDay.Buckets[n-1])
	}
	if n := len(b.RevenuePerWeek.Buckets); n != console.TrendWeeks || !b.RevenuePerWeek.Buckets[n-1].Equal(utc(time.December, 29, 5)) ||
		!b.RevenuePerWeek.Buckets[0].Equal(utc(time.October, 13, 5)) {
		t.Fatalf("week buckets: %d, %v … %v", n, b.RevenuePerWeek.Buckets[0], b.RevenuePerWeek.Buckets[n-1])
	}
	// per day: series paid, delivered, cancelled, active; index 29 = Jan 1, 28 = Dec 31, …
	wantDay := map[int][4]float64{29: {1, 0, 0, 1}, 28: {0, 1, 0, 0}, 27: {0, 0, 1, 0}, 25: {1, 0, 0, 0}, 19: {0, 0, 1, 0}}
	for i := range b.PerDay.Buckets {
		var got [4]float64
		for k := range got {
			got[k] = b.PerDay.Series[k].Values[i]
		}
		if got != wantDay[i] {
			t.Errorf("day %d (%s): %v, want %v", i, b.PerDay.Buckets[i].Format("01-02"), got, wantDay[i])
		}
	}
	// revenue: series efectivo, nequi; index 11 = Dec 29, 10 = Dec 22, 2 = Oct 27
	wantRev := map[int][2]float64{11: {15000, 27000}, 10: {9000, 0}, 2: {0, 50000}}
	wantRate := map[int]float64{11: 25, 10: 50} // 1 of 4, 1 of 2; Oct 27: 0 of 1
	wantUsers := map[int]float64{11: 2, 10: 1}
	for i := range b.RevenuePerWeek.Buckets {
		got := [2]float64{b.RevenuePerWeek.Series[0].Values[i], b.RevenuePerWeek.Series[1].Values[i]}
		if got != wantRev[i] {
			t.Errorf("revenue week %d: %v, want %v", i, got, wantRev[i])
		}
		if got := b.CancelRatePerWeek.Series[0].Values[i]; got != wantRate[i] {
			t.Errorf("cancel rate week %d: %v, want %v", i, got, wantRate[i])
		}
		if got := b.NewUsersPerWeek.Series[0].Values[i]; got != wantUsers[i] {
			t.Errorf("new users week %d: %v, want %v", i, got, wantUsers[i])
		}
	}
	if got := b.PerDay.Total(29); got != 2 {
		t.Errorf("Total(29) = %v", got)
	}
}
