package geo

import (
	"reflect"
	"testing"

	"hermez/pkg/apperr"
	"hermez/pkg/optional"
)

func TestPairMerge(t *testing.T) {
	t.Parallel()
	f64 := func(v float64) *float64 { return &v }
	none := optional.Field[float64]{}
	null := optional.Null[float64]()
	val := optional.Value[float64]
	stored := Pair{f64(4.7), f64(-74.1)}
	for _, c := range []struct {
		name     string
		cur      Pair
		lat, lng optional.Field[float64]
		prior    apperr.Fields // the decoder's
		want     Pair
		fields   apperr.Fields
	}{
		{"create with both", Pair{}, val(4.6), val(-74.2), nil, Pair{f64(4.6), f64(-74.2)}, nil},
		{"create with neither", Pair{}, none, none, nil, Pair{}, nil},
		{"create with nulls", Pair{}, null, null, nil, Pair{}, nil},
		{"create with latitude alone", Pair{}, val(4.6), none, nil, Pair{f64(4.6), nil}, apperr.Fields{"lng": {apperr.MsgRequired}}},
		{"create with longitude alone", Pair{}, none, val(-74.2), nil, Pair{nil, f64(-74.2)}, apperr.Fields{"lat": {apperr.MsgRequired}}},
		{"create with latitude and a null longitude", Pair{}, val(4.6), null, nil, Pair{f64(4.6), nil}, apperr.Fields{"lng": {MsgHalfNull}}},
		{"create with a refused longitude: no second message", Pair{}, val(4.6), none, apperr.Fields{"lng": {"mal"}}, Pair{f64(4.6), nil}, apperr.Fields{"lng": {"mal"}}},
		{"patch one half of a stored pair", stored, val(4.8), none, nil, Pair{f64(4.8), f64(-74.1)}, nil},
		{"patch the other half", stored, none, val(-74), nil, Pair{f64(4.7), f64(-74)}, nil},
		{"patch nothing", stored, none, none, nil, stored, nil},
		{"clear both", stored, null, null, nil, Pair{}, nil},
		{"clear one half", stored, null, none, nil, Pair{nil, f64(-74.1)}, apperr.Fields{"lat": {MsgHalfNull}}},
		{"patch half of no pair", Pair{}, none, val(-74), nil, Pair{nil, f64(-74)}, apperr.Fields{"lat": {apperr.MsgRequired}}},
	} {
		f := apperr.Fields{}
		for k, v := range c.prior {
			f[k] = v
		}
		got := c.cur.Merge(f, c.lat, c.lng, "lat", "lng")
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: pair %v, want %v", c.name, got, c.want)
		}
		want := c.fields
		if want == nil {
			want = apperr.Fields{}
		}
		if !reflect.DeepEqual(f, want) {
			t.Errorf("%s: fields %v, want %v", c.name, f, want)
		}
	}
	if p, ok := stored.Point(); !ok || p != (Point{4.7, -74.1}) {
		t.Errorf("Point of a whole pair: %v %v", p, ok)
	}
	if _, ok := (Pair{Lat: f64(1)}).Point(); ok {
		t.Error("Point of half a pair is ok")
	}
}
