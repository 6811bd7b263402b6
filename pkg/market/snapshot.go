package market

// Read models of the socket snapshots (docs/realtime.md "initial message"): each
// function loads its rows with the preloads of the resource (no N+1) and notes
// the version of every resource it shows; pkg/ws renders them with pkg/view,
// so the JSON is the HTTP API's.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// snapshotInProgress are the delivery statuses of a delivery still under way.
var snapshotInProgress = []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit}

// SnapshotQuoteOwner returns the client of quote id; found is false when it does not exist.
func SnapshotQuoteOwner(ctx context.Context, db *gorm.DB, id uuid.UUID) (clientID string, found bool, err error) {
	var q store.Quote
	err = db.WithContext(ctx).Select("id", "client_id").Where("id = ?", id).Take(&q).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load quote %s: %w", id, err)
	}
	return q.ClientID, true, nil
}

// SnapshotDeliveryParties returns the client and driver ("" when none) of delivery id;
// found is false when it does not exist.
func SnapshotDeliveryParties(ctx context.Context, db *gorm.DB, id uuid.UUID) (clientID, driverID string, found bool, err error) {
	var d store.Delivery
	err = db.WithContext(ctx).Select("id", "client_id", "delivery_person_id").Where("id = ?", id).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("load delivery %s: %w", id, err)
	}
	if d.DeliveryPersonID != nil {
		driverID = *d.DeliveryPersonID
	}
	return d.ClientID, driverID, true, nil
}

// SnapshotDelivery is what a delivery_{id} socket's first driver_location
// needs of delivery id (parties, status, points, created_at); nil when gone.
func SnapshotDelivery(ctx context.Context, db *gorm.DB, id uuid.UUID) (*store.Delivery, error) {
	var d store.Delivery
	err := db.WithContext(ctx).Select("id", "client_id", "delivery_person_id", "status", "created_at",
		"pickup_latitude", "pickup_longitude", "delivery_latitude", "delivery_longitude").Where("id = ?", id).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load delivery %s: %w", id, err)
	}
	return &d, nil
}

// SnapshotNewQuotes are the pending, unexpired quotes, newest first, without
// offers (for the many-reader new_quotes audience). seen (when not nil)
// collects the version of every resource shown, here and in every Snapshot
// function.
func SnapshotNewQuotes(ctx context.Context, db *gorm.DB, now time.Time, seen realtime.Versions) ([]store.Quote, error) {
	var qs []store.Quote
	err := store.PreloadQuote(db.WithContext(ctx), "").
		Where("status = ? AND expires_at > ?", store.QuotePending, now).
		Order("created_at DESC").Order("id").Find(&qs).Error
	if err != nil {
		return nil, fmt.Errorf("open quotes: %w", err)
	}
	for i := range qs {
		seen.Note(realtime.ResourceQuote(qs[i].ID.String()), qs[i].Version)
	}
	return qs, nil
}

// SnapshotQuote is quote id with its pending, unexpired offers (Offers);
// nil when the quote does not exist.
func SnapshotQuote(ctx context.Context, db *gorm.DB, id uuid.UUID, now time.Time, seen realtime.Versions) (*store.Quote, error) {
	qs, err := snapshotQuotesWithOffers(ctx, db, now, seen, func(tx *gorm.DB) *gorm.DB { return tx.Where("id = ?", id) })
	if err != nil || len(qs) == 0 {
		return nil, err
	}
	return &qs[0], nil
}

// SnapshotUserQuotes are the quotes of client userID, newest first, each with
// its pending, unexpired offers (Offers).
func SnapshotUserQuotes(ctx context.Context, db *gorm.DB, userID string, now time.Time, seen realtime.Versions) ([]store.Quote, error) {
	return snapshotQuotesWithOffers(ctx, db, now, seen, func(tx *gorm.DB) *gorm.DB {
		return tx.Where("client_id = ?", userID).Order("created_at DESC").Order("id")
	})
}

func snapshotQuotesWithOffers(ctx context.Context, db *gorm.DB, now time.Time, seen realtime.Versions, where func(*gorm.DB) *gorm.DB) ([]store.Quote, error) {
	tx := store.PreloadQuote(db.WithContext(ctx), "").
		Preload("Offers", func(tx *gorm.DB) *gorm.DB {
			return tx.Where("status = ? AND expires_at > ?", store.OfferPending, now).Order("created_at").Order("id")
		})
	tx = store.PreloadOffer(tx, "Offers")
	var qs []store.Quote
	if err := where(tx).Find(&qs).Error; err != nil {
		return nil, fmt.Errorf("quotes with offers: %w", err)
	}
	for i := range qs {
		seen.Note(realtime.ResourceQuote(qs[i].ID.String()), qs[i].Version)
		for j := range qs[i].Offers {
			seen.Note(realtime.ResourceOffer(qs[i].Offers[j].ID.String()), qs[i].Offers[j].Version)
		}
	}
	return qs, nil
}

// SnapshotClientDeliveries are userID's deliveries under way as client, newest first.
func SnapshotClientDeliveries(ctx context.Context, db *gorm.DB, userID string, seen realtime.Versions) ([]store.Delivery, error) {
	return snapshotDeliveries(ctx, db, seen, "client_id = ? AND status IN ?", userID, snapshotInProgress)
}

// SnapshotDriverDeliveries are userID's deliveries under way as driver, newest first.
func SnapshotDriverDeliveries(ctx context.Context, db *gorm.DB, userID string, seen realtime.Versions) ([]store.Delivery, error) {
	return snapshotDeliveries(ctx, db, seen, "delivery_person_id = ? AND status IN ?", userID, snapshotInProgress)
}

func snapshotDeliveries(ctx context.Context, db *gorm.DB, seen realtime.Versions, cond string, args ...any) ([]store.Delivery, error) {
	var ds []store.Delivery
	err := store.PreloadDelivery(db.WithContext(ctx)).Where(cond, args...).
		Order("created_at DESC").Order("id").Find(&ds).Error
	if err != nil {
		return nil, fmt.Errorf("deliveries in progress: %w", err)
	}
	for i := range ds {
		seen.Note(realtime.ResourceDelivery(ds[i].ID.String()), ds[i].Version)
	}
	return ds, nil
}

// SnapshotDriverOffers are driverID's pending, unexpired offers, newest first.
func SnapshotDriverOffers(ctx context.Context, db *gorm.DB, driverID string, now time.Time, seen realtime.Versions) ([]store.Offer, error) {
	var offers []store.Offer
	err := store.PreloadOffer(db.WithContext(ctx), "").
		Where("delivery_person_id = ? AND status = ? AND expires_at > ?", driverID, store.OfferPending, now).
		Order("created_at DESC").Order("id").Find(&offers).Error
	if err != nil {
		return nil, fmt.Errorf("pending offers of %s: %w", driverID, err)
	}
	for i := range offers {
		seen.Note(realtime.ResourceOffer(offers[i].ID.String()), offers[i].Version)
	}
	return offers, nil
}
