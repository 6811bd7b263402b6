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

var nextStatus = map[string]string{
	store.DeliveryAssigned:  store.DeliveryPickedUp,
	store.DeliveryPickedUp:  store.DeliveryInTransit,
	store.DeliveryInTransit: store.DeliveryDelivered,
	store.DeliveryDelivered: store.DeliveryPaid,
}

var deliveryStatuses = map[string]bool{store.DeliveryAssigned: true, store.DeliveryPickedUp: true,
	store.DeliveryInTransit: true, store.DeliveryDelivered: true, store.DeliveryPaid: true, store.DeliveryCancelled: true}

// DeliveryFilter are the query parameters of the delivery list; empty or
// invalid values mean "no filter".
type DeliveryFilter struct {
	FilterBy, Status, PaymentMethod, Month, Year string
}

// ListDeliveries lists the caller's deliveries as client (default), as driver
// (filter_by=delivery_person), or all of them (filter_by=all, staff only),
// newest first.
func (s *Service) ListDeliveries(ctx context.Context, caller *store.User, f DeliveryFilter, page Page) ([]*view.Delivery, error) {
	var where []string
	var args []any
	switch strings.TrimSpace(f.FilterBy) {
	case "delivery_person":
		where, args = append(where, "delivery_person_id = ?"), append(args, caller.UserID)
	case "all":
		if !caller.IsStaff {
			return nil, apperr.New(apperr.Forbidden, MsgFilterAllStaff)
		}
	default:
		where, args = append(where, "client_id = ?"), append(args, caller.UserID)
	}
	if st := strings.TrimSpace(f.Status); deliveryStatuses[st] {
		where, args = append(where, "status = ?"), append(args, st)
	}
	if pm := strings.TrimSpace(f.PaymentMethod); pm == "efectivo" || pm == "nequi" {
		where, args = append(where, "payment_method = ?"), append(args, pm)
	}
	year := store.Now().Year()
	yearSet := false
	if y, err := strconv.Atoi(strings.TrimSpace(f.Year)); err == nil && y >= 1 && y <= 9999 {
		year, yearSet = y, true
	}
	if m, err := strconv.Atoi(strings.TrimSpace(f.Month)); err == nil && m >= 1 && m <= 12 {
		start := time.Date(year, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		where, args = append(where, "created_at >= ? AND created_at < ?"), append(args, start, start.AddDate(0, 1, 0))
	} else if yearSet {
		start := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		where, args = append(where, "created_at >= ? AND created_at < ?"), append(args, start, start.AddDate(1, 0, 0))
	}
	ds, err := loadDeliveries(s.Store.DB.WithContext(ctx), func(q *gorm.DB) *gorm.DB {
		if len(where) > 0 {
			q = q.Where(strings.Join(where, " AND "), args...)
		}
		return page.Apply(q.Order("created_at DESC").Order("id"))
	})
	if err != nil {
		return nil, apperr.Wrap(err, "list deliveries")
	}
	out := make([]*view.Delivery, len(ds))
	for i := range ds {
		out[i] = view.NewDelivery(&ds[i], caller.UserID)
	}
	return out, nil
}

func isParty(d *store.Delivery, caller string) bool {
	return d.ClientID == caller || (d.DeliveryPersonID != nil && *d.DeliveryPersonID == caller)
}

func canSeeDelivery(d *store.Delivery, caller *store.User) bool {
	return isParty(d, caller.UserID) || caller.IsStaff
}

// GetDelivery is a delivery the caller is party to (staff: any).
func (s *Service) GetDelivery(ctx context.Context, caller *store.User, id uuid.UUID) (*view.Delivery, error) {
	d, err := loadDelivery(s.Store.DB.WithContext(ctx), id)
	if err != nil {
		return nil, mapDBError(err)
	}
	if !canSeeDelivery(d, caller) {
		return nil, apperr.NotFoundErr()
	}
	return view.NewDelivery(d, caller.UserID), nil
}

// HistoryResult is the answer of history.
type HistoryResult struct {
	Delivery *view.Delivery       `json:"delivery"`
	History  []*view.HistoryEvent `json:"history"`
}

// DeliveryHistory is a visible delivery with its whole history, oldest first.
func (s *Service) DeliveryHistory(ctx context.Context, caller *store.User, id uuid.UUID) (*HistoryResult, error) {
	db := s.Store.DB.WithContext(ctx)
	d, err := loadDelivery(db, id)
	if err != nil {
		return nil, mapDBError(err)
	}
	if !canSeeDelivery(d, caller) {
		return nil, apperr.NotFoundErr()
	}
	var hs []store.HistoryEvent
	err = store.PreloadUser(db.Preload("ChangedBy"), "ChangedBy").
		Where("history_id = ?", d.HistoryID).Order("created_at").Order("id").Find(&hs).Error
	if err != nil {
		return nil, apperr.Wrap(err, "load history")
	}
	out := &HistoryResult{Delivery: view.NewDelivery(d, caller.UserID), History: make([]*view.HistoryEvent, len(hs))}
	for i := range hs {
		out.History[i] = view.NewHistoryEvent(&hs[i], caller.UserID)
	}
	return out, nil
}

// lockDelivery locks a delivery row and loads it for rendering; not visible → 404.
func (s *Service) lockDelivery(tx *gorm.DB, caller *store.User, id uuid.UUID) (*store.Delivery, error) {
	var ids []uuid.UUID
	if err := s.lock(tx.Model(&store.Delivery{})).Where("id = ?", id).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("lock delivery %s: %w", id, err)
	}
	if len(ids) == 0 {
		return nil, apperr.NotFoundErr()
	}
	d, err := loadDelivery(tx, id)
	if err != nil {
		return nil, err
	}
	if !canSeeDelivery(d, caller) {
		return nil, apperr.NotFoundErr()
	}
	return d, nil
}

// StatusResult is the answer of change_status.
type StatusResult struct {
	Message    string         `json:"message"`
	OldStatus  string         `json:"old_status"`
	NewStatus  string         `json:"new_status"`
	NextStatus *string        `json:"next_status"`
	Delivery   *view.Delivery `json:"delivery"`
}

// ChangeStatus advances a delivery one step; only its driver may.
func (s *Service) ChangeStatus(ctx context.Context, caller *store.User, id uuid.UUID) (*StatusResult, error) {
	var (
		d        *store.Delivery
		old, nxt string
	)
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var err error
		if d, err = s.lockDelivery(tx, caller, id); err != nil {
			return nil, err
		}
		if d.DeliveryPersonID == nil || *d.DeliveryPersonID != caller.UserID {
			return nil, apperr.ForbiddenErr()
		}
		old = d.Status
		var ok bool
		if nxt, ok = nextStatus[old]; !ok {
			return nil, apperr.New(apperr.Invalid, MsgStatusFinal)
		}
		now := store.Now()
		changes := map[string]any{"status": nxt, "updated_at": now, "version": bumpVersion}
		if nxt == store.DeliveryDelivered {
			changes["completed_at"] = now
		}
		if err := tx.Model(&store.Delivery{}).Where("id = ?", d.ID).Updates(changes).Error; err != nil {
			return nil, fmt.Errorf("change status: %w", err)
		}
		if err := addHistory(tx, d.HistoryID, store.HistoryStatusChanged, fmt.Sprintf("Estado cambiado de %s a %s", old, nxt), caller.UserID, now); err != nil {
			return nil, err
		}
		if nxt == store.DeliveryDelivered {
			if err := addHistory(tx, d.HistoryID, store.HistoryCompleted, "Domicilio entregado", caller.UserID, now.Add(time.Microsecond)); err != nil {
				return nil, err
			}
		}
		if d, err = loadDelivery(tx, id); err != nil {
			return nil, err
		}
		msgs, err := deliveryFrames(d, []string{realtime.DeliveryStatusDot, realtime.DeliveryStatusChanged}, deliveryAll(d)...)
		if err != nil {
			return nil, err
		}
		if nxt == store.DeliveryDelivered || nxt == store.DeliveryPaid {
			// Bumped first: this locks the driver's row, so two completions
			// of one driver compute their stats one after the other.
			ver, err := bumpStats(tx, caller.UserID)
			if err != nil {
				return nil, err
			}
			stats, err := PersonStats(ctx, tx, caller.UserID, caller.UserID)
			if err != nil {
				return nil, err
			}
			more, err := statsFrames(caller.UserID, stats, ver)
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
	out := &StatusResult{Message: fmt.Sprintf("Estado actualizado de %s a %s", old, nxt), OldStatus: old, NewStatus: nxt,
		Delivery: view.NewDelivery(d, caller.UserID)}
	if after, ok := nextStatus[nxt]; ok {
		out.NextStatus = &after
	}
	return out, nil
}

// CancelResult is the answer of cancel.
type CancelResult struct {
	Message  string         `json:"message"`
	Delivery *view.Delivery `json:"delivery"`
}

// CancelDelivery cancels a delivery not yet delivered; its client or driver may.
func (s *Service) CancelDelivery(ctx context.Context, caller *store.User, id uuid.UUID) (*CancelResult, error) {
	var d *store.Delivery
	err := s.change(ctx, func(tx *gorm.DB) ([]realtime.Message, error) {
		var err error
		if d, err = s.lockDelivery(tx, caller, id); err != nil {
			return nil, err
		}
		if !isParty(d, caller.UserID) {
			return nil, apperr.ForbiddenErr()
		}
		switch d.Status {
		case store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled:
			return nil, apperr.New(apperr.Invalid, MsgCancelFinal)
		}
		now := store.Now()
		if err := tx.Model(&store.Delivery{}).Where("id = ?", d.ID).
			Updates(map[string]any{"status": store.DeliveryCancelled, "cancelled_at": now, "updated_at": now, "version": bumpVersion}).Error; err != nil {
			return nil, fmt.Errorf("cancel delivery: %w", err)
		}
		who := "el cliente"
		if d.ClientID != caller.UserID {
			who = "el domiciliario"
		}
		if err := addHistory(tx, d.HistoryID, store.HistoryCancelled, "Domicilio cancelado por "+who, caller.UserID, now); err != nil {
			return nil, err
		}
		if d, err = loadDelivery(tx, id); err != nil {
			return nil, err
		}
		return deliveryFrames(d, []string{realtime.DeliveryStatusDot, realtime.DeliveryCancelled}, deliveryAll(d)...)
	})
	if err != nil {
		return nil, err
	}
	return &CancelResult{Message: MsgDeliveryCancel, Delivery: view.NewDelivery(d, caller.UserID)}, nil
}
