package view_test

import (
	"testing"
	"time"

	"hermez/pkg/store"
	"hermez/pkg/view"
)

// can_accept reads the accept rule (store.Offer.Acceptance, the one market's
// accept checks) for the quote's client only.
func TestCanAccept(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later, earlier := now.Add(time.Minute), now.Add(-time.Minute)
	for _, c := range []struct {
		name                 string
		viewer               view.Viewer
		offerStat, quoteStat string
		offerExp, quoteExp   time.Time
		noQuote              bool
		want                 bool
	}{
		{"client, both pending", "client", store.OfferPending, store.QuotePending, later, later, false, true},
		{"another user", "driver", store.OfferPending, store.QuotePending, later, later, false, false},
		{"anonymous", "", store.OfferPending, store.QuotePending, later, later, false, false},
		{"quote not loaded", "client", store.OfferPending, store.QuotePending, later, later, true, false},
		{"offer rejected", "client", store.OfferRejected, store.QuotePending, later, later, false, false},
		{"quote accepted", "client", store.OfferPending, store.QuoteAccepted, later, later, false, false},
		{"offer expired", "client", store.OfferPending, store.QuotePending, earlier, later, false, false},
		{"quote expired", "client", store.OfferPending, store.QuotePending, later, earlier, false, false},
		{"offer expires now", "client", store.OfferPending, store.QuotePending, now, later, false, false},
	} {
		q := &store.Quote{ClientID: "client", Status: c.quoteStat, ExpiresAt: c.quoteExp}
		o := &store.Offer{Status: c.offerStat, ExpiresAt: c.offerExp, Quote: q}
		if c.noQuote {
			o.Quote = nil
		}
		if got := view.CanAccept(o, c.viewer, now); got != c.want {
			t.Errorf("%s: CanAccept = %v, want %v", c.name, got, c.want)
		}
	}
}
