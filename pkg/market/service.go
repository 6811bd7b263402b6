package market

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

// Config are the marketplace settings (config.md).
type Config struct {
	QuoteTTL               time.Duration
	OfferTTL               time.Duration
	QuoteMaxLifetime       time.Duration
	RequireVerifiedVehicle bool
}

// ConfigFrom takes the marketplace settings from the process configuration.
func ConfigFrom(c config.Config) Config {
	return Config{QuoteTTL: c.QuoteTTL(), OfferTTL: c.OfferTTL(), QuoteMaxLifetime: c.QuoteMaxLifetime(),
		RequireVerifiedVehicle: c.RequireVerifiedVehicle}
}

// Service runs the marketplace rules: each change in one transaction that also
// writes its realtime frames to the outbox; the frames are published after commit.
// The clock is store.Now (tests replace it).
type Service struct {
	Store  *store.Store
	Outbox *realtime.Outbox
	Config Config
	Log    *slog.Logger

	categories categoryCache
}

// New builds the service.
func New(st *store.Store, outbox *realtime.Outbox, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: st, Outbox: outbox, Config: cfg, Log: log}
}

// change runs fn in one transaction, writes the frames it returns to the
// outbox in the same transaction, and publishes them after commit (a publish
// failure is logged and left to the relay; it never fails the action).
func (s *Service) change(ctx context.Context, fn func(tx *gorm.DB) ([]realtime.Message, error)) error {
	var pending *realtime.Pending
	err := s.Store.Transaction(ctx, func(tx *gorm.DB) error {
		msgs, err := fn(tx)
		if err != nil {
			return err
		}
		pending, err = realtime.Write(tx, msgs...)
		return err
	})
	if err != nil {
		return mapDBError(err)
	}
	if s.Outbox != nil {
		s.Outbox.Flush(ctx, pending)
	}
	return nil
}

// mapDBError keeps business errors and turns the database's into apperr kinds.
func mapDBError(err error) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apperr.NotFoundErr()
	}
	if store.IsUniqueViolation(err) {
		return &apperr.Error{Kind: apperr.Conflict, Message: "El recurso fue modificado por otra solicitud; intente de nuevo.", Err: err}
	}
	return apperr.Wrap(err, "market")
}

// lock takes a row lock on PostgreSQL (SELECT … FOR UPDATE); SQLite is already
// serialized by BEGIN IMMEDIATE.
func (s *Service) lock(tx *gorm.DB) *gorm.DB {
	if s.Store.Dialect == store.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// lockQuote locks the quote row and tells whether it exists.
func (s *Service) lockQuote(tx *gorm.DB, id uuid.UUID) (bool, error) {
	var ids []uuid.UUID
	if err := s.lock(tx.Model(&store.Quote{})).Where("id = ?", id).Pluck("id", &ids).Error; err != nil {
		return false, fmt.Errorf("lock quote %s: %w", id, err)
	}
	return len(ids) > 0, nil
}

// loadQuote loads a quote with what its JSON needs.
func loadQuote(tx *gorm.DB, id uuid.UUID) (*store.Quote, error) {
	var q store.Quote
	err := store.PreloadQuote(tx, "").Where("id = ?", id).Take(&q).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.NotFoundErr()
	}
	if err != nil {
		return nil, fmt.Errorf("load quote %s: %w", id, err)
	}
	return &q, nil
}

// loadOffers loads offers matching the query with what their JSON needs.
func loadOffers(tx *gorm.DB, order string, query any, args ...any) ([]store.Offer, error) {
	var os []store.Offer
	q := store.PreloadOffer(tx, "").Where(query, args...)
	if order != "" {
		q = q.Order(order)
	}
	if err := q.Find(&os).Error; err != nil {
		return nil, fmt.Errorf("load offers: %w", err)
	}
	return os, nil
}

// loadOffer loads one offer (404 when absent).
func loadOffer(tx *gorm.DB, id uuid.UUID) (*store.Offer, error) {
	os, err := loadOffers(tx, "", "id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(os) == 0 {
		return nil, apperr.NotFoundErr()
	}
	return &os[0], nil
}

// loadDeliveries loads deliveries with what their JSON needs.
func loadDeliveries(tx *gorm.DB, q func(*gorm.DB) *gorm.DB) ([]store.Delivery, error) {
	var ds []store.Delivery
	if err := q(store.PreloadDelivery(tx)).Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	return ds, nil
}

// loadDelivery loads one delivery (404 when absent).
func loadDelivery(tx *gorm.DB, id uuid.UUID) (*store.Delivery, error) {
	ds, err := loadDeliveries(tx, func(d *gorm.DB) *gorm.DB { return d.Where("id = ?", id) })
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, apperr.NotFoundErr()
	}
	return &ds[0], nil
}

// history appends one history row; at is strictly after the previous row of
// the same action so "oldest first" is stable.
func addHistory(tx *gorm.DB, historyID uuid.UUID, eventType, description string, by string, at time.Time) error {
	h := store.HistoryEvent{ID: uuid.New(), HistoryID: historyID, EventType: eventType, Description: description, CreatedAt: at}
	if by != "" {
		h.ChangedByID = &by
	}
	if err := tx.Create(&h).Error; err != nil {
		return fmt.Errorf("write history %s: %w", eventType, err)
	}
	return nil
}

// Page is the opt-in ?limit=&offset= paging of lists (zero Limit: everything).
type Page = store.Page
