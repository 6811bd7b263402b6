package console

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"hermez/pkg/store"
)

// Now (console.md "Seeing now"): the deliveries under way with the time in
// their current state (stuck past a threshold marked), today's deliveries,
// revenue and cancellations, and the last marketplace events.

// Stuck thresholds: how long a delivery may stay in a state before the
// console marks it.
const (
	StuckAssigned = 30 * time.Minute // assigned, not picked up
	StuckMoving   = 90 * time.Minute // picked_up or in_transit
)

// COT is the console's day: Colombia (UTC−5, no daylight saving).
var COT = time.FixedZone("COT", -5*60*60)

// DayStart is the start of the Colombian day holding t.
func DayStart(t time.Time) time.Time {
	y, m, d := t.In(COT).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, COT)
}

// ActiveDelivery is a delivery under way as the dashboard shows it.
type ActiveDelivery struct {
	D       store.Delivery
	InState time.Duration // since its last change (its status changes are its only changes while active)
	Stuck   bool
}

// stuck tells whether a delivery in status for d is past its threshold.
func stuck(status string, d time.Duration) bool {
	switch status {
	case store.DeliveryAssigned:
		return d > StuckAssigned
	case store.DeliveryPickedUp, store.DeliveryInTransit:
		return d > StuckMoving
	}
	return false
}

// stuckWhere is the condition "stuck at now" on deliveries.
func stuckWhere(q *gorm.DB, now time.Time) *gorm.DB {
	return q.Where("((status = ? AND updated_at < ?) OR (status IN ? AND updated_at < ?))",
		store.DeliveryAssigned, now.Add(-StuckAssigned).UTC(),
		[]string{store.DeliveryPickedUp, store.DeliveryInTransit}, now.Add(-StuckMoving).UTC())
}

// Event is one recent marketplace event (a history row) and the delivery it
// belongs to (nil while it is a quote, or once the quote is gone).
type Event struct {
	E          store.HistoryEvent
	DeliveryID *uuid.UUID
}

// NowBoard is the dashboard's "now" part.
type NowBoard struct {
	At                      time.Time
	Today                   time.Time // start of today (Colombia)
	Active                  []ActiveDelivery
	ActiveTotal, StuckTotal int64
	CreatedToday            int64
	CompletedToday          int64
	RevenueToday            decimal.Decimal // final_price of the deliveries delivered today (delivered or paid now)
	CancelledToday          int64
	Recent                  []Event
}

// MaxActive bounds the active list on the dashboard (the list page has them all).
const MaxActive = 50

// Now reads the dashboard's "now" at the store's clock.
func (s *Service) Now(ctx context.Context) (*NowBoard, error) {
	db := s.db(ctx)
	now := s.Store.Now()
	b := &NowBoard{At: now, Today: DayStart(now)}
	active := func() *gorm.DB { return db.Model(&store.Delivery{}).Where("status IN ?", ActiveStatuses) }
	if err := active().Count(&b.ActiveTotal).Error; err != nil {
		return nil, store.MapError(err, "count active deliveries")
	}
	if err := stuckWhere(active(), now).Count(&b.StuckTotal).Error; err != nil {
		return nil, store.MapError(err, "count stuck deliveries")
	}
	var ds []store.Delivery
	// Oldest change first: the longest in their state (the stuck ones) lead.
	if err := active().Preload("Client").Preload("Driver").Order("updated_at ASC").Order("id").
		Limit(MaxActive).Find(&ds).Error; err != nil {
		return nil, store.MapError(err, "active deliveries")
	}
	for _, d := range ds {
		in := now.Sub(d.UpdatedAt)
		b.Active = append(b.Active, ActiveDelivery{D: d, InState: in, Stuck: stuck(d.Status, in)})
	}
	today := Range{From: &b.Today}
	if err := today.apply(db.Model(&store.Delivery{}), "created_at").Count(&b.CreatedToday).Error; err != nil {
		return nil, store.MapError(err, "deliveries today")
	}
	if err := today.apply(db.Model(&store.Delivery{}), "cancelled_at").Count(&b.CancelledToday).Error; err != nil {
		return nil, store.MapError(err, "cancellations today")
	}
	// Summed in Go: decimals are text on SQLite.
	var prices []decimal.Decimal
	if err := today.apply(db.Model(&store.Delivery{}), "completed_at").Where("status IN ?", []string{store.DeliveryDelivered, store.DeliveryPaid}).
		Pluck("final_price", &prices).Error; err != nil {
		return nil, store.MapError(err, "revenue today")
	}
	b.CompletedToday = int64(len(prices))
	for _, p := range prices {
		b.RevenueToday = b.RevenueToday.Add(p)
	}
	var evs []store.HistoryEvent
	if err := db.Preload("ChangedBy").Order("created_at DESC").Order("id").Limit(15).Find(&evs).Error; err != nil {
		return nil, store.MapError(err, "recent events")
	}
	hids := make([]uuid.UUID, len(evs))
	for i := range evs {
		hids[i] = evs[i].HistoryID
	}
	var links []struct {
		ID        uuid.UUID
		HistoryID uuid.UUID
	}
	if len(hids) > 0 {
		if err := db.Model(&store.Delivery{}).Select("id, history_id").Where("history_id IN ?", hids).Scan(&links).Error; err != nil {
			return nil, store.MapError(err, "recent events' deliveries")
		}
	}
	byHist := map[uuid.UUID]uuid.UUID{}
	for _, l := range links {
		byHist[l.HistoryID] = l.ID
	}
	for _, e := range evs {
		ev := Event{E: e}
		if id, ok := byHist[e.HistoryID]; ok {
			ev.DeliveryID = &id
		}
		b.Recent = append(b.Recent, ev)
	}
	return b, nil
}
