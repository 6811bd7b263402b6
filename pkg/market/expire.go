package market

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Sizes of one expiry sweep.
const (
	expireBatch      = 100
	expireMaxBatches = 1000
)

// lockSkipOf locks the main table's rows of a joined query on PostgreSQL,
// skipping those another transaction holds.
func (s *Service) lockSkipOf(tx *gorm.DB, table string) *gorm.DB {
	if s.Store.Dialect == store.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE", Table: clause.Table{Name: table}, Options: "SKIP LOCKED"})
	}
	return tx
}

// lockSkip locks rows on PostgreSQL, skipping those another transaction holds
// (an accept in progress); SQLite is serialized anyway.
func (s *Service) lockSkip(tx *gorm.DB) *gorm.DB {
	if s.Store.Dialect == store.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	return tx
}

// Expire is one sweep: it removes expired pending quotes (with their offers)
// and expired pending offers, publishing quote_expired/quote_deleted and
// offer_expired/offer_deleted. It returns how many quotes and offers it
// removed. (The bookkeeping tables' retention belongs to their owners:
// account.PurgeWebhookEvents and realtime.Outbox.Purge.)
func (s *Service) Expire(ctx context.Context) (quotes, offers int, err error) {
	for range expireMaxBatches {
		n, m, err := s.expireQuotes(ctx)
		quotes, offers = quotes+n, offers+m
		if err != nil {
			return quotes, offers, err
		}
		if n < expireBatch {
			break
		}
	}
	for range expireMaxBatches {
		n, err := s.expireOffers(ctx)
		offers += n
		if err != nil {
			return quotes, offers, err
		}
		if n == 0 {
			break
		}
	}
	return quotes, offers, nil
}

// expireQuotes removes one batch of expired pending quotes with a fixed number
// of statements, however many quotes and offers the batch holds.
func (s *Service) expireQuotes(ctx context.Context) (quotes, offers int, err error) {
	err = s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		now := s.Store.Now()
		var ts store.TypeSet
		qs, err := loadQuotesInto(tx, &ts, func(q *gorm.DB) *gorm.DB {
			return s.lockSkipOf(q, "delivery_quotes").
				Where("delivery_quotes.status = ? AND delivery_quotes.expires_at <= ?", store.QuotePending, now).
				Order("delivery_quotes.expires_at").Limit(expireBatch)
		})
		if err != nil {
			return nil, fmt.Errorf("find expired quotes: %w", err)
		}
		ptrs := make([]*store.Quote, len(qs))
		for i := range qs {
			ptrs[i] = &qs[i]
		}
		msgs, n, err := removeQuotes(tx, &ts, ptrs, now)
		quotes, offers = len(qs), n
		return msgs, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("expire quotes: %w", err)
	}
	return quotes, offers, nil
}

func (s *Service) expireOffers(ctx context.Context) (offers int, err error) {
	err = s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		now := s.Store.Now()
		var quoteIDs []uuid.UUID
		err := tx.Model(&store.Offer{}).Distinct("quote_id").Where("status = ? AND expires_at <= ?", store.OfferPending, now).
			Limit(expireBatch).Pluck("quote_id", &quoteIDs).Error
		if err != nil {
			return nil, fmt.Errorf("find expired offers: %w", err)
		}
		if len(quoteIDs) == 0 {
			return nil, nil
		}
		// Lock their quotes, as accept does, so an offer is never both accepted and expired.
		var locked []uuid.UUID
		if err := s.lockSkip(tx.Model(&store.Quote{})).Where("id IN ?", quoteIDs).Pluck("id", &locked).Error; err != nil {
			return nil, fmt.Errorf("lock quotes: %w", err)
		}
		if len(locked) == 0 {
			return nil, nil
		}
		os, err := loadOffers(tx, "delivery_offers.created_at, delivery_offers.id",
			"delivery_offers.quote_id IN ? AND delivery_offers.status = ? AND delivery_offers.expires_at <= ?", locked, store.OfferPending, now)
		if err != nil {
			return nil, err
		}
		offers = len(os)
		return deleteOffers(tx, os, now)
	})
	if err != nil {
		return 0, fmt.Errorf("expire offers: %w", err)
	}
	return offers, nil
}

// RemoveUserMarketplace removes, inside the caller's transaction, a user's
// open quotes (with their offers) and pending offers, and returns the frames
// announcing it (write them with realtime.Write in the same transaction).
// Used when a profile is deleted.
func (s *Service) RemoveUserMarketplace(tx *gorm.DB, userID string) ([]realtime.Message, error) {
	now := s.Store.Now()
	var ts store.TypeSet
	qs, err := loadQuotesInto(tx, &ts, func(q *gorm.DB) *gorm.DB {
		return s.lockOf(q, "delivery_quotes").Where("delivery_quotes.client_id = ?", userID).
			Order("delivery_quotes.created_at").Order("delivery_quotes.id")
	})
	if err != nil {
		return nil, fmt.Errorf("find quotes of %s: %w", userID, err)
	}
	ptrs := make([]*store.Quote, len(qs))
	for i := range qs {
		qs[i].Status = store.QuoteCancelled
		ptrs[i] = &qs[i]
	}
	msgs, _, err := removeQuotes(tx, &ts, ptrs, now)
	if err != nil {
		return nil, err
	}
	var quoteIDs []uuid.UUID
	if err := tx.Model(&store.Offer{}).Where("delivery_person_id = ? AND status = ?", userID, store.OfferPending).Pluck("quote_id", &quoteIDs).Error; err != nil {
		return nil, fmt.Errorf("find offers of %s: %w", userID, err)
	}
	if len(quoteIDs) == 0 {
		return msgs, nil
	}
	if err := s.lock(tx.Model(&store.Quote{})).Where("id IN ?", quoteIDs).Pluck("id", &[]uuid.UUID{}).Error; err != nil {
		return nil, fmt.Errorf("lock quotes: %w", err)
	}
	os, err := loadOffers(tx, "delivery_offers.created_at, delivery_offers.id",
		"delivery_offers.delivery_person_id = ? AND delivery_offers.status = ?", userID, store.OfferPending)
	if err != nil {
		return nil, err
	}
	more, err := deleteOffers(tx, os, now)
	if err != nil {
		return nil, err
	}
	return append(msgs, more...), nil
}

// deleteOffers deletes pending offers (expired, or their driver left) with
// one statement and returns the offer_expired + offer_deleted frames for the
// quote, its client and the driver.
func deleteOffers(tx *gorm.DB, os []store.Offer, now time.Time) ([]realtime.Message, error) {
	if len(os) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, len(os))
	for i := range os {
		ids[i] = os[i].ID
	}
	if err := tx.Where("id IN ?", ids).Delete(&store.Offer{}).Error; err != nil {
		return nil, fmt.Errorf("delete %d offers: %w", len(ids), err)
	}
	var msgs []realtime.Message
	for i := range os {
		o := &os[i]
		o.Version++ // the row is gone: one past its last version
		more, err := offerFrames(o, now, []string{realtime.OfferExpired, realtime.OfferDeleted}, offerQuote(o), offerUser(o), offerDriver(o))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}
