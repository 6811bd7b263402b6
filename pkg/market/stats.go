package market

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"hermez/pkg/store"
)

// PersonStats are the deliveries driverID drove that are delivered or paid,
// newest first (view.NewPersonStats renders them with their total and count).
// Used by the person_stats socket snapshot; the person_stats/stats_updated
// events render the same rows.
func PersonStats(ctx context.Context, db *gorm.DB, driverID string) ([]store.Delivery, error) {
	db = db.WithContext(ctx)
	var ts store.TypeSet
	ds, err := personStatsRows(db, &ts, driverID)
	if err != nil {
		return nil, err
	}
	if err := ts.Fill(db); err != nil {
		return nil, err
	}
	return ds, nil
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
