package market

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// wantErr checks err against a kind and message ("" kind: no error).
func wantErr(t *testing.T, name string, err error, kind apperr.Kind, msg string) {
	t.Helper()
	if kind == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
		return
	}
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: got %v, want %s %q", name, err, kind, msg)
		return
	}
	if e.Kind != kind || (msg != "" && e.Message != msg) {
		t.Errorf("%s: got %s %q, want %s %q", name, e.Kind, e.Message, kind, msg)
	}
}

func TestStatusMachine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, next string
		final      bool
	}{
		{store.DeliveryAssigned, store.DeliveryPickedUp, false},
		{store.DeliveryPickedUp, store.DeliveryInTransit, false},
		{store.DeliveryInTransit, store.DeliveryDelivered, false},
		{store.DeliveryDelivered, store.DeliveryPaid, false},
		{store.DeliveryPaid, "", true},
		{store.DeliveryCancelled, "", true},
		{"unknown", "", true},
	} {
		next, ok := NextStatus(c.from)
		if ok == c.final || next != c.next {
			t.Errorf("NextStatus(%s) = %q, %v; want %q, final %v", c.from, next, ok, c.next, c.final)
		}
	}
}

func TestStatusChangeGuard(t *testing.T) {
	t.Parallel()
	driver := "user_driver"
	for _, c := range []struct {
		name   string
		status string
		driver *string
		caller string
		next   string
		kind   apperr.Kind
		msg    string
	}{
		{"driver advances assigned", store.DeliveryAssigned, &driver, driver, store.DeliveryPickedUp, "", ""},
		{"driver advances delivered to paid", store.DeliveryDelivered, &driver, driver, store.DeliveryPaid, "", ""},
		{"paid is final", store.DeliveryPaid, &driver, driver, "", apperr.Invalid, MsgStatusFinal},
		{"cancelled is final", store.DeliveryCancelled, &driver, driver, "", apperr.Invalid, MsgStatusFinal},
		{"the client may not", store.DeliveryAssigned, &driver, "user_client", "", apperr.Forbidden, ""},
		{"no driver", store.DeliveryAssigned, nil, driver, "", apperr.Forbidden, ""},
	} {
		d := &store.Delivery{ClientID: "user_client", DeliveryPersonID: c.driver, Status: c.status}
		next, err := checkStatusChange(d, c.caller)
		wantErr(t, c.name, err, c.kind, c.msg)
		if next != c.next {
			t.Errorf("%s: next %q, want %q", c.name, next, c.next)
		}
	}
}

func TestDeliveryCancelGuard(t *testing.T) {
	t.Parallel()
	driver := "user_driver"
	for _, c := range []struct {
		status, caller string
		kind           apperr.Kind
	}{
		{store.DeliveryAssigned, "user_client", ""},
		{store.DeliveryPickedUp, driver, ""},
		{store.DeliveryInTransit, "user_client", ""},
		{store.DeliveryDelivered, "user_client", apperr.Invalid},
		{store.DeliveryPaid, driver, apperr.Invalid},
		{store.DeliveryCancelled, "user_client", apperr.Invalid},
		{store.DeliveryAssigned, "user_other", apperr.Forbidden},
	} {
		d := &store.Delivery{ClientID: "user_client", DeliveryPersonID: &driver, Status: c.status}
		msg := ""
		if c.kind == apperr.Invalid {
			msg = MsgCancelFinal
		}
		wantErr(t, c.status+" by "+c.caller, checkDeliveryCancel(d, c.caller), c.kind, msg)
	}
}

func TestOfferOnGuard(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		status  string
		expires time.Time
		caller  string
		kind    apperr.Kind
		msg     string
	}{
		{"pending, unexpired", store.QuotePending, t0.Add(time.Second), "user_driver", "", ""},
		{"own quote", store.QuotePending, t0.Add(time.Minute), "user_client", apperr.Invalid, MsgOwnQuote},
		{"expiring now", store.QuotePending, t0, "user_driver", apperr.Invalid, MsgQuoteExpired},
		{"expired", store.QuotePending, t0.Add(-time.Second), "user_driver", apperr.Invalid, MsgQuoteExpired},
		{"not pending, not theirs: unseen", store.QuoteAccepted, t0.Add(time.Minute), "user_driver", apperr.NotFound, ""},
		{"own, not pending", store.QuoteCancelled, t0.Add(time.Minute), "user_client", apperr.Invalid, MsgOwnQuote},
	} {
		q := &store.Quote{ClientID: "user_client", Status: c.status, ExpiresAt: c.expires}
		wantErr(t, c.name, checkOfferOn(q, c.caller, t0), c.kind, c.msg)
	}
}

func TestAcceptGuard(t *testing.T) {
	t.Parallel()
	later, earlier := t0.Add(time.Minute), t0.Add(-time.Microsecond)
	for _, c := range []struct {
		name                   string
		offerStatus, quoteStat string
		offerExp, quoteExp     time.Time
		kind                   apperr.Kind
		msg                    string
	}{
		{"both pending and unexpired", store.OfferPending, store.QuotePending, later, later, "", ""},
		{"offer rejected", store.OfferRejected, store.QuotePending, later, later, apperr.Invalid, MsgOfferNotPending},
		{"offer accepted", store.OfferAccepted, store.QuotePending, later, later, apperr.Invalid, MsgOfferNotPending},
		{"quote not pending", store.OfferPending, store.QuoteAccepted, later, later, apperr.Invalid, MsgQuoteGone},
		{"quote expired first", store.OfferPending, store.QuotePending, earlier, earlier, apperr.Invalid, MsgQuoteExpired},
		{"quote expiring now", store.OfferPending, store.QuotePending, later, t0, apperr.Invalid, MsgQuoteExpired},
		{"offer expired", store.OfferPending, store.QuotePending, earlier, later, apperr.Invalid, MsgOfferExpired},
		{"offer expiring now", store.OfferPending, store.QuotePending, t0, later, apperr.Invalid, MsgOfferExpired},
	} {
		q := &store.Quote{Status: c.quoteStat, ExpiresAt: c.quoteExp}
		o := &store.Offer{Status: c.offerStatus, ExpiresAt: c.offerExp, Quote: q}
		wantErr(t, c.name, checkAccept(o, q, t0), c.kind, c.msg)
	}
}

func TestRejectGuard(t *testing.T) {
	t.Parallel()
	for status, kind := range map[string]apperr.Kind{store.OfferPending: "", store.OfferRejected: apperr.Invalid, store.OfferAccepted: apperr.Invalid} {
		// An expired pending offer can still be rejected.
		o := &store.Offer{Status: status, ExpiresAt: t0.Add(-time.Hour)}
		msg := ""
		if kind != "" {
			msg = MsgRejectNotPending
		}
		wantErr(t, status, checkReject(o), kind, msg)
	}
}

func TestOwnPendingGuard(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		status      string
		expires     time.Time
		caller      string
		checkExpiry bool
		kind        apperr.Kind
		msg         string
	}{
		{"own pending", store.QuotePending, t0.Add(time.Minute), "user_client", true, "", ""},
		{"own expired, expiry checked (update)", store.QuotePending, t0, "user_client", true, apperr.Invalid, MsgQuoteExpired},
		{"own expired, not checked (cancel, extend)", store.QuotePending, t0.Add(-time.Hour), "user_client", false, "", ""},
		{"own, not pending", store.QuoteCancelled, t0.Add(time.Minute), "user_client", false, apperr.Invalid, MsgQuoteCancelOnly},
		{"someone else's pending: 403", store.QuotePending, t0.Add(time.Minute), "user_other", false, apperr.Forbidden, ""},
		{"someone else's accepted: 404", store.QuoteAccepted, t0.Add(time.Minute), "user_other", false, apperr.NotFound, ""},
	} {
		q := &store.Quote{ClientID: "user_client", Status: c.status, ExpiresAt: c.expires}
		wantErr(t, c.name, checkOwnPending(q, c.caller, MsgQuoteCancelOnly, c.checkExpiry, t0), c.kind, c.msg)
	}
}

func TestExtendedExpiry(t *testing.T) {
	t.Parallel()
	const maxLife = 60 * time.Minute
	for _, c := range []struct {
		name             string
		created, expires time.Time
		minutes          int64
		want             time.Time
	}{
		{"adds the minutes", t0, t0.Add(10 * time.Minute), 5, t0.Add(15 * time.Minute)},
		{"capped at created + lifetime", t0, t0.Add(50 * time.Minute), 30, t0.Add(maxLife)},
		{"exactly at the cap", t0, t0.Add(30 * time.Minute), 30, t0.Add(maxLife)},
		{"never earlier than it was", t0, t0.Add(90 * time.Minute), 5, t0.Add(90 * time.Minute)},
		{"an expired quote is extended from its expiry", t0, t0.Add(10 * time.Minute), 1, t0.Add(11 * time.Minute)},
	} {
		q := &store.Quote{ID: uuid.New(), CreatedAt: c.created, ExpiresAt: c.expires}
		if got := extendedExpiry(q, c.minutes, maxLife); !got.Equal(c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(-time.Microsecond), true},
		{t0, true}, // expires_at is the first instant it is gone
		{t0.Add(time.Microsecond), false},
	} {
		if got := expired(c.at, t0); got != c.want {
			t.Errorf("expired(%s at %s) = %v", c.at, t0, got)
		}
	}
}
