// Package market holds the marketplace rules: quotes, offers, deliveries,
// history and expiry, each change in one transaction with its realtime events.
//
// The services return rows (store.Quote, store.Offer, store.Delivery …) or
// plain result types (StatusChange, History); the HTTP adapter renders its
// answers with pkg/view. The guards are pure functions in rules.go.
//
// Event frames are still rendered here, with pkg/view: a change writes its
// frames to the outbox inside its own transaction (realtime.Change), so they
// must exist as bytes before the commit — rendering them in an adapter after
// the fact would reopen the window the outbox closes (a crash between commit
// and render loses the event). Each frame is rendered per audience (realtime.md),
// from the rows the transaction already loaded.
//
// Bodies are still decoded here (input.Body, with field errors in DRF's
// wording): the validation of one body mixes format errors and database checks
// (an unknown category) into one 400, which typed inputs would have to carry
// across the boundary; that move is not done yet.
package market

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"hermez/pkg/store"
	"hermez/pkg/view"
)

// PersonStats are the deliveries driverID drove that are delivered or paid
// (newest first), their total final price and count, rendered for viewer.
// Used by the person_stats socket snapshot and the person_stats/stats_updated events.
func PersonStats(ctx context.Context, db *gorm.DB, driverID string, viewer view.Viewer) (*view.PersonStats, error) {
	db = db.WithContext(ctx)
	var ts store.TypeSet
	ds, err := personStatsRows(db, &ts, driverID)
	if err != nil {
		return nil, err
	}
	if err := ts.Fill(db); err != nil {
		return nil, err
	}
	return renderStats(ds, viewer), nil
}

// personStatsRows loads the deliveries of PersonStats; their vehicle types
// are added to ts, not filled.
func personStatsRows(db *gorm.DB, ts *store.TypeSet, driverID string) ([]store.Delivery, error) {
	ds, err := loadDeliveriesInto(db, ts, func(q *gorm.DB) *gorm.DB {
		return q.Where("deliveries.delivery_person_id = ? AND deliveries.status IN ?", driverID, []string{store.DeliveryDelivered, store.DeliveryPaid}).
			Order("deliveries.created_at DESC").Order("deliveries.id")
	})
	if err != nil {
		return nil, fmt.Errorf("person stats of %s: %w", driverID, err)
	}
	return ds, nil
}

func renderStats(ds []store.Delivery, viewer view.Viewer) *view.PersonStats {
	out := &view.PersonStats{Deliveries: make([]*view.Delivery, len(ds)), Count: len(ds)}
	total := decimal.Zero
	for i := range ds {
		out.Deliveries[i] = view.NewDelivery(&ds[i], viewer)
		total = total.Add(ds[i].FinalPrice)
	}
	out.Total = view.Decimal(total)
	return out
}

// bumpStats bumps driverID's stats version (the order of their person_stats
// frames) inside tx, locking their users row, and returns the new version.
func bumpStats(tx *gorm.DB, driverID string) (int64, error) {
	// Raw: the model's field is read-only (nothing else writes it).
	var vs []int64
	if err := tx.Raw("UPDATE users SET stats_version = stats_version + 1 WHERE userid = ? RETURNING stats_version", driverID).Scan(&vs).Error; err != nil {
		return 0, fmt.Errorf("bump stats version of %s: %w", driverID, err)
	}
	if len(vs) == 0 {
		return 0, nil
	}
	return vs[0], nil
}

// StatsVersion is driverID's stats version (0 when they have none yet). A
// snapshot reads it before the stats themselves, so the state it shows is at
// least that version.
func StatsVersion(ctx context.Context, db *gorm.DB, driverID string) (int64, error) {
	var vs []int64
	if err := db.WithContext(ctx).Model(&store.User{}).Where("userid = ?", driverID).Pluck("stats_version", &vs).Error; err != nil {
		return 0, fmt.Errorf("stats version of %s: %w", driverID, err)
	}
	if len(vs) == 0 {
		return 0, nil
	}
	return vs[0], nil
}
