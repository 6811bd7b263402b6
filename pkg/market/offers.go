package market

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// Messages of the offer rules.
const (
	MsgOwnQuote           = "No puede hacer una oferta en su propia cotización"
	MsgQuoteNotOpen       = "La cotización ya no está disponible para ofertas"
	MsgOfferRejectedOnce  = "Su oferta en esta cotización fue rechazada; no puede ofertar de nuevo"
	MsgOfferNotPending    = "Solo se pueden aceptar ofertas pendientes"
	MsgRejectNotPending   = "Solo se pueden rechazar ofertas pendientes"
	MsgOfferExpired       = "La oferta ha expirado"
	MsgQuoteGone          = "La cotización ya no está pendiente"
	MsgVehicleNotYours    = "El vehículo no existe o no le pertenece."
	MsgVehicleRequired    = "Debe tener un vehículo verificado para hacer ofertas."
	MsgVehicleNotVerified = "El vehículo aún no ha sido verificado."
	MsgOfferAccepted      = "Oferta aceptada y domicilio creado"
	MsgDuration           = "Formato de duración inválido. Use [DD] [HH:[MM:]]ss[.uuuuuu]."
	MsgQuoteMismatch      = "La cotización indicada no coincide con la de la ruta."
)

// checkOfferInput checks an offer's input against the caller and the route's
// quote: a delivery_person_id naming someone else is 403; the field errors
// (the decoder's, a quote_id of another quote, a price that is not positive)
// are answered together.
func checkOfferInput(in OfferInput, caller string, quoteID uuid.UUID) error {
	if in.DriverID != "" && in.DriverID != caller {
		return apperr.ForbiddenErr()
	}
	f := in.Invalid.Clone()
	if in.QuoteID != nil && *in.QuoteID != quoteID {
		f.Add("quote_id", MsgQuoteMismatch)
	}
	if p := in.ProposedPrice; p.Set && !p.Null && !p.Value.IsPositive() {
		f.Add("proposed_price", MsgPriceNotPositive)
	}
	if !in.ProposedPrice.Set && !f.Has("proposed_price") {
		f.Add("proposed_price", apperr.MsgRequired)
	}
	return f.Err()
}

// offerVehicle resolves the vehicle of an offer: the one named (it must be
// the driver's), else fallback (the vehicle of the offer being updated), else
// the driver's current vehicle; verified when required. The driver's current
// vehicle is already loaded; another is loaded with its type (added to ts).
func (s *Service) offerVehicle(tx *gorm.DB, ts *store.TypeSet, driver *store.User, in OfferInput, fallback *uuid.UUID) (*store.Vehicle, error) {
	id := in.VehicleID
	if id == nil {
		id = fallback
		if id == nil {
			id = driver.CurrentVehicleID
		}
	}
	if id == nil {
		if s.Config.RequireVerifiedVehicle {
			return nil, apperr.Field("vehicle_id", MsgVehicleRequired)
		}
		return nil, nil
	}
	v := driver.CurrentVehicle
	if v == nil || v.VehicleID != *id || v.UserID != driver.UserID {
		v = &store.Vehicle{}
		err := store.JoinVehicles(tx).Where("vehicles.vehicle_id = ? AND vehicles.user_id = ?", *id, driver.UserID).Take(v).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.Field("vehicle_id", MsgVehicleNotYours)
		}
		if err != nil {
			return nil, fmt.Errorf("load vehicle: %w", err)
		}
		ts.Vehicle(v)
	}
	if s.Config.RequireVerifiedVehicle && !v.IsVerified {
		return nil, apperr.Field("vehicle_id", MsgVehicleNotVerified)
	}
	return v, nil
}

func vehicleID(v *store.Vehicle) *uuid.UUID {
	if v == nil {
		return nil
	}
	return &v.VehicleID
}

// MakeOffer records the caller's offer on a pending, unexpired quote of
// someone else, or updates their pending one (renewing its expiry). created
// tells which (201 vs 200).
func (s *Service) MakeOffer(ctx context.Context, caller *store.User, quoteID uuid.UUID, in OfferInput) (out *store.Offer, created bool, err error) {
	if err := checkOfferInput(in, caller.UserID, quoteID); err != nil {
		return nil, false, err
	}
	price := in.ProposedPrice.Value
	var o *store.Offer
	err = s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var ts store.TypeSet
		// One statement: the quote locked, with its client, and the
		// driver's current vehicle read fresh (see driverWith).
		lq, found, err := store.LockQuote(tx, store.ByQuote, quoteID, true, caller.UserID)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, apperr.NotFoundErr()
		}
		q := lq.Quote
		ts.Quote(q)
		now := s.Store.Now()
		if err := checkOfferOn(q, caller.UserID, now); err != nil {
			return nil, err
		}
		driver := driverWith(&ts, caller, lq.Vehicle)
		var (
			eventType   = realtime.OfferMade
			description = "Nueva oferta creada por domiciliario"
		)
		// A new offer is inserted unless the driver already has one on this
		// quote (the key delivery_offers_person_quote_key): no statement
		// looks for it first. The quote's lock covers its offers (every
		// change of an offer locks its quote first).
		v, verr := s.offerVehicle(tx, &ts, driver, in, nil)
		if verr == nil {
			o = &store.Offer{ID: uuid.New(), Version: 1, DeliveryPersonID: caller.UserID, QuoteID: quoteID, ProposedPrice: price,
				EstimatedDeliveryTime: in.EstimatedDeliveryTime.Ptr(), VehicleID: vehicleID(v), Status: store.OfferPending,
				CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.Config.OfferTTL)}
			// The history row is written with it (one statement), only when it was.
			h := historyRow(q.HistoryID, store.HistoryOfferMade, description, caller.UserID, now)
			if created, err = store.InsertOfferWithHistory(tx, o, h); err != nil {
				return nil, fmt.Errorf("create offer: %w", err)
			}
			o.Vehicle = v
		}
		if !created {
			// The driver's offer exists, or their vehicle could not be
			// resolved without it (an existing offer's vehicle stands in).
			var existing []store.Offer
			if err := tx.Where("quote_id = ? AND delivery_person_id = ?", quoteID, caller.UserID).Find(&existing).Error; err != nil {
				return nil, fmt.Errorf("load own offer: %w", err)
			}
			if len(existing) == 0 {
				if verr != nil {
					return nil, verr
				}
				return nil, fmt.Errorf("create offer: refused, yet no offer of %s on quote %s", caller.UserID, quoteID)
			}
			o = &existing[0]
			if o.Status != store.OfferPending {
				return nil, apperr.New(apperr.Invalid, MsgOfferRejectedOnce)
			}
			if o.Vehicle, err = s.offerVehicle(tx, &ts, driver, in, o.VehicleID); err != nil {
				return nil, err
			}
			o.ProposedPrice, o.VehicleID, o.ExpiresAt, o.UpdatedAt = price, vehicleID(o.Vehicle), now.Add(s.Config.OfferTTL), now
			changes := map[string]any{"proposed_price": o.ProposedPrice, "vehicle_id": o.VehicleID,
				"expires_at": o.ExpiresAt, "updated_at": now, "version": bumpVersion}
			if t := in.EstimatedDeliveryTime; t.Set {
				o.EstimatedDeliveryTime = t.Ptr()
				changes["estimated_delivery_time"] = o.EstimatedDeliveryTime
			}
			if err := tx.Model(&store.Offer{}).Where("id = ?", o.ID).Updates(changes).Error; err != nil {
				return nil, fmt.Errorf("update offer: %w", err)
			}
			o.Version++
			eventType, description = realtime.OfferUpdated, "Oferta actualizada por domiciliario"
			if err := addHistory(tx, q.HistoryID, store.HistoryOfferMade, description, caller.UserID, now); err != nil {
				return nil, err
			}
		}
		o.Quote, o.Driver = q, driver
		if err := ts.Fill(tx); err != nil {
			return nil, err
		}
		s.Nearby.Fill(tx.Statement.Context, q) // the nested quote of the client's frames
		msgs, err := offerFrames(o, now, []string{eventType}, offerQuote(o), offerUser(o), offerDriver(o))
		if err != nil {
			return nil, err
		}
		more, err := s.armAutoAccept(tx, q, now)
		return append(msgs, more...), err
	})
	if err != nil {
		return nil, false, err
	}
	return o, created, nil
}

// ListQuoteOffers lists a visible quote's offers: all of them for its client,
// only the caller's own for a driver.
func (s *Service) ListQuoteOffers(ctx context.Context, caller *store.User, quoteID uuid.UUID, status string) ([]store.Offer, error) {
	db := s.Store.DB.WithContext(ctx)
	var q store.Quote
	if err := db.Select("id", "client_id", "status").Where("id = ?", quoteID).Take(&q).Error; err != nil {
		return nil, store.MapError(err, "list quote offers")
	}
	if !canSeeQuote(&q, caller.UserID) {
		return nil, apperr.NotFoundErr()
	}
	cond, args := "delivery_offers.quote_id = ?", []any{quoteID}
	if q.ClientID != caller.UserID {
		cond, args = cond+" AND delivery_offers.delivery_person_id = ?", append(args, caller.UserID)
	}
	if status = strings.TrimSpace(status); offerStatuses[status] {
		cond, args = cond+" AND delivery_offers.status = ?", append(args, status)
	}
	os, err := loadOffers(db, "delivery_offers.created_at, delivery_offers.id", cond, args...)
	if err != nil {
		return nil, apperr.Wrap(err, "list quote offers")
	}
	return os, nil
}

// ListOffers lists the offers the caller made or received, newest first.
func (s *Service) ListOffers(ctx context.Context, caller *store.User, status string, page Page) ([]store.Offer, error) {
	db := s.Store.DB.WithContext(ctx)
	cond := "(delivery_offers.delivery_person_id = ? OR delivery_offers.quote_id IN (SELECT id FROM delivery_quotes WHERE client_id = ?))"
	args := []any{caller.UserID, caller.UserID}
	if status = strings.TrimSpace(status); offerStatuses[status] {
		cond, args = cond+" AND delivery_offers.status = ?", append(args, status)
	}
	os, err := loadOffers(page.Apply(db), "delivery_offers.created_at DESC, delivery_offers.id", cond, args...)
	if err != nil {
		return nil, apperr.Wrap(err, "list offers")
	}
	return os, nil
}

// GetOffer is an offer the caller made or received.
func (s *Service) GetOffer(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Offer, error) {
	o, err := loadOffer(s.Store.DB.WithContext(ctx), id)
	if err != nil {
		return nil, store.MapError(err, "get offer")
	}
	if o.DeliveryPersonID != caller.UserID && (o.Quote == nil || o.Quote.ClientID != caller.UserID) {
		return nil, apperr.NotFoundErr()
	}
	return o, nil
}

// lockOfferForClient locks the offer's quote and loads the offer with its
// quote (and, with all, every other offer of the quote, in creation order);
// only the quote's client passes (its driver gets 403, anyone else 404). The
// offers' vehicle types are added to ts, not filled. row is the caller's row
// authentication loaded (nil: none; see lockLoadQuoteFor).
func (s *Service) lockOfferForClient(tx *gorm.DB, ts *store.TypeSet, caller string, row *store.User, id uuid.UUID, all bool) (o *store.Offer, others []store.Offer, err error) {
	// When the caller has no current vehicle, their quote's client renders
	// from the row authentication loaded, as a new quote's does
	// (quoteClient): the quote is read without its client's joins.
	readClient := row == nil || row.CurrentVehicleID != nil
	lq, found, err := store.LockQuote(tx, store.ByOffer, id, readClient, "")
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, apperr.NotFoundErr()
	}
	q := lq.Quote
	if !readClient && q.ClientID == row.UserID {
		u := *row
		u.CurrentVehicle = nil
		q.Client = &u
	}
	ts.Quote(q)
	// Read under the lock: a concurrent accept may have removed it.
	var only *uuid.UUID
	if !all {
		only = &id
	}
	os, err := store.QuoteOffers(tx, q.ID, only)
	if err != nil {
		return nil, nil, err
	}
	for i := range os {
		os[i].Quote = q
		if os[i].ID == id {
			o = &os[i]
		} else {
			others = append(others, os[i])
		}
	}
	if o == nil {
		return nil, nil, apperr.NotFoundErr()
	}
	if q.ClientID != caller {
		if o.DeliveryPersonID == caller {
			return nil, nil, apperr.ForbiddenErr()
		}
		return nil, nil, apperr.NotFoundErr()
	}
	ts.Offer(o)
	for i := range others {
		ts.Offer(&others[i])
	}
	return o, others, nil
}

// AcceptOffer: in one transaction, with the quote row locked, the quote's
// client turns a pending, unexpired offer into a delivery; the quote and all
// its offers are removed. Concurrent accepts yield exactly one delivery,
// which it returns.
func (s *Service) AcceptOffer(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Delivery, error) {
	d, _, err := s.AcceptOfferLocated(ctx, caller, id)
	return d, err
}

// AcceptOfferLocated is AcceptOffer, also returning the delivery's
// driver_location as its frames carry it (place.md §6; nil when the driver
// has no fresh location): the caller, its client, renders its answer with it
// instead of reading the location store a second time.
func (s *Service) AcceptOfferLocated(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Delivery, *view.DriverLocation, error) {
	var (
		d  *store.Delivery
		dl *view.DriverLocation
	)
	err := s.change(ctx, func(tx *gorm.DB) (msgs []realtime.Message, err error) {
		d, dl, msgs, err = s.acceptIn(tx, caller.UserID, caller, id, func(o *store.Offer) string {
			return "Oferta aceptada por el cliente con precio $" + o.ProposedPrice.StringFixed(2)
		})
		return msgs, err
	})
	if err != nil {
		return nil, nil, err
	}
	s.Tracking.Changed(ctx, d)
	return d, dl, nil
}

// acceptIn is the accept itself, inside tx: the quote locked, the offer
// checked, the delivery created, the history row written (described by desc,
// changed by the client), the quote and its offers removed; it returns the
// delivery, its driver_location (nil: none) and every frame. The client's
// accept and the automatic one (place.md §7) both run it; row is the
// client's row authentication loaded (nil for the automatic one).
func (s *Service) acceptIn(tx *gorm.DB, clientID string, row *store.User, id uuid.UUID, desc func(*store.Offer) string) (d *store.Delivery, dl *view.DriverLocation, msgs []realtime.Message, err error) {
	var ts store.TypeSet
	o, others, err := s.lockOfferForClient(tx, &ts, clientID, row, id, true)
	if err != nil {
		return nil, nil, nil, err
	}
	msgs, err = func() ([]realtime.Message, error) {
		q := o.Quote
		now := s.Store.Now()
		if err := checkAccept(o, q, now); err != nil {
			return nil, err
		}
		driver := o.DeliveryPersonID
		nd := store.Delivery{ID: uuid.New(), Version: 1, ClientID: q.ClientID, DeliveryPersonID: &driver,
			PickupAddress: q.PickupAddress, DeliveryAddress: q.DeliveryAddress, CategoryID: q.CategoryID,
			Description: q.Description, Observations: q.Observations, EstimatedWeight: q.EstimatedWeight,
			EstimatedSize: q.EstimatedSize, PaymentMethod: q.PaymentMethod, FinalPrice: o.ProposedPrice,
			VehicleID: o.VehicleID, Status: store.DeliveryAssigned, CreatedAt: now, UpdatedAt: now, HistoryID: q.HistoryID,
			PickupLatitude: q.PickupLatitude, PickupLongitude: q.PickupLongitude,
			DeliveryLatitude: q.DeliveryLatitude, DeliveryLongitude: q.DeliveryLongitude}
		if nd.Observations == nil {
			nd.Observations = store.StringList{}
		}
		switch {
		case o.Vehicle != nil && o.Vehicle.Type != nil:
			nd.VehicleTypeID, nd.VehicleTypeName = &o.Vehicle.Type.ID, &o.Vehicle.Type.Name
		case q.VehicleType != nil:
			nd.VehicleTypeID, nd.VehicleTypeName = &q.VehicleType.ID, &q.VehicleType.Name
		}
		// The delivery and its history row written and the quote deleted (its
		// offers go with it: delivery_offers.quote_id ON DELETE CASCADE), in
		// one statement on PostgreSQL.
		h := historyRow(q.HistoryID, store.HistoryOfferAccepted, desc(o), clientID, now)
		if err := store.AcceptWrites(tx, &nd, h, q.ID); err != nil {
			return nil, err
		}
		nd.Client, nd.Driver, nd.Category = q.Client, o.Driver, q.Category
		d = &nd
		if err := ts.Fill(tx); err != nil {
			return nil, err
		}
		// The driver's location, if fresh, rides on the delivery's first frames.
		dl = liveLocation(d, s.Tracking.Current(tx.Statement.Context, driver))
		// The quote and its offers are gone: their frames carry the version after their last one.
		o.Status, o.UpdatedAt, q.Status = store.OfferAccepted, now, store.QuoteAccepted
		o.Version++
		q.Version++
		msgs, err := offerFrames(o, now, []string{realtime.OfferUpdated, realtime.OfferAcceptedDot}, offerQuote(o), offerUser(o), offerDriver(o))
		if err != nil {
			return nil, err
		}
		for _, part := range []func() ([]realtime.Message, error){
			func() ([]realtime.Message, error) {
				return quoteFrames(q, true, []string{realtime.QuoteAccepted, realtime.QuoteDeleted}, quoteOwn(q), quoteUser(q), quoteNew())
			},
			func() ([]realtime.Message, error) {
				return deliveryFrames(d, dl, []string{realtime.DeliveryCreatedDot}, deliveryAll(d)...)
			},
			func() ([]realtime.Message, error) {
				return deliveryFrames(d, dl, []string{realtime.DeliveryCreated}, deliveryClient(d))
			},
			func() ([]realtime.Message, error) {
				return deliveryFrames(d, dl, []string{realtime.DeliveryAssigned}, deliveryDriver(d)...)
			},
		} {
			more, err := part()
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, more...)
		}
		for i := range others {
			other := &others[i]
			if other.Status != store.OfferPending {
				continue
			}
			other.Quote = q
			other.Version++
			more, err := offerFrames(other, now, []string{realtime.OfferExpired, realtime.OfferDeleted}, offerDriver(other))
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, more...)
		}
		return msgs, nil
	}()
	if err != nil {
		return nil, nil, nil, err
	}
	return d, dl, msgs, nil
}

// RejectOffer: the quote's client rejects a pending offer; it stays, rejected,
// and its driver cannot offer again on that quote. It returns the offer.
func (s *Service) RejectOffer(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Offer, error) {
	var o *store.Offer
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if o, _, err = s.lockOfferForClient(tx, &ts, caller.UserID, caller, id, false); err != nil {
			return nil, err
		}
		if err := checkReject(o); err != nil {
			return nil, err
		}
		now := s.Store.Now()
		if err := tx.Model(&store.Offer{}).Where("id = ?", o.ID).Updates(map[string]any{"status": store.OfferRejected, "updated_at": now, "version": bumpVersion}).Error; err != nil {
			return nil, fmt.Errorf("reject offer: %w", err)
		}
		if err := addHistory(tx, o.Quote.HistoryID, store.HistoryOfferRejected, "Oferta rechazada por el cliente", caller.UserID, now); err != nil {
			return nil, err
		}
		o.Status, o.UpdatedAt = store.OfferRejected, now
		o.Version++
		if err := ts.Fill(tx); err != nil {
			return nil, err
		}
		return offerFrames(o, now, []string{realtime.OfferUpdated, realtime.OfferRejected, realtime.OfferDeleted},
			offerQuote(o), offerUser(o), offerDriver(o))
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}
