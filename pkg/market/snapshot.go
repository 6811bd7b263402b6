package market

// Read models of the socket snapshots (realtime.md "initial message"): each
// function loads its rows with the preloads of the resource (no N+1), fills the
// ratings of every rendered user in one query, and renders with pkg/view so the
// JSON is the HTTP API's.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
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

// SnapshotNewQuotes are the pending, unexpired quotes, newest first, without offers,
// rendered for the many-reader new_quotes audience (no emails).
// seen (when not nil) collects the version of every resource shown, here and
// in every Snapshot function.
func SnapshotNewQuotes(ctx context.Context, db *gorm.DB, now time.Time, seen realtime.Versions) ([]*view.Quote, error) {
	var qs []store.Quote
	err := store.PreloadQuote(db.WithContext(ctx), "").
		Where("status = ? AND expires_at > ?", store.QuotePending, now).
		Order("created_at DESC").Order("id").Find(&qs).Error
	if err != nil {
		return nil, fmt.Errorf("open quotes: %w", err)
	}
	out := make([]*view.Quote, len(qs))
	for i := range qs {
		out[i] = view.NewQuote(&qs[i], "")
		seen.Note(realtime.ResourceQuote(qs[i].ID.String()), qs[i].Version)
	}
	return out, nil
}

// SnapshotQuote is quote id with its pending, unexpired offers, for
// viewer (the quote's client); nil when the quote does not exist.
func SnapshotQuote(ctx context.Context, db *gorm.DB, id uuid.UUID, viewer view.Viewer, now time.Time, seen realtime.Versions) (*view.QuoteWithOffers, error) {
	qs, err := snapshotQuotesWithOffers(ctx, db, now, viewer, seen, func(tx *gorm.DB) *gorm.DB { return tx.Where("id = ?", id) })
	if err != nil || len(qs) == 0 {
		return nil, err
	}
	return qs[0], nil
}

// SnapshotUserQuotes are the quotes of client userID, newest first, each with its
// pending, unexpired offers, rendered for that user.
func SnapshotUserQuotes(ctx context.Context, db *gorm.DB, userID string, now time.Time, seen realtime.Versions) ([]*view.QuoteWithOffers, error) {
	return snapshotQuotesWithOffers(ctx, db, now, userID, seen, func(tx *gorm.DB) *gorm.DB {
		return tx.Where("client_id = ?", userID).Order("created_at DESC").Order("id")
	})
}

func snapshotQuotesWithOffers(ctx context.Context, db *gorm.DB, now time.Time, viewer view.Viewer, seen realtime.Versions, where func(*gorm.DB) *gorm.DB) ([]*view.QuoteWithOffers, error) {
	tx := store.PreloadQuote(db.WithContext(ctx), "").
		Preload("Offers", func(tx *gorm.DB) *gorm.DB {
			return tx.Where("status = ? AND expires_at > ?", store.OfferPending, now).Order("created_at").Order("id")
		})
	tx = store.PreloadOffer(tx, "Offers")
	var qs []store.Quote
	if err := where(tx).Find(&qs).Error; err != nil {
		return nil, fmt.Errorf("quotes with offers: %w", err)
	}
	out := make([]*view.QuoteWithOffers, len(qs))
	for i := range qs {
		q := &view.QuoteWithOffers{Quote: view.NewQuote(&qs[i], viewer), Offers: make([]*view.Offer, len(qs[i].Offers))}
		seen.Note(realtime.ResourceQuote(qs[i].ID.String()), qs[i].Version)
		for j := range qs[i].Offers {
			q.Offers[j] = view.NewOffer(&qs[i].Offers[j], viewer, now)
			seen.Note(realtime.ResourceOffer(qs[i].Offers[j].ID.String()), qs[i].Offers[j].Version)
		}
		out[i] = q
	}
	return out, nil
}

// SnapshotClientDeliveries are userID's deliveries under way as client, newest first.
func SnapshotClientDeliveries(ctx context.Context, db *gorm.DB, userID string, seen realtime.Versions) ([]*view.Delivery, error) {
	return snapshotDeliveries(ctx, db, userID, seen, "client_id = ? AND status IN ?", userID, snapshotInProgress)
}

// SnapshotDriverDeliveries are userID's deliveries under way as driver, newest first.
func SnapshotDriverDeliveries(ctx context.Context, db *gorm.DB, userID string, seen realtime.Versions) ([]*view.Delivery, error) {
	return snapshotDeliveries(ctx, db, userID, seen, "delivery_person_id = ? AND status IN ?", userID, snapshotInProgress)
}

func snapshotDeliveries(ctx context.Context, db *gorm.DB, viewer view.Viewer, seen realtime.Versions, cond string, args ...any) ([]*view.Delivery, error) {
	var ds []store.Delivery
	err := store.PreloadDelivery(db.WithContext(ctx)).Where(cond, args...).
		Order("created_at DESC").Order("id").Find(&ds).Error
	if err != nil {
		return nil, fmt.Errorf("deliveries in progress: %w", err)
	}
	out := make([]*view.Delivery, len(ds))
	for i := range ds {
		out[i] = view.NewDelivery(&ds[i], viewer)
		seen.Note(realtime.ResourceDelivery(ds[i].ID.String()), ds[i].Version)
	}
	return out, nil
}

// SnapshotDriverOffers are driverID's pending, unexpired offers, newest first,
// rendered for that driver (can_accept is false: the driver's view).
func SnapshotDriverOffers(ctx context.Context, db *gorm.DB, driverID string, now time.Time, seen realtime.Versions) ([]*view.Offer, error) {
	var offers []store.Offer
	err := store.PreloadOffer(db.WithContext(ctx), "").
		Where("delivery_person_id = ? AND status = ? AND expires_at > ?", driverID, store.OfferPending, now).
		Order("created_at DESC").Order("id").Find(&offers).Error
	if err != nil {
		return nil, fmt.Errorf("pending offers of %s: %w", driverID, err)
	}
	out := make([]*view.Offer, len(offers))
	for i := range offers {
		out[i] = view.NewOffer(&offers[i], driverID, now)
		out[i].CanAccept = false
		seen.Note(realtime.ResourceOffer(offers[i].ID.String()), offers[i].Version)
	}
	return out, nil
}
