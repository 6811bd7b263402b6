package market_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/market"
	"hermez/pkg/optional"
	"hermez/pkg/store"
)

func f64(v float64) *float64 { return &v }

// withPoints sets the four coordinates of a quote input (nil: not sent).
func withPoints(in market.QuoteInput, plat, plng, dlat, dlng *float64) market.QuoteInput {
	set := func(v *float64) optional.Field[float64] {
		if v == nil {
			return optional.Field[float64]{}
		}
		return optional.Value(*v)
	}
	in.PickupLatitude, in.PickupLongitude = set(plat), set(plng)
	in.DeliveryLatitude, in.DeliveryLongitude = set(dlat), set(dlng)
	return in
}

// points is a quote's or delivery's four coordinates.
func points(plat, plng, dlat, dlng *float64) [4]any {
	out := [4]any{}
	for i, p := range []*float64{plat, plng, dlat, dlng} {
		if p != nil {
			out[i] = *p
		}
	}
	return out
}

func storedQuotePoints(t *testing.T, st *store.Store, q *store.Quote) [4]any {
	t.Helper()
	var got store.Quote
	if err := st.DB.Take(&got, "id = ?", q.ID).Error; err != nil {
		t.Fatal(err)
	}
	return points(got.PickupLatitude, got.PickupLongitude, got.DeliveryLatitude, got.DeliveryLongitude)
}

// The pair rule on a quote's two points (place.md §1), service side: the
// decoder has range-checked and rounded the values already.
func TestQuoteCoordinates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newMarketFixture(t)

	// Both points, the same one (one building, two floors): accepted, stored as given.
	q, err := f.svc.CreateQuote(ctx, f.client, withPoints(validQuote(f.cat.ID), f64(4.711), f64(-74.0721), f64(4.711), f64(-74.0721)))
	if err != nil {
		t.Fatalf("create with equal points: %v", err)
	}
	if got, want := storedQuotePoints(t, f.st, q), [4]any{4.711, -74.0721, 4.711, -74.0721}; got != want {
		t.Errorf("stored %v, want %v", got, want)
	}

	// Creation: half a pair is a field error on the missing half, both
	// pairs checked at once and together with the other fields' errors.
	in := withPoints(validQuote(f.cat.ID), f64(4.7), nil, nil, f64(-74))
	in.ClientPrice = optional.Value(decimal.Zero)
	_, err = f.svc.CreateQuote(ctx, f.client, in)
	want := apperr.Fields{"pickup_longitude": {apperr.MsgRequired}, "delivery_latitude": {apperr.MsgRequired},
		"client_price": {market.MsgPriceNotPositive}}
	if !reflect.DeepEqual(fieldsOf(err), want) {
		t.Errorf("half pairs on create: %v, want %v", err, want)
	}
	// A half the decoder refused is not reported missing as well.
	in = withPoints(validQuote(f.cat.ID), f64(4.7), nil, nil, nil)
	in.Invalid = apperr.Fields{"pickup_longitude": {"Se requiere un número válido."}}
	if _, err := f.svc.CreateQuote(ctx, f.client, in); !reflect.DeepEqual(fieldsOf(err), in.Invalid) {
		t.Errorf("refused half: %v", err)
	}
	// Only the delivery pair: accepted, no pickup.
	q2, err := f.svc.CreateQuote(ctx, f.client, withPoints(validQuote(f.cat.ID), nil, nil, f64(4.6), f64(-74.08)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := storedQuotePoints(t, f.st, q2), [4]any{nil, nil, 4.6, -74.08}; got != want {
		t.Errorf("delivery pair only: stored %v", got)
	}

	// PATCH: one half of a stored pair may change; the other stays.
	patch := withPoints(market.QuoteInput{Invalid: apperr.Fields{}}, nil, f64(-74.05), nil, nil)
	if _, err := f.svc.UpdateQuote(ctx, f.client, q.ID, patch); err != nil {
		t.Fatalf("patch one half: %v", err)
	}
	if got, want := storedQuotePoints(t, f.st, q), [4]any{4.711, -74.05, 4.711, -74.0721}; got != want {
		t.Errorf("after patching one half: %v, want %v", got, want)
	}
	// A PATCH that would leave one half alone: refused, nothing written.
	patch = market.QuoteInput{DeliveryLatitude: optional.Null[float64](), Invalid: apperr.Fields{}}
	_, err = f.svc.UpdateQuote(ctx, f.client, q.ID, patch)
	if !reflect.DeepEqual(fieldsOf(err), apperr.Fields{"delivery_latitude": {geo.MsgHalfNull}}) {
		t.Errorf("clearing one half: %v", err)
	}
	patch = withPoints(market.QuoteInput{Invalid: apperr.Fields{}}, nil, nil, nil, f64(-74.3))
	_, err = f.svc.UpdateQuote(ctx, f.client, q2.ID, patch)
	if err != nil {
		t.Errorf("patching half of a stored delivery pair: %v", err)
	}
	patch = withPoints(market.QuoteInput{Invalid: apperr.Fields{}}, f64(4.5), nil, nil, nil)
	_, err = f.svc.UpdateQuote(ctx, f.client, q2.ID, patch)
	if !reflect.DeepEqual(fieldsOf(err), apperr.Fields{"pickup_longitude": {apperr.MsgRequired}}) {
		t.Errorf("half a pickup on a quote without one: %v", err)
	}
	if got, want := storedQuotePoints(t, f.st, q2), [4]any{nil, nil, 4.6, -74.3}; got != want {
		t.Errorf("refused patches wrote: %v, want %v", got, want)
	}
	// null clears a pair.
	patch = market.QuoteInput{PickupLatitude: optional.Null[float64](), PickupLongitude: optional.Null[float64](), Invalid: apperr.Fields{}}
	got, err := f.svc.UpdateQuote(ctx, f.client, q.ID, patch)
	if err != nil {
		t.Fatal(err)
	}
	if got.PickupLatitude != nil || got.PickupLongitude != nil {
		t.Errorf("answer after clearing: %v %v", got.PickupLatitude, got.PickupLongitude)
	}
	if got, want := storedQuotePoints(t, f.st, q), [4]any{nil, nil, 4.711, -74.0721}; got != want {
		t.Errorf("after clearing the pickup: %v, want %v", got, want)
	}
}

// Accepting an offer copies the quote's four coordinates to the delivery
// (the quote row goes).
func TestAcceptCopiesCoordinates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newMarketFixture(t)
	for _, pts := range [][4]*float64{
		{f64(4.711), f64(-74.0721), f64(4.6097), f64(-74.0817)},
		{nil, nil, f64(4.6097), f64(-74.0817)},
		{nil, nil, nil, nil},
	} {
		q, err := f.svc.CreateQuote(ctx, f.client, withPoints(validQuote(f.cat.ID), pts[0], pts[1], pts[2], pts[3]))
		if err != nil {
			t.Fatal(err)
		}
		o, _, err := f.svc.MakeOffer(ctx, f.driver, q.ID, market.OfferInput{ProposedPrice: optional.Value(decimal.NewFromInt(8000)), Invalid: apperr.Fields{}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.AcceptOffer(ctx, f.client, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := points(pts[0], pts[1], pts[2], pts[3])
		if got := points(d.PickupLatitude, d.PickupLongitude, d.DeliveryLatitude, d.DeliveryLongitude); got != want {
			t.Errorf("answered delivery %v, want %v", got, want)
		}
		var stored store.Delivery
		if err := f.st.DB.Take(&stored, "id = ?", d.ID).Error; err != nil {
			t.Fatal(err)
		}
		if got := points(stored.PickupLatitude, stored.PickupLongitude, stored.DeliveryLatitude, stored.DeliveryLongitude); got != want {
			t.Errorf("stored delivery %v, want %v", got, want)
		}
	}
}
