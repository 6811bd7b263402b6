package market

import (
	"time"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// The guards of the marketplace's changes: pure functions of the rows (loaded
// and locked by the change) and the time, so each rule is read — and tested —
// in one place (rules_test.go).

// nextStatus is the delivery status machine: each status and the one the
// driver moves it to; delivered → paid is the last step, paid and cancelled
// are final.
var nextStatus = map[string]string{
	store.DeliveryAssigned:  store.DeliveryPickedUp,
	store.DeliveryPickedUp:  store.DeliveryInTransit,
	store.DeliveryInTransit: store.DeliveryDelivered,
	store.DeliveryDelivered: store.DeliveryPaid,
}

// NextStatus is the status after st (ok false: st is final or unknown).
func NextStatus(st string) (next string, ok bool) {
	next, ok = nextStatus[st]
	return next, ok
}

// expired: an expiry instant at or before now has passed.
func expired(expiresAt, now time.Time) bool { return !now.Before(expiresAt) }

// checkStatusChange: only the delivery's driver advances it, one step.
func checkStatusChange(d *store.Delivery, caller string) (next string, err error) {
	if d.DeliveryPersonID == nil || *d.DeliveryPersonID != caller {
		return "", apperr.ForbiddenErr()
	}
	next, ok := NextStatus(d.Status)
	if !ok {
		return "", apperr.New(apperr.Invalid, MsgStatusFinal)
	}
	return next, nil
}

// checkDeliveryCancel: its client or driver cancels a delivery not yet
// delivered, paid or cancelled.
func checkDeliveryCancel(d *store.Delivery, caller string) error {
	if !isParty(d, caller) {
		return apperr.ForbiddenErr()
	}
	switch d.Status {
	case store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled:
		return apperr.New(apperr.Invalid, MsgCancelFinal)
	}
	return nil
}

// checkOfferOn: a driver offers on a pending, unexpired quote of someone else
// (a quote they cannot see is 404).
func checkOfferOn(q *store.Quote, caller string, now time.Time) error {
	switch {
	case !canSeeQuote(q, caller):
		return apperr.NotFoundErr()
	case q.ClientID == caller:
		return apperr.New(apperr.Invalid, MsgOwnQuote)
	case q.Status != store.QuotePending:
		return apperr.New(apperr.Invalid, MsgQuoteNotOpen)
	case expired(q.ExpiresAt, now):
		return apperr.New(apperr.Invalid, MsgQuoteExpired)
	}
	return nil
}

// checkAccept: a pending, unexpired offer on a pending, unexpired quote
// (store.Offer.Acceptance, the rule view's can_accept also reads; the caller
// is the quote's client: lockOfferForClient checked).
func checkAccept(o *store.Offer, q *store.Quote, now time.Time) error {
	switch o.Acceptance(q, now) {
	case store.AcceptOfferNotPending:
		return apperr.New(apperr.Invalid, MsgOfferNotPending)
	case store.AcceptQuoteNotPending:
		return apperr.New(apperr.Invalid, MsgQuoteGone)
	case store.AcceptQuoteExpired:
		return apperr.New(apperr.Invalid, MsgQuoteExpired)
	case store.AcceptOfferExpired:
		return apperr.New(apperr.Invalid, MsgOfferExpired)
	}
	return nil
}

// checkReject: only a pending offer is rejected (expired or not).
func checkReject(o *store.Offer) error {
	if o.Status != store.OfferPending {
		return apperr.New(apperr.Invalid, MsgRejectNotPending)
	}
	return nil
}

// checkOwnPending: the caller's own pending quote (403 for a quote they can
// see, 404 otherwise); with checkExpiry, also unexpired.
func checkOwnPending(q *store.Quote, caller string, notPending string, checkExpiry bool, now time.Time) error {
	if err := ownQuote(q, caller); err != nil {
		return err
	}
	if q.Status != store.QuotePending {
		return apperr.New(apperr.Invalid, notPending)
	}
	if checkExpiry && expired(q.ExpiresAt, now) {
		return apperr.New(apperr.Invalid, MsgQuoteExpired)
	}
	return nil
}

// extendedExpiry is a quote's expiry moved by minutes, never past created_at
// + maxLifetime and never earlier than it was.
func extendedExpiry(q *store.Quote, minutes int64, maxLifetime time.Duration) time.Time {
	exp := q.ExpiresAt.Add(time.Duration(minutes) * time.Minute)
	if limit := q.CreatedAt.Add(maxLifetime); exp.After(limit) {
		exp = limit
	}
	if exp.Before(q.ExpiresAt) {
		exp = q.ExpiresAt
	}
	return exp
}
