package console

import (
	"context"
	"time"

	"github.com/shopspring/decimal"

	"hermez/pkg/store"
)

// Trends (console.md "Seeing trends"): deliveries per day for the last 30
// days by final status, revenue per week by payment method, the
// cancellation rate per week and new users per week (the last 12 weeks,
// Monday to Sunday in Colombia). Rows are read for the window and bucketed
// here: the same on both dialects, and a window of a few thousand rows.

// Window sizes.
const (
	TrendDays  = 30
	TrendWeeks = 12
)

// Series is one named line of values, one per bucket.
type Series struct {
	Key    string // a status or payment method code ("" for a single series)
	Values []float64
}

// Chart is one trend: bucket labels (days or weeks, their first day) and
// its series (stacked when several).
type Chart struct {
	Buckets []time.Time
	Series  []Series
}

// Total is the sum of every series in bucket i.
func (c Chart) Total(i int) float64 {
	var t float64
	for _, s := range c.Series {
		t += s.Values[i]
	}
	return t
}

// TrendBoard is the trends page.
type TrendBoard struct {
	At                time.Time
	PerDay            Chart // deliveries created per day, by status now (paid, delivered, cancelled, under way)
	RevenuePerWeek    Chart // final_price of deliveries completed in the week, by payment method
	CancelRatePerWeek Chart // % of the deliveries created in the week that are cancelled
	NewUsersPerWeek   Chart
}

// WeekStart is the Monday 00:00 (Colombia) of the week holding t.
func WeekStart(t time.Time) time.Time {
	d := DayStart(t)
	back := (int(d.Weekday()) + 6) % 7 // Monday → 0
	return d.AddDate(0, 0, -back)
}

// DayStatuses are the per-day chart's series, final statuses first.
var DayStatuses = []string{store.DeliveryPaid, store.DeliveryDelivered, store.DeliveryCancelled, "active"}

// PaymentMethods are the revenue chart's series.
var PaymentMethods = []string{"efectivo", "nequi"}

func newChart(buckets []time.Time, keys ...string) Chart {
	c := Chart{Buckets: buckets}
	for _, k := range keys {
		c.Series = append(c.Series, Series{Key: k, Values: make([]float64, len(buckets))})
	}
	return c
}

// bucket is the index of t among starts (each bucket [starts[i], starts[i+1]),
// the last one open-ended), -1 before the first.
func bucket(starts []time.Time, t time.Time) int {
	for i := len(starts) - 1; i >= 0; i-- {
		if !t.Before(starts[i]) {
			return i
		}
	}
	return -1
}

// Trends reads the trends at the store's clock.
func (s *Service) Trends(ctx context.Context) (*TrendBoard, error) {
	db := s.db(ctx)
	now := s.Store.Now()
	b := &TrendBoard{At: now}
	var days, weeks []time.Time
	today := DayStart(now)
	for i := TrendDays - 1; i >= 0; i-- {
		days = append(days, today.AddDate(0, 0, -i))
	}
	week := WeekStart(now)
	for i := TrendWeeks - 1; i >= 0; i-- {
		weeks = append(weeks, week.AddDate(0, 0, -7*i))
	}
	b.PerDay = newChart(days, DayStatuses...)
	b.RevenuePerWeek = newChart(weeks, PaymentMethods...)
	b.CancelRatePerWeek = newChart(weeks, "")
	b.NewUsersPerWeek = newChart(weeks, "")

	from := days[0]
	if weeks[0].Before(from) {
		from = weeks[0]
	}
	var created []struct {
		Status    string
		CreatedAt time.Time
	}
	if err := db.Model(&store.Delivery{}).Select("status, created_at").Where("created_at >= ?", from.UTC()).Scan(&created).Error; err != nil {
		return nil, store.MapError(err, "trend deliveries")
	}
	statusIdx := map[string]int{store.DeliveryPaid: 0, store.DeliveryDelivered: 1, store.DeliveryCancelled: 2}
	weekAll := make([]float64, len(weeks))
	for _, d := range created {
		if i := bucket(days, d.CreatedAt); i >= 0 {
			k, ok := statusIdx[d.Status]
			if !ok {
				k = 3
			}
			b.PerDay.Series[k].Values[i]++
		}
		if i := bucket(weeks, d.CreatedAt); i >= 0 {
			weekAll[i]++
			if d.Status == store.DeliveryCancelled {
				b.CancelRatePerWeek.Series[0].Values[i]++
			}
		}
	}
	for i, n := range weekAll {
		if n > 0 {
			v := b.CancelRatePerWeek.Series[0].Values[i] * 100 / n
			b.CancelRatePerWeek.Series[0].Values[i] = float64(int64(v*10+0.5)) / 10 // one decimal
		}
	}
	var done []struct {
		PaymentMethod string
		FinalPrice    decimal.Decimal
		CompletedAt   time.Time
	}
	if err := db.Model(&store.Delivery{}).Select("payment_method, final_price, completed_at").
		Where("status IN ? AND completed_at >= ?", []string{store.DeliveryDelivered, store.DeliveryPaid}, weeks[0].UTC()).
		Scan(&done).Error; err != nil {
		return nil, store.MapError(err, "trend revenue")
	}
	for _, d := range done {
		i := bucket(weeks, d.CompletedAt)
		if i < 0 {
			continue
		}
		for k, m := range PaymentMethods {
			if d.PaymentMethod == m {
				b.RevenuePerWeek.Series[k].Values[i] += d.FinalPrice.InexactFloat64()
			}
		}
	}
	var joined []time.Time
	if err := db.Model(&store.User{}).Where("created_at >= ?", weeks[0].UTC()).Pluck("created_at", &joined).Error; err != nil {
		return nil, store.MapError(err, "trend users")
	}
	for _, t := range joined {
		if i := bucket(weeks, t); i >= 0 {
			b.NewUsersPerWeek.Series[0].Values[i]++
		}
	}
	return b, nil
}
