package market

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// MsgAutoAccepted is the history description of an automatic accept (place.md §7).
const MsgAutoAccepted = "Oferta aceptada automáticamente (la más baja)"

// AutoAcceptTick is how often each runner looks for due automatic accepts:
// with it, an accept happens within AutoAcceptTick (plus the accept's own
// time) of auto_accept_at, well inside place.md's 2 s.
const AutoAcceptTick = 500 * time.Millisecond

// autoAcceptAt is what q.AutoAcceptAt must be, read inside tx with q locked:
// its oldest pending, unexpired offer's created_at + AutoAcceptDelay while
// AutoAcceptLowest is on and the quote pending; nil otherwise.
func (s *Service) autoAcceptAt(tx *gorm.DB, q *store.Quote) (*time.Time, error) {
	if !q.AutoAcceptLowest || q.Status != store.QuotePending {
		return nil, nil
	}
	var first []store.Offer
	err := tx.Select("created_at").Where("quote_id = ? AND status = ? AND expires_at > ?", q.ID, store.OfferPending, s.Store.Now()).
		Order("created_at").Limit(1).Find(&first).Error
	if err != nil {
		return nil, fmt.Errorf("oldest pending offer of quote %s: %w", q.ID, err)
	}
	if len(first) == 0 {
		return nil, nil
	}
	at := first[0].CreatedAt.Add(s.Config.AutoAcceptDelay)
	return &at, nil
}

// armAutoAccept is called inside a new or renewed offer's transaction, the
// quote locked: a quote accepting automatically that waited for an offer now
// has its instant (now + AutoAcceptDelay), announced by quote_updated.
func (s *Service) armAutoAccept(tx *gorm.DB, q *store.Quote, now time.Time) ([]realtime.Message, error) {
	if !q.AutoAcceptLowest || q.AutoAcceptAt != nil || q.Status != store.QuotePending {
		return nil, nil
	}
	at := now.Add(s.Config.AutoAcceptDelay)
	if err := tx.Model(&store.Quote{}).Where("id = ?", q.ID).
		Updates(map[string]any{"auto_accept_at": at, "version": bumpVersion}).Error; err != nil {
		return nil, fmt.Errorf("arm auto accept of quote %s: %w", q.ID, err)
	}
	q.AutoAcceptAt = &at
	q.Version++
	return s.quoteUpdatedFrames(tx, q, true)
}

// AutoAcceptDue runs every automatic accept that is due (auto_accept_at
// reached), each in its own transaction, and returns how many deliveries it
// made. Any number of runners (web and worker instances) may call it at once:
// a due quote is taken with SELECT … FOR UPDATE SKIP LOCKED, the accept locks
// it again and checks it is still pending (the client's accept, cancel or
// switch-off, and the sweeper, hold the same lock), so each fires once.
func (s *Service) AutoAcceptDue(ctx context.Context) (int, error) {
	made := 0
	for range 100 { // bounded per tick; the next tick takes the rest
		done, accepted, err := s.autoAcceptOne(ctx)
		if err != nil {
			return made, err
		}
		if accepted {
			made++
		}
		if done {
			return made, nil
		}
	}
	return made, nil
}

// autoAcceptOne handles the earliest due quote: the lowest pending, unexpired
// offer (ties: the earliest) is accepted through acceptIn; with none left,
// auto_accept_at is recomputed (null until the next offer). done: nothing was due.
func (s *Service) autoAcceptOne(ctx context.Context) (done, accepted bool, err error) {
	var d *store.Delivery
	err = s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		now := s.Store.Now()
		pick := tx.Model(&store.Quote{}).Select("id", "client_id").
			Where("auto_accept_at IS NOT NULL AND auto_accept_at <= ? AND auto_accept_lowest AND status = ? AND expires_at > ?",
				now, store.QuotePending, now).
			Order("auto_accept_at").Limit(1)
		if s.Store.Dialect == store.Postgres {
			pick = pick.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var due []store.Quote
		if err := pick.Find(&due).Error; err != nil {
			return nil, fmt.Errorf("pick a due automatic accept: %w", err)
		}
		if len(due) == 0 {
			done = true
			return nil, nil
		}
		q := due[0]
		var offers []store.Offer
		if err := tx.Select("id", "proposed_price", "created_at").
			Where("quote_id = ? AND status = ? AND expires_at > ?", q.ID, store.OfferPending, now).
			Order("created_at").Order("id").Find(&offers).Error; err != nil {
			return nil, fmt.Errorf("offers of quote %s: %w", q.ID, err)
		}
		var lowest *store.Offer
		for i := range offers { // proposed_price is text on SQLite: compared here, not in SQL
			if lowest == nil || offers[i].ProposedPrice.LessThan(lowest.ProposedPrice) {
				lowest = &offers[i]
			}
		}
		if lowest != nil {
			var msgs []realtime.Message
			d, _, msgs, err = s.acceptIn(tx, q.ClientID, nil, lowest.ID, func(*store.Offer) string { return MsgAutoAccepted })
			if err != nil {
				return nil, fmt.Errorf("automatic accept of offer %s on quote %s: %w", lowest.ID, q.ID, err)
			}
			accepted = true
			s.Log.Info("automatic accept of the lowest offer", "quote_id", q.ID, "offer_id", lowest.ID)
			return msgs, nil
		}
		// Every offer expired or left meanwhile: wait for the next one.
		return s.rearmAutoAccept(tx, q.ID)
	})
	if err == nil && d != nil {
		s.Tracking.Changed(ctx, d)
	}
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind != apperr.Internal {
			// A rule refused it under the lock (a concurrent change won): nothing due any more for this quote.
			return false, false, nil
		}
	}
	return done, accepted, err
}

// rearmAutoAccept recomputes a due quote's auto_accept_at when it had no offer
// to accept (quote_updated announces the change).
func (s *Service) rearmAutoAccept(tx *gorm.DB, id uuid.UUID) ([]realtime.Message, error) {
	var ts store.TypeSet
	q, err := s.lockLoadQuote(tx, &ts, id)
	if err != nil {
		return nil, err
	}
	at, err := s.autoAcceptAt(tx, q)
	if err != nil {
		return nil, err
	}
	if err := tx.Model(&store.Quote{}).Where("id = ?", q.ID).
		Updates(map[string]any{"auto_accept_at": at, "version": bumpVersion}).Error; err != nil {
		return nil, fmt.Errorf("recompute auto accept of quote %s: %w", q.ID, err)
	}
	q.AutoAcceptAt = at
	q.Version++
	if err := ts.Fill(tx); err != nil {
		return nil, err
	}
	return s.quoteUpdatedFrames(tx, q, true)
}
