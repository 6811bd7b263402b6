package account_test

import (
	"context"
	"reflect"
	"testing"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/optional"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// An address's point (place.md §1), service side: both or neither in the
// resulting row; a PATCH may change one half; null clears; a refused
// update writes nothing.
func TestAddressCoordinates(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	val := optional.Value[float64]
	null := optional.Null[float64]()
	base := func(lat, lng optional.Field[float64]) account.AddressInput {
		return account.AddressInput{Name: testutil.Ptr("Casa"), Type: testutil.Ptr("casa"), Address: testutil.Ptr("Calle 1"), City: testutil.Ptr("Cali"),
			Latitude: lat, Longitude: lng}
	}
	stored := func(id any) [2]any {
		var a store.Address
		if err := w.st.DB.Take(&a, "address_id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
		out := [2]any{}
		if a.Latitude != nil {
			out[0] = *a.Latitude
		}
		if a.Longitude != nil {
			out[1] = *a.Longitude
		}
		return out
	}

	a, err := w.svc.CreateAddress(ctx, user(w.driver), base(val(3.451646), val(-76.532051)))
	if err != nil {
		t.Fatal(err)
	}
	if got := stored(a.AddressID); got != [2]any{3.451646, -76.532051} {
		t.Errorf("stored %v", got)
	}
	plain, err := w.svc.CreateAddress(ctx, user(w.driver), base(optional.Field[float64]{}, optional.Field[float64]{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := stored(plain.AddressID); got != [2]any{nil, nil} {
		t.Errorf("address without a point stored %v", got)
	}

	for _, c := range []struct {
		name string
		in   account.AddressInput
		want apperr.Fields
	}{
		{"latitude alone", base(val(3.4), optional.Field[float64]{}), apperr.Fields{"longitude": {apperr.MsgRequired}}},
		{"longitude alone, with another error", func() account.AddressInput {
			in := base(optional.Field[float64]{}, val(-76))
			in.Invalid = apperr.Fields{"name": {"x"}}
			return in
		}(), apperr.Fields{"latitude": {apperr.MsgRequired}, "name": {"x"}}},
		{"latitude and a null longitude", base(val(3.4), null), apperr.Fields{"longitude": {geo.MsgHalfNull}}},
	} {
		before := countAddresses(t, w)
		if _, err := w.svc.CreateAddress(ctx, user(w.driver), c.in); !reflect.DeepEqual(apperr.Fields(testutil.FieldsOf(t, err)), c.want) {
			t.Errorf("create, %s: %v, want %v", c.name, err, c.want)
		}
		if countAddresses(t, w) != before {
			t.Errorf("create, %s: a row was written", c.name)
		}
	}

	// Updates.
	if _, err := w.svc.UpdateAddress(ctx, user(w.driver), a.AddressID, account.AddressInput{Longitude: val(-76.5)}); err != nil {
		t.Fatalf("patch one half: %v", err)
	}
	if got := stored(a.AddressID); got != [2]any{3.451646, -76.5} {
		t.Errorf("after patching the longitude: %v", got)
	}
	_, err = w.svc.UpdateAddress(ctx, user(w.driver), a.AddressID, account.AddressInput{Latitude: null, City: testutil.Ptr("Palmira")})
	if f := testutil.FieldsOf(t, err); !reflect.DeepEqual(apperr.Fields(f), apperr.Fields{"latitude": {geo.MsgHalfNull}}) {
		t.Errorf("clearing one half: %v", f)
	}
	_, err = w.svc.UpdateAddress(ctx, user(w.driver), plain.AddressID, account.AddressInput{Latitude: val(3)})
	if f := testutil.FieldsOf(t, err); !reflect.DeepEqual(apperr.Fields(f), apperr.Fields{"longitude": {apperr.MsgRequired}}) {
		t.Errorf("half a point on an address without one: %v", f)
	}
	var again store.Address
	if err := w.st.DB.Take(&again, "address_id = ?", a.AddressID).Error; err != nil || again.City != "Cali" {
		t.Errorf("a refused update wrote: %+v %v", again, err)
	}
	got, err := w.svc.UpdateAddress(ctx, user(w.driver), a.AddressID, account.AddressInput{Latitude: null, Longitude: null})
	if err != nil || got.Latitude != nil || got.Longitude != nil {
		t.Fatalf("clearing both: %+v %v", got, err)
	}
	if s := stored(a.AddressID); s != [2]any{nil, nil} {
		t.Errorf("after clearing: %v", s)
	}
	// Another user's address: 404 before the body is judged.
	_, err = w.svc.UpdateAddress(ctx, user(w.other), a.AddressID, account.AddressInput{Latitude: val(1)})
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.NotFound {
		t.Errorf("another's address: %v", err)
	}
}

func countAddresses(t *testing.T, w *world) int64 {
	t.Helper()
	var n int64
	if err := w.st.DB.Model(&store.Address{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
