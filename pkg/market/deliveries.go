package market

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/view"
)

// Messages of the delivery rules.
const (
	MsgStatusFinal    = "No se puede cambiar el estado de un domicilio cancelado o pagado"
	MsgCancelFinal    = "No se puede cancelar un domicilio entregado, pagado o ya cancelado"
	MsgDeliveryCancel = "Domicilio cancelado"
	MsgFilterAllStaff = "Solo el personal puede ver todos los domicilios."
)

var deliveryStatuses = map[string]bool{store.DeliveryAssigned: true, store.DeliveryPickedUp: true,
	store.DeliveryInTransit: true, store.DeliveryDelivered: true, store.DeliveryPaid: true, store.DeliveryCancelled: true}

// DeliveryFilter are the query parameters of the delivery list; empty values
// mean "no filter"; a status or payment method that names nothing selects
// nothing (place.md §8, as the old system's filter(status=…) did).
type DeliveryFilter struct {
	FilterBy, Status, PaymentMethod, Month, Year string
}

// statusLabels are the history filter page's values (place.md §8) beside the
// statuses themselves.
var statusLabels = map[string][]string{
	"pending":    {store.DeliveryAssigned},
	"on-the-way": {store.DeliveryPickedUp, store.DeliveryInTransit},
	"completed":  {store.DeliveryDelivered, store.DeliveryPaid},
}

// paymentLabels are the filter page's payment labels beside the methods;
// card names no method of this system (an empty list).
var paymentLabels = map[string][]string{
	"efectivo": {"efectivo"}, "nequi": {"nequi"},
	"cash": {"efectivo"}, "transfer": {"nequi"}, "card": {},
}

// FilterValues is what a status or payment_method query value selects:
// filter false for an empty value (no filter); otherwise the values to match,
// none for a value that names nothing.
func FilterValues(param, v string) (values []string, filter bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, false
	}
	switch param {
	case "status":
		if deliveryStatuses[v] {
			return []string{v}, true
		}
		return statusLabels[v], true
	case "payment_method":
		return paymentLabels[v], true
	}
	return nil, false
}

// ListDeliveries lists the caller's deliveries as client (default), as driver
// (filter_by=delivery_person), or all of them (filter_by=all, staff only),
// newest first.
func (s *Service) ListDeliveries(ctx context.Context, caller *store.User, f DeliveryFilter, page Page) ([]store.Delivery, error) {
	var where []string
	var args []any
	switch strings.TrimSpace(f.FilterBy) {
	case "delivery_person":
		where, args = append(where, "deliveries.delivery_person_id = ?"), append(args, caller.UserID)
	case "all":
		if !caller.IsStaff {
			return nil, apperr.New(apperr.Forbidden, MsgFilterAllStaff)
		}
	default:
		where, args = append(where, "deliveries.client_id = ?"), append(args, caller.UserID)
	}
	for _, p := range []struct{ param, value, column string }{
		{"status", f.Status, "deliveries.status"}, {"payment_method", f.PaymentMethod, "deliveries.payment_method"},
	} {
		vals, filter := FilterValues(p.param, p.value)
		if !filter {
			continue
		}
		if len(vals) == 0 {
			return []store.Delivery{}, nil // a value naming nothing: an empty list, not an error
		}
		where, args = append(where, p.column+" IN ?"), append(args, vals)
	}
	year := s.Store.Now().Year()
	yearSet := false
	if y, err := strconv.Atoi(strings.TrimSpace(f.Year)); err == nil && y >= 1 && y <= 9999 {
		year, yearSet = y, true
	}
	if m, err := strconv.Atoi(strings.TrimSpace(f.Month)); err == nil && m >= 1 && m <= 12 {
		start := time.Date(year, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		where, args = append(where, "deliveries.created_at >= ? AND deliveries.created_at < ?"), append(args, start, start.AddDate(0, 1, 0))
	} else if yearSet {
		start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		where, args = append(where, "deliveries.created_at >= ? AND deliveries.created_at < ?"), append(args, start, start.AddDate(1, 0, 0))
	}
	ds, err := loadDeliveries(s.Store.DB.WithContext(ctx), func(q *gorm.DB) *gorm.DB {
		if len(where) > 0 {
			q = q.Where(strings.Join(where, " AND "), args...)
		}
		return page.Apply(q.Order("deliveries.created_at DESC").Order("deliveries.id"))
	})
	if err != nil {
		return nil, apperr.Wrap(err, "list deliveries")
	}
	return ds, nil
}

func isParty(d *store.Delivery, caller string) bool {
	return d.ClientID == caller || (d.DeliveryPersonID != nil && *d.DeliveryPersonID == caller)
}

func canSeeDelivery(d *store.Delivery, caller *store.User) bool {
	return isParty(d, caller.UserID) || caller.IsStaff
}

// GetDelivery is a delivery the caller is party to (staff: any).
func (s *Service) GetDelivery(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Delivery, error) {
	d, err := loadDelivery(s.Store.DB.WithContext(ctx), id)
	if err != nil {
		return nil, store.MapError(err, "get delivery")
	}
	if !canSeeDelivery(d, caller) {
		return nil, apperr.NotFoundErr()
	}
	return d, nil
}

// History is a delivery with its history entries, oldest first.
type History struct {
	Delivery *store.Delivery
	Events   []store.HistoryEvent
}

// DeliveryHistory is a visible delivery with its whole history, oldest first.
func (s *Service) DeliveryHistory(ctx context.Context, caller *store.User, id uuid.UUID) (*History, error) {
	db := s.Store.DB.WithContext(ctx)
	var ts store.TypeSet
	ds, err := loadDeliveriesInto(db, &ts, func(d *gorm.DB) *gorm.DB { return d.Where("deliveries.id = ?", id) })
	if err != nil {
		return nil, store.MapError(err, "delivery history")
	}
	if len(ds) == 0 || !canSeeDelivery(&ds[0], caller) {
		return nil, apperr.NotFoundErr()
	}
	d := &ds[0]
	var hs []store.HistoryEvent
	err = store.JoinHistory(db).Where("delivery_history.history_id = ?", d.HistoryID).
		Order("delivery_history.created_at").Order("delivery_history.id").Find(&hs).Error
	if err != nil {
		return nil, apperr.Wrap(err, "load history")
	}
	for i := range hs {
		ts.User(hs[i].ChangedBy)
	}
	if err := ts.Fill(db); err != nil {
		return nil, apperr.Wrap(err, "load history")
	}
	return &History{Delivery: d, Events: hs}, nil
}

// lockDelivery locks a delivery row and loads it for rendering, except the
// vehicle-type categories (added to ts); not visible → 404.
func (s *Service) lockDelivery(tx *gorm.DB, ts *store.TypeSet, caller *store.User, id uuid.UUID) (*store.Delivery, error) {
	ds, err := loadDeliveriesInto(tx, ts, func(d *gorm.DB) *gorm.DB {
		return s.lockOf(d, "deliveries").Where("deliveries.id = ?", id)
	})
	if err != nil {
		return nil, fmt.Errorf("lock delivery %s: %w", id, err)
	}
	if len(ds) == 0 || !canSeeDelivery(&ds[0], caller) {
		return nil, apperr.NotFoundErr()
	}
	return &ds[0], nil
}

// StatusChange is a delivery moved one step: from Old to New (Delivery.Status).
type StatusChange struct {
	Old      string
	Delivery *store.Delivery
}

// ChangeStatus advances a delivery one step; only its driver may.
func (s *Service) ChangeStatus(ctx context.Context, caller *store.User, id uuid.UUID) (*StatusChange, error) {
	var (
		d        *store.Delivery
		old, nxt string
	)
	// Only the driver moves a delivery: their location is read before the
	// transaction (no Redis round trip under the row lock).
	loc := s.Tracking.Current(ctx, caller.UserID)
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if d, err = s.lockDelivery(tx, &ts, caller, id); err != nil {
			return nil, err
		}
		old = d.Status
		if nxt, err = checkStatusChange(d, caller.UserID); err != nil {
			return nil, err
		}
		now := s.Store.Now()
		changes := map[string]any{"status": nxt, "updated_at": now, "version": bumpVersion}
		if nxt == store.DeliveryDelivered {
			changes["completed_at"] = now
		}
		if err := tx.Model(&store.Delivery{}).Where("id = ?", d.ID).Updates(changes).Error; err != nil {
			return nil, fmt.Errorf("change status: %w", err)
		}
		d.Status, d.UpdatedAt = nxt, now
		d.Version++
		if nxt == store.DeliveryDelivered {
			d.CompletedAt = &now
		}
		hs := []store.HistoryEvent{historyRow(d.HistoryID, store.HistoryStatusChanged, fmt.Sprintf("Estado cambiado de %s a %s", old, nxt), caller.UserID, now)}
		if nxt == store.DeliveryDelivered {
			hs = append(hs, historyRow(d.HistoryID, store.HistoryCompleted, "Domicilio entregado", caller.UserID, now.Add(time.Microsecond)))
		}
		if err := addHistoryRows(tx, hs...); err != nil {
			return nil, err
		}
		var (
			ver   int64
			stats []store.Delivery
		)
		completed := nxt == store.DeliveryDelivered || nxt == store.DeliveryPaid
		if completed {
			// Bumped first: this locks the driver's row, so two completions
			// of one driver compute their stats one after the other.
			if ver, err = bumpStats(tx, caller.UserID); err != nil {
				return nil, err
			}
			if stats, err = personStatsRows(tx, &ts, caller.UserID); err != nil {
				return nil, err
			}
		}
		if err := ts.Fill(tx); err != nil {
			return nil, err
		}
		msgs, err := deliveryFrames(d, liveLocation(d, loc), []string{realtime.DeliveryStatusDot, realtime.DeliveryStatusChanged}, deliveryAll(d)...)
		if err != nil {
			return nil, err
		}
		if completed {
			more, err := statsFrames(caller.UserID, view.NewPersonStats(stats, caller.UserID), ver)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, more...)
		}
		return msgs, nil
	})
	if err != nil {
		return nil, err
	}
	s.Tracking.Changed(ctx, d)
	return &StatusChange{Old: old, Delivery: d}, nil
}

// CancelDelivery cancels a delivery not yet delivered (its client or driver
// may) and returns it.
func (s *Service) CancelDelivery(ctx context.Context, caller *store.User, id uuid.UUID) (*store.Delivery, error) {
	var d *store.Delivery
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if d, err = s.lockDelivery(tx, &ts, caller, id); err != nil {
			return nil, err
		}
		if err := checkDeliveryCancel(d, caller.UserID); err != nil {
			return nil, err
		}
		who := "el cliente"
		if d.ClientID != caller.UserID {
			who = "el domiciliario"
		}
		return s.cancelIn(tx, &ts, d, "Domicilio cancelado por "+who, caller.UserID, s.Store.Now())
	})
	if err != nil {
		return nil, err
	}
	s.Tracking.Changed(ctx, d)
	return d, nil
}

// StaffCancelDelivery is the console's cancellation (console.md "Acting"): a
// staff member cancels an assigned, picked-up or in-transit delivery with a
// reason. The same change as CancelDelivery — status, cancelled_at, the
// delivery.status and delivery_cancelled frames to the usual groups — with a
// `cancelled` history row whose changed_by is null (console accounts are not
// app users) and whose description carries the reason, and by's audit entry
// (by: the console's staff member; nil → 403). Unknown → 404; delivered, paid
// or cancelled → a field error on reason.
func (s *Service) StaffCancelDelivery(ctx context.Context, by *audit.Staff, id uuid.UUID, reason string) (*store.Delivery, error) {
	if err := audit.RequireStaff(by); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", apperr.MsgRequired)
	}
	var d *store.Delivery
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var (
			ts  store.TypeSet
			err error
		)
		if d, err = s.lockDelivery(tx, &ts, &store.User{IsStaff: true}, id); err != nil {
			return nil, err
		}
		switch d.Status {
		case store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled:
			return nil, apperr.Field("reason", MsgCancelFinal)
		}
		ch := audit.Changes{}
		ch.Set("status", d.Status, store.DeliveryCancelled)
		now := s.Store.Now()
		ch.Set("cancelled_at", nil, now.UTC().Format(time.RFC3339))
		if err := audit.Record(tx, now, by, audit.Entry{Kind: audit.KindDelivery, ObjectID: d.ID.String(),
			Action: audit.ActionCancel, Changes: ch, Reason: reason}); err != nil {
			return nil, err
		}
		return s.cancelIn(tx, &ts, d, "Domicilio cancelado por el personal: "+reason, "", now)
	})
	if err != nil {
		return nil, err
	}
	s.Tracking.Changed(ctx, d)
	return d, nil
}

// cancelIn is the one cancellation of a delivery, for the API's and the
// console's paths alike: inside tx, with d locked (its vehicle types added to
// ts), it sets the status and cancelled_at, appends the `cancelled` history
// row (by "" when no app user did it) and returns the delivery.status and
// delivery_cancelled frames to the delivery's groups.
func (s *Service) cancelIn(tx *gorm.DB, ts *store.TypeSet, d *store.Delivery, description, by string, now time.Time) ([]realtime.Message, error) {
	if err := tx.Model(&store.Delivery{}).Where("id = ?", d.ID).
		Updates(map[string]any{"status": store.DeliveryCancelled, "cancelled_at": now, "updated_at": now, "version": bumpVersion}).Error; err != nil {
		return nil, fmt.Errorf("cancel delivery: %w", err)
	}
	if err := addHistory(tx, d.HistoryID, store.HistoryCancelled, description, by, now); err != nil {
		return nil, err
	}
	d.Status, d.CancelledAt, d.UpdatedAt = store.DeliveryCancelled, &now, now
	d.Version++
	if err := ts.Fill(tx); err != nil {
		return nil, err
	}
	return deliveryFrames(d, nil, []string{realtime.DeliveryStatusDot, realtime.DeliveryCancelled}, deliveryAll(d)...)
}
