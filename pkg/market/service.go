package market

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/apperr"
	"hermez/pkg/nearby"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/track"
)

// Config are the marketplace settings (docs/config.md; pkg/app fills them from
// the process configuration).
type Config struct {
	// QuoteTTL is how long a new quote stays open (QUOTE_TTL_MINUTES).
	QuoteTTL time.Duration
	// OfferTTL is how long an offer stays open, renewed when the driver
	// updates it (OFFER_TTL_MINUTES).
	OfferTTL time.Duration
	// QuoteMaxLifetime bounds a quote's extensions: never open past its
	// creation plus this (QUOTE_MAX_LIFETIME_MINUTES).
	QuoteMaxLifetime time.Duration
	// RequireVerifiedVehicle: offers need a verified vehicle of the driver's
	// (REQUIRE_VERIFIED_VEHICLE).
	RequireVerifiedVehicle bool
	// AutoAcceptDelay: a quote accepting its lowest offer automatically does
	// so this long after its first pending offer (AUTO_ACCEPT_DELAY_SECONDS).
	AutoAcceptDelay time.Duration
}

// Service runs the marketplace rules: each change in one transaction that also
// writes its realtime frames to the outbox; the frames are published after commit.
// The clock is Store.Now.
type Service struct {
	Store  *store.Store
	Outbox *realtime.Outbox
	Config Config
	Log    *slog.Logger
	// Tracking is live tracking (place.md §6): told of every delivery change
	// after it committed, and the source of driver_location on the delivery
	// frames while tracked. nil: none.
	Tracking *track.Tracker
	// Nearby counts nearby_drivers (place.md §5) for the quotes rendered in
	// their client's frames; nil: never counted (rendered null).
	Nearby *nearby.Counter
}

// New builds the service.
func New(st *store.Store, outbox *realtime.Outbox, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: st, Outbox: outbox, Config: cfg, Log: log}
}

// change runs fn with realtime.Change (one transaction, its frames written
// to the outbox and published after commit) and maps its errors.
func (s *Service) change(ctx context.Context, fn func(tx *gorm.DB) ([]realtime.Message, error)) error {
	return store.MapError(realtime.Change(ctx, s.Store, s.Outbox, fn), "market change")
}

// changeWithRefs is change for a write whose references (category, vehicle
// type) were checked against the store's catalog: when the database refuses
// one (another process deleted it within store.CatalogTTL), the catalog is
// dropped and the change runs once more, checking against the database.
func (s *Service) changeWithRefs(ctx context.Context, fn func(tx *gorm.DB) ([]realtime.Message, error)) error {
	err := s.change(ctx, fn)
	if store.IsForeignKeyViolation(err) {
		s.Store.CatalogChanged()
		err = s.change(ctx, fn)
	}
	return err
}

// lock takes a row lock on PostgreSQL (SELECT … FOR UPDATE); SQLite is already
// serialized by BEGIN IMMEDIATE.
func (s *Service) lock(tx *gorm.DB) *gorm.DB {
	if s.Store.Dialect == store.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// lockOf locks the main table's rows of a joined query on PostgreSQL
// (SELECT … FOR UPDATE OF it: the joined rows stay unlocked); SQLite is
// already serialized by BEGIN IMMEDIATE.
func (s *Service) lockOf(tx *gorm.DB, table string) *gorm.DB {
	if s.Store.Dialect == store.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE", Table: clause.Table{Name: table}})
	}
	return tx
}

// loadQuotes loads the quotes matching q with what their JSON needs (two
// statements whatever their number; q names columns with their table).
func loadQuotes(tx *gorm.DB, q func(*gorm.DB) *gorm.DB) ([]store.Quote, error) {
	var ts store.TypeSet
	qs, err := loadQuotesInto(tx, &ts, q)
	if err != nil {
		return nil, err
	}
	return qs, ts.Fill(tx)
}

// loadQuotesInto is loadQuotes without the vehicle-type categories: their
// types are added to ts, for the caller to fill with those of other rows.
func loadQuotesInto(tx *gorm.DB, ts *store.TypeSet, q func(*gorm.DB) *gorm.DB) ([]store.Quote, error) {
	return loadQuotesJoined(tx, ts, store.JoinQuotes, q)
}

// loadQuotesJoined is loadQuotesInto with the joins of join.
func loadQuotesJoined(tx *gorm.DB, ts *store.TypeSet, join func(*gorm.DB) *gorm.DB, q func(*gorm.DB) *gorm.DB) ([]store.Quote, error) {
	var qs []store.Quote
	if err := q(join(tx)).Find(&qs).Error; err != nil {
		return nil, fmt.Errorf("load quotes: %w", err)
	}
	for i := range qs {
		ts.Quote(&qs[i])
	}
	return qs, nil
}

// loadQuote loads a quote with what its JSON needs (404 when absent).
func loadQuote(tx *gorm.DB, id uuid.UUID) (*store.Quote, error) {
	qs, err := loadQuotes(tx, func(d *gorm.DB) *gorm.DB { return d.Where("delivery_quotes.id = ?", id) })
	if err != nil {
		return nil, err
	}
	if len(qs) == 0 {
		return nil, apperr.NotFoundErr()
	}
	return &qs[0], nil
}

// lockLoadQuote locks quote id (FOR UPDATE) and loads it with what its JSON
// needs in one statement, except the vehicle-type categories: its types are
// added to ts (404 when absent).
func (s *Service) lockLoadQuote(tx *gorm.DB, ts *store.TypeSet, id uuid.UUID) (*store.Quote, error) {
	qs, err := loadQuotesJoined(tx, ts, store.JoinQuotes, func(d *gorm.DB) *gorm.DB {
		return s.lockOf(d, "delivery_quotes").Where("delivery_quotes.id = ?", id)
	})
	if err != nil {
		return nil, err
	}
	if len(qs) == 0 {
		return nil, apperr.NotFoundErr()
	}
	return &qs[0], nil
}

// loadOffers loads offers matching the query (columns named with their table)
// with what their JSON needs.
func loadOffers(tx *gorm.DB, order string, query any, args ...any) ([]store.Offer, error) {
	var os []store.Offer
	q := store.JoinOffers(tx).Where(query, args...)
	if order != "" {
		q = q.Order(order)
	}
	if err := q.Find(&os).Error; err != nil {
		return nil, fmt.Errorf("load offers: %w", err)
	}
	var ts store.TypeSet
	for i := range os {
		ts.Offer(&os[i])
	}
	return os, ts.Fill(tx)
}

// loadOffer loads one offer (404 when absent).
func loadOffer(tx *gorm.DB, id uuid.UUID) (*store.Offer, error) {
	os, err := loadOffers(tx, "", "delivery_offers.id = ?", id)
	if err != nil {
		return nil, err
	}
	if len(os) == 0 {
		return nil, apperr.NotFoundErr()
	}
	return &os[0], nil
}

// quoteOffers loads the offers of quote q (which the caller holds, locked)
// in creation order, each with q as its quote; their vehicle types are added
// to ts, not filled.
func quoteOffers(tx *gorm.DB, ts *store.TypeSet, quoteIDs ...uuid.UUID) ([]store.Offer, error) {
	var os []store.Offer
	err := store.JoinOffersNoQuote(tx).Where("delivery_offers.quote_id IN ?", quoteIDs).
		Order("delivery_offers.created_at").Order("delivery_offers.id").Find(&os).Error
	if err != nil {
		return nil, fmt.Errorf("load offers: %w", err)
	}
	for i := range os {
		ts.Offer(&os[i])
	}
	return os, nil
}

// loadDeliveries loads deliveries with what their JSON needs (q names columns
// with their table).
func loadDeliveries(tx *gorm.DB, q func(*gorm.DB) *gorm.DB) ([]store.Delivery, error) {
	var ts store.TypeSet
	ds, err := loadDeliveriesInto(tx, &ts, q)
	if err != nil {
		return nil, err
	}
	return ds, ts.Fill(tx)
}

// loadDeliveriesInto is loadDeliveries without the vehicle-type categories:
// their types are added to ts.
func loadDeliveriesInto(tx *gorm.DB, ts *store.TypeSet, q func(*gorm.DB) *gorm.DB) ([]store.Delivery, error) {
	var ds []store.Delivery
	if err := q(store.JoinDeliveries(tx)).Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	for i := range ds {
		ts.Delivery(&ds[i])
	}
	return ds, nil
}

// loadDelivery loads one delivery (404 when absent).
func loadDelivery(tx *gorm.DB, id uuid.UUID) (*store.Delivery, error) {
	ds, err := loadDeliveries(tx, func(d *gorm.DB) *gorm.DB { return d.Where("deliveries.id = ?", id) })
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, apperr.NotFoundErr()
	}
	return &ds[0], nil
}

// loadUser loads a user with their current vehicle and its type; the type's
// categories are added to ts, not filled.
func loadUser(tx *gorm.DB, ts *store.TypeSet, userID string) (*store.User, error) {
	var u store.User
	if err := store.JoinUsers(tx).Where("users.userid = ?", userID).Take(&u).Error; err != nil {
		return nil, fmt.Errorf("load user %s: %w", userID, err)
	}
	ts.User(&u)
	return &u, nil
}

// driverWith is the caller's row as an offer renders its driver: the row
// authentication loaded (as quoteClient), with its current vehicle v (and
// that vehicle's type) as store.LockQuote read it in the offer's first
// statement (the offer stores the vehicle: it must be the current one now,
// not as the row said up to auth.DefaultUserTTL ago); nil v: none. The
// type's categories are added to ts.
func driverWith(ts *store.TypeSet, caller *store.User, v *store.Vehicle) *store.User {
	u := *caller
	u.CurrentVehicle, u.CurrentVehicleID = nil, nil
	if v != nil {
		u.CurrentVehicle, u.CurrentVehicleID = v, &v.VehicleID
		ts.User(&u)
	}
	return &u
}

// history appends one history row; at is strictly after the previous row of
// the same action so "oldest first" is stable.
func addHistory(tx *gorm.DB, historyID uuid.UUID, eventType, description string, by string, at time.Time) error {
	return addHistoryRows(tx, historyRow(historyID, eventType, description, by, at))
}

func historyRow(historyID uuid.UUID, eventType, description string, by string, at time.Time) store.HistoryEvent {
	h := store.HistoryEvent{ID: uuid.New(), HistoryID: historyID, EventType: eventType, Description: description, CreatedAt: at}
	if by != "" {
		h.ChangedByID = &by
	}
	return h
}

// addHistoryRows writes history rows with one statement.
func addHistoryRows(tx *gorm.DB, hs ...store.HistoryEvent) error {
	if err := store.InsertHistory(tx, hs...); err != nil {
		return fmt.Errorf("write history %s: %w", hs[0].EventType, err)
	}
	return nil
}

// Page is the opt-in ?limit=&offset= paging of lists (zero Limit: everything).
type Page = store.Page
