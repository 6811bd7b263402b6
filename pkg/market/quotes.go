package market

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// Messages of the quote rules.
const (
	MsgSameAddresses    = "Las direcciones de recogida y entrega deben ser diferentes"
	MsgPriceNotPositive = "El precio debe ser mayor que cero."
	MsgQuoteNotPending  = "Solo se pueden modificar cotizaciones pendientes"
	MsgQuoteCancelOnly  = "Solo se pueden cancelar cotizaciones pendientes"
	MsgQuoteExpired     = "La cotización ha expirado"
	MsgMinutes          = "Debe indicar un número entero de minutos mayor que cero."
)

// PaymentMethods are the payment methods of a quote (and so of its delivery).
var PaymentMethods = []string{"efectivo", "nequi"}

var (
	quoteStatuses = map[string]bool{store.QuotePending: true, store.QuoteAccepted: true, store.QuoteCancelled: true}
	offerStatuses = map[string]bool{store.OfferPending: true, store.OfferAccepted: true, store.OfferRejected: true}
)

// applyQuote applies the input's Set fields to q and checks the quote rules:
// the category and vehicle type named exist, the price is positive, the
// addresses differ. Field errors, the decoder's included, are answered
// together; the addresses are compared only when every field is valid.
//
// The vehicle types in ts (those of the quote's client) get their categories
// in the same statement as the category and vehicle type named.
func applyQuote(tx *gorm.DB, ts *store.TypeSet, q *store.Quote, in QuoteInput) error {
	f := in.Invalid.Clone()
	if in.PickupAddress.Set && !in.PickupAddress.Null {
		q.PickupAddress = in.PickupAddress.Value
	}
	if in.DeliveryAddress.Set && !in.DeliveryAddress.Null {
		q.DeliveryAddress = in.DeliveryAddress.Value
	}
	if in.PaymentMethod.Set && !in.PaymentMethod.Null {
		q.PaymentMethod = in.PaymentMethod.Value
	}
	var catID, typeID *uuid.UUID
	if in.CategoryID.Set {
		catID = in.CategoryID.Ptr()
	}
	if in.VehicleTypeID.Set {
		typeID = in.VehicleTypeID.Ptr()
	}
	cat, vt, err := resolveRefs(tx, ts, catID, typeID)
	if err != nil {
		return err
	}
	if catID != nil {
		if cat == nil {
			f.Add("category_id", apperr.MsgNoObject(*catID))
		} else {
			q.CategoryID, q.Category = cat.ID, cat
		}
	}
	if in.VehicleTypeID.Set {
		switch {
		case typeID == nil:
			q.VehicleTypeID, q.VehicleType = nil, nil
		case vt == nil:
			f.Add("vehicle_type_id", apperr.MsgNoObject(*typeID))
		default:
			q.VehicleTypeID, q.VehicleType = &vt.ID, vt
		}
	}
	if in.Description.Set {
		q.Description = in.Description.Ptr()
	}
	if in.Observations.Set {
		q.Observations = store.StringList{}
		if !in.Observations.Null {
			q.Observations = in.Observations.Value
		}
	}
	if in.EstimatedWeight.Set {
		q.EstimatedWeight = in.EstimatedWeight.Ptr()
	}
	if in.EstimatedSize.Set {
		q.EstimatedSize = in.EstimatedSize.Ptr()
	}
	if p := in.ClientPrice; p.Set && !p.Null {
		if !p.Value.IsPositive() {
			f.Add("client_price", MsgPriceNotPositive)
		} else {
			q.ClientPrice = p.Value
		}
	}
	// Each point both or neither (place.md §1); the two points may be the
	// same (one building, two floors): only the address texts must differ.
	pickup := geo.Pair{Lat: q.PickupLatitude, Lng: q.PickupLongitude}.
		Merge(f, in.PickupLatitude, in.PickupLongitude, "pickup_latitude", "pickup_longitude")
	q.PickupLatitude, q.PickupLongitude = pickup.Lat, pickup.Lng
	drop := geo.Pair{Lat: q.DeliveryLatitude, Lng: q.DeliveryLongitude}.
		Merge(f, in.DeliveryLatitude, in.DeliveryLongitude, "delivery_latitude", "delivery_longitude")
	q.DeliveryLatitude, q.DeliveryLongitude = drop.Lat, drop.Lng
	if err := f.Err(); err != nil {
		return err
	}
	if strings.EqualFold(strings.TrimSpace(q.PickupAddress), strings.TrimSpace(q.DeliveryAddress)) {
		return apperr.Field(apperr.NonField, MsgSameAddresses)
	}
	return nil
}

// resolveRefs finds, with one statement, the active category and the vehicle
// type a quote names (nil ids are not looked up; nil results: not found) and
// the categories of the vehicle types in ts (which it fills). Only ids and
// names are loaded: all a quote renders of them.
//
// The store's catalog answers without a statement when it holds everything
// asked (the usual case: a known category, the client's vehicle type); a
// category or vehicle type it does not hold is looked up in the database.
func resolveRefs(tx *gorm.DB, ts *store.TypeSet, catID, typeID *uuid.UUID) (*store.Category, *store.VehicleType, error) {
	if cat, vt, ok, err := cachedRefs(tx, ts, catID, typeID); err != nil || ok {
		return cat, vt, err
	}
	var parts []string
	var args []any
	if catID != nil {
		parts = append(parts, "SELECT 'category' AS kind, id AS owner, id, name FROM delivery_categories WHERE id = ? AND is_active")
		args = append(args, *catID)
	}
	if typeID != nil {
		parts = append(parts, "SELECT 'vehicle_type' AS kind, id AS owner, id, name FROM vehicle_types WHERE id = ?")
		args = append(args, *typeID)
	}
	if types := ts.TypeIDs(); len(types) > 0 {
		parts = append(parts, `SELECT 'type_category' AS kind, l.vehicle_type_id AS owner, c.id, c.name FROM delivery_categories c
			JOIN vehicle_type_categories l ON l.category_id = c.id WHERE l.vehicle_type_id IN ?`)
		args = append(args, types)
	}
	if len(parts) == 0 {
		return nil, nil, nil
	}
	var rows []struct {
		Kind  string
		Owner uuid.UUID // the vehicle type of a type_category
		ID    uuid.UUID
		Name  string
	}
	if err := tx.Raw(strings.Join(parts, " UNION ALL ")+" ORDER BY name, id", args...).Scan(&rows).Error; err != nil {
		return nil, nil, fmt.Errorf("check category and vehicle type: %w", err)
	}
	var (
		cat    *store.Category
		vt     *store.VehicleType
		byType = map[uuid.UUID][]store.Category{}
	)
	for _, r := range rows {
		switch {
		case r.Kind == "category":
			cat = &store.Category{ID: r.ID, Name: r.Name, IsActive: true}
		case r.Kind == "vehicle_type":
			vt = &store.VehicleType{ID: r.ID, Name: r.Name}
		default:
			byType[r.Owner] = append(byType[r.Owner], store.Category{ID: r.ID, Name: r.Name})
		}
	}
	ts.Set(byType)
	return cat, vt, nil
}

// cachedRefs is resolveRefs from the store's catalog; ok is false when the
// catalog does not hold every row asked (ts is then left as it was).
func cachedRefs(tx *gorm.DB, ts *store.TypeSet, catID, typeID *uuid.UUID) (cat *store.Category, vt *store.VehicleType, ok bool, err error) {
	if catID != nil {
		if cat, ok, err = store.ActiveCategory(tx, *catID); err != nil || !ok {
			return nil, nil, false, err
		}
	}
	if typeID != nil {
		name, held, err := store.VehicleTypeName(tx, *typeID)
		if err != nil || !held {
			return nil, nil, false, err
		}
		vt = &store.VehicleType{ID: *typeID, Name: name}
	}
	if held, err := ts.FillFromCatalog(tx); err != nil || !held {
		return nil, nil, false, err
	}
	return cat, vt, true, nil
}

// tolerateClient accepts a client_id in the body only when it names the caller.
func tolerateClient(sent, caller string) error {
	if sent != "" && sent != caller {
		return apperr.ForbiddenErr()
	}
	return nil
}

// CreateQuote creates a pending quote for the caller (history quote_created,
// event quote_created); see CreateQuoteRendered.
func (s *Service) CreateQuote(ctx context.Context, caller *store.User, in QuoteInput) (*store.Quote, error) {
	q, _, err := s.CreateQuoteRendered(ctx, caller, in)
	return q, err
}

// CreateQuoteRendered is CreateQuote that also returns the new quote's JSON as
// its client sees it (view.NewQuote for the caller): the data of the frames
// to the client's groups, encoded once for them and for the answer. Its reads (the client with a vehicle, references the
// catalog does not hold) come first, then its three rows (the quote, its
// history row, the frames' outbox row) are written as one batch: one round
// trip on PostgreSQL (realtime.ChangeBatch).
func (s *Service) CreateQuoteRendered(ctx context.Context, caller *store.User, in QuoteInput) (*store.Quote, []byte, error) {
	if err := tolerateClient(in.ClientID, caller.UserID); err != nil {
		return nil, nil, err
	}
	nearby := s.countNearbyNew(ctx, caller, in)
	var (
		q   *store.Quote
		own []byte
	)
	err := s.batchWithRefs(ctx, func(db *gorm.DB, b *store.Batch) ([]realtime.Message, error) {
		now := s.Store.Now()
		nq := store.Quote{ID: uuid.New(), Version: 1, ClientID: caller.UserID, Observations: store.StringList{}, PaymentMethod: "efectivo",
			Status: store.QuotePending, CreatedAt: now, ExpiresAt: now.Add(s.Config.QuoteTTL), HistoryID: uuid.New()}
		var (
			ts  store.TypeSet
			err error
		)
		if nq.Client, err = quoteClient(db, &ts, caller); err != nil {
			return nil, err
		}
		if err := applyQuote(db, &ts, &nq, in); err != nil {
			return nil, err
		}
		nq.AutoAcceptLowest = in.AutoAcceptLowest.Set && in.AutoAcceptLowest.Value // no offer yet: auto_accept_at stays null
		b.InsertQuote(s.Store.Dialect, &nq)
		b.InsertHistory(s.Store.Dialect, historyRow(nq.HistoryID, store.HistoryQuoteCreated, "Cotización creada por el cliente", caller.UserID, now))
		q = &nq
		if hasPickup(q) {
			q.NearbyDrivers = nearby // rendered in its client's frames and the answer
		}
		if own, err = json.Marshal(view.NewQuote(q, q.ClientID)); err != nil {
			return nil, fmt.Errorf("render quote: %w", err)
		}
		render := func(v view.Viewer) any {
			if v == q.ClientID {
				return json.RawMessage(own)
			}
			return view.NewQuote(q, v)
		}
		return quoteFramesWith(q, false, []string{realtime.QuoteCreated}, render, quoteNew(), quoteOwn(q), quoteUser(q))
	})
	if err != nil {
		return nil, nil, err
	}
	return q, own, nil
}

// batchWithRefs is changeWithRefs for a change written as one batch
// (realtime.ChangeBatch): when the database refuses a reference the catalog
// vouched for, the catalog is dropped and the change runs once more.
func (s *Service) batchWithRefs(ctx context.Context, fn func(db *gorm.DB, b *store.Batch) ([]realtime.Message, error)) error {
	run := func() error {
		return store.MapError(realtime.ChangeBatch(ctx, s.Store, s.Outbox, fn), "market change")
	}
	err := run()
	if store.IsForeignKeyViolation(err) {
		s.Store.CatalogChanged()
		err = run()
	}
	return err
}

// countNearbyNew counts nearby_drivers (place.md §5) for a new quote of
// caller's with the pickup in sends (nil: no pickup, an invalid one, or not
// counted). It is read before the quote's transaction, not inside it: the
// count depends only on the pickup and the client, and a read of the
// location store while holding the transaction would lengthen it.
func (s *Service) countNearbyNew(ctx context.Context, caller *store.User, in QuoteInput) *int {
	lat, lng := in.PickupLatitude, in.PickupLongitude
	if s.Nearby == nil || !lat.Set || lat.Null || !lng.Set || lng.Null ||
		in.Invalid.Has("pickup_latitude") || in.Invalid.Has("pickup_longitude") {
		return nil
	}
	probe := store.Quote{ClientID: caller.UserID, Status: store.QuotePending, PickupLatitude: &lat.Value, PickupLongitude: &lng.Value}
	s.Nearby.Fill(ctx, &probe)
	return probe.NearbyDrivers
}

// quoteClient is the client a new quote renders. A caller without a current
// vehicle renders from the row authentication loaded (auth keeps it at most
// auth.DefaultUserTTL; this process's own writes drop it at once), as
// GET /user/api/me/ does: reading it again was the most expensive statement
// of a quote creation (a SELECT with two joins, ≈ 18 % of web's CPU under
// POST quote, issue 23). A caller with a vehicle is read with it, joined.
// The quote's foreign key still checks the row exists.
func quoteClient(tx *gorm.DB, ts *store.TypeSet, caller *store.User) (*store.User, error) {
	if caller.CurrentVehicleID != nil {
		return loadUser(tx, ts, caller.UserID)
	}
	u := *caller
	u.CurrentVehicle = nil
	return &u, nil
}

// ListQuotes is the caller's quotes plus every other pending, unexpired one,
// newest first, optionally of one status.
func (s *Service) ListQuotes(ctx context.Context, caller *store.User, status string, page Page) ([]store.Quote, error) {
	now := s.Store.Now()
	qs, err := loadQuotes(s.Store.DB.WithContext(ctx), func(q *gorm.DB) *gorm.DB {
		q = q.Where("delivery_quotes.client_id = ? OR (delivery_quotes.status = ? AND delivery_quotes.expires_at > ?)",
			caller.UserID, store.QuotePending, now)
		if status = strings.TrimSpace(status); quoteStatuses[status] {
			q = q.Where("delivery_quotes.status = ?", status)
		}
		return page.Apply(q.Order("delivery_quotes.created_at DESC").Order("delivery_quotes.id"))
	})
	if err != nil {
		return nil, apperr.Wrap(err, "list quotes")
	}
	return qs, nil
}

// canSeeQuote: its client, or anyone while it is pending.
func canSeeQuote(q *store.Quote, caller string) bool {
	return q.ClientID == caller || q.Status == store.QuotePending
}

// ownQuote: nil for the client; 403 when the caller can see it, else 404.
func ownQuote(q *store.Quote, caller string) error {
	if q.ClientID == caller {
		return nil
	}
	if canSeeQuote(q, caller) {
		return apperr.ForbiddenErr()
	}
	return apperr.NotFoundErr()
}

// GetQuote is a quote the caller owns, or any pending one.
func (s *Service) GetQuote(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Quote, error) {
	q, err := loadQuote(s.Store.DB.WithContext(ctx), id)
	if err != nil {
		return nil, store.MapError(err, "get quote")
	}
	if !canSeeQuote(q, caller.UserID) {
		return nil, apperr.NotFoundErr()
	}
	return q, nil
}

// lockOwnPending locks and loads the caller's pending quote.
// Its vehicle types are added to ts, not filled.
func (s *Service) lockOwnPending(tx *gorm.DB, ts *store.TypeSet, caller string, id uuid.UUID, notPending string, checkExpiry bool) (*store.Quote, error) {
	q, err := s.lockLoadQuote(tx, ts, id)
	if err != nil {
		return nil, err
	}
	if err := checkOwnPending(q, caller, notPending, checkExpiry, s.Store.Now()); err != nil {
		return nil, err
	}
	return q, nil
}

// quoteUpdatedFrames renders quote_updated, nearby_drivers counted for the
// client's audiences (in the change's transaction: the count is a bounded
// read of the location store, see nearby.FillTimeout). hadPickup is whether q
// had pickup coordinates before the change: when the change gave it some, its
// new_quotes frame is marked Added (every placed socket may be showing it,
// place.md §4).
func (s *Service) quoteUpdatedFrames(tx *gorm.DB, q *store.Quote, hadPickup bool) ([]realtime.Message, error) {
	s.Nearby.Fill(tx.Statement.Context, q)
	auds := []audience{quoteOwn(q), quoteUser(q)}
	if q.Status == store.QuotePending {
		auds = append(auds, quoteNew())
	}
	msgs, err := quoteFrames(q, false, []string{realtime.QuoteUpdated}, auds...)
	for i := range msgs {
		if p := msgs[i].Pickup; p != nil && !hadPickup {
			msgs[i].Pickup = &realtime.Pickup{Lat: p.Lat, Lng: p.Lng, Added: true}
		}
	}
	return msgs, err
}

// hasPickup tells whether q has both pickup coordinates.
func hasPickup(q *store.Quote) bool { return q.PickupLatitude != nil && q.PickupLongitude != nil }

// UpdateQuote changes the Set fields of the caller's pending, unexpired quote
// (PUT and PATCH: their decoders differ in what they require) and publishes
// quote_updated.
func (s *Service) UpdateQuote(ctx context.Context, caller *store.User, id uuid.UUID, in QuoteInput) (*store.Quote, error) {
	if err := tolerateClient(in.ClientID, caller.UserID); err != nil {
		return nil, err
	}
	var q *store.Quote
	err := s.changeWithRefs(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if q, err = s.lockOwnPending(tx, &ts, caller.UserID, id, MsgQuoteNotPending, true); err != nil {
			return nil, err
		}
		hadPickup := hasPickup(q)
		if err := applyQuote(tx, &ts, q, in); err != nil {
			return nil, err
		}
		if in.AutoAcceptLowest.Set {
			q.AutoAcceptLowest = in.AutoAcceptLowest.Value
			if q.AutoAcceptAt, err = s.autoAcceptAt(tx, q); err != nil {
				return nil, err
			}
		}
		err = tx.Model(&store.Quote{}).Where("id = ?", q.ID).Updates(map[string]any{
			"auto_accept_lowest": q.AutoAcceptLowest, "auto_accept_at": q.AutoAcceptAt,
			"pickup_address": q.PickupAddress, "delivery_address": q.DeliveryAddress, "category_id": q.CategoryID,
			"description": q.Description, "observations": q.Observations, "vehicle_type_id": q.VehicleTypeID,
			"estimated_weight": q.EstimatedWeight, "estimated_size": q.EstimatedSize, "client_price": q.ClientPrice,
			"payment_method": q.PaymentMethod, "pickup_latitude": q.PickupLatitude, "pickup_longitude": q.PickupLongitude,
			"delivery_latitude": q.DeliveryLatitude, "delivery_longitude": q.DeliveryLongitude, "version": bumpVersion,
		}).Error
		if err != nil {
			return nil, fmt.Errorf("update quote: %w", err)
		}
		q.Version++
		if err := ts.Fill(tx); err != nil {
			return nil, err
		}
		return s.quoteUpdatedFrames(tx, q, hadPickup)
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// removeQuotes deletes quotes (locked and loaded by the caller) and their
// offers inside tx, with a fixed number of statements, and returns the frames
// announcing each (quote_expired, quote_deleted; offer_expired, offer_deleted
// for each pending offer). Each q.Status is rendered as given. It returns how
// many offers were removed.
//
// The quotes' vehicle types are in ts, which it fills with their offers'.
func removeQuotes(tx *gorm.DB, ts *store.TypeSet, qs []*store.Quote, now time.Time) ([]realtime.Message, int, error) {
	if len(qs) == 0 {
		return nil, 0, nil
	}
	ids := make([]uuid.UUID, len(qs))
	for i, q := range qs {
		ids[i] = q.ID
	}
	offers, err := quoteOffers(tx, ts, ids...)
	if err != nil {
		return nil, 0, err
	}
	if err := ts.Fill(tx); err != nil {
		return nil, 0, err
	}
	// Their offers go with them (delivery_offers.quote_id ON DELETE CASCADE).
	if err := tx.Where("id IN ?", ids).Delete(&store.Quote{}).Error; err != nil {
		return nil, 0, fmt.Errorf("delete %d quotes: %w", len(ids), err)
	}
	byQuote := make(map[uuid.UUID][]store.Offer, len(qs))
	for _, o := range offers {
		byQuote[o.QuoteID] = append(byQuote[o.QuoteID], o)
	}
	var msgs []realtime.Message
	for _, q := range qs {
		more, err := quoteRemovedFrames(q, byQuote[q.ID], now)
		if err != nil {
			return nil, 0, err
		}
		msgs = append(msgs, more...)
	}
	return msgs, len(offers), nil
}

// CancelQuote removes the caller's pending quote and its offers; the answer
// is the quote with status "cancelled".
func (s *Service) CancelQuote(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Quote, error) {
	var q *store.Quote
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if q, err = s.lockOwnPending(tx, &ts, caller.UserID, id, MsgQuoteCancelOnly, false); err != nil {
			return nil, err
		}
		now := s.Store.Now()
		if err := addHistory(tx, q.HistoryID, store.HistoryCancelled, "Cotización cancelada por el cliente", caller.UserID, now); err != nil {
			return nil, err
		}
		q.Status = store.QuoteCancelled
		msgs, _, err := removeQuotes(tx, &ts, []*store.Quote{q}, now)
		return msgs, err
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// ExtendQuote adds minutes (at least one) to the caller's pending quote's
// expiry, never past created_at + QUOTE_MAX_LIFETIME_MINUTES, and returns the
// quote.
func (s *Service) ExtendQuote(ctx context.Context, caller *store.User, id uuid.UUID, minutes int) (*store.Quote, error) {
	if minutes < 1 {
		return nil, apperr.Field("minutes", MsgMinutes)
	}
	var q *store.Quote
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if q, err = s.lockOwnPending(tx, &ts, caller.UserID, id, MsgQuoteNotPending, false); err != nil {
			return nil, err
		}
		exp := extendedExpiry(q, int64(minutes), s.Config.QuoteMaxLifetime)
		q.ExpiresAt = exp
		if err := tx.Model(&store.Quote{}).Where("id = ?", q.ID).Updates(map[string]any{"expires_at": exp, "version": bumpVersion}).Error; err != nil {
			return nil, fmt.Errorf("extend quote: %w", err)
		}
		q.Version++
		if err := ts.Fill(tx); err != nil {
			return nil, err
		}
		return s.quoteUpdatedFrames(tx, q, true)
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}
