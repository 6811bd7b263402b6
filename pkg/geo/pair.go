package geo

import (
	"hermez/pkg/apperr"
	"hermez/pkg/optional"
)

// Pair is one point's two columns as a row stores them: both set or both
// nil (place.md §1).
type Pair struct {
	Lat, Lng *float64
}

// Point is the pair's point; ok is false unless both halves are set.
func (p Pair) Point() (pt Point, ok bool) {
	if p.Lat == nil || p.Lng == nil {
		return Point{}, false
	}
	return Point{*p.Lat, *p.Lng}, true
}

// MsgHalfNull is the pair rule's message on a half sent as null while the
// other half stays (DRF's null message).
const MsgHalfNull = "Este campo no puede ser nulo."

// Merge is the pair a row holds after an update that sent lat and/or lng
// (not Set: that half keeps its value; Null: cleared; a creation merges
// into the empty Pair), with the pair rule of place.md §1: when only one half
// would be left, a field error goes to f on the missing one (latKey or
// lngKey) — apperr.MsgRequired when it was not sent, MsgHalfNull when it was
// sent null — unless f already explains that key (a value the decoder
// refused). A PATCH may change one half of a whole pair.
func (p Pair) Merge(f apperr.Fields, lat, lng optional.Field[float64], latKey, lngKey string) Pair {
	out := p
	if lat.Set {
		out.Lat = lat.Ptr()
	}
	if lng.Set {
		out.Lng = lng.Ptr()
	}
	missing := func(key string, sent optional.Field[float64]) {
		if f.Has(key) {
			return
		}
		if sent.Set && sent.Null {
			f.Add(key, MsgHalfNull)
		} else {
			f.Add(key, apperr.MsgRequired)
		}
	}
	switch {
	case out.Lat == nil && out.Lng != nil:
		missing(latKey, lat)
	case out.Lat != nil && out.Lng == nil:
		missing(lngKey, lng)
	}
	return out
}
