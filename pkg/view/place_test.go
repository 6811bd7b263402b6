package view

import (
	"encoding/json"
	"math"
	"testing"

	"hermez/pkg/geo"
	"hermez/pkg/store"
)

func f64(v float64) *float64 { return &v }

// refCosines is an independent reference distance (the spherical law of
// cosines, the one pkg/geo's tests check haversine against).
func refCosines(a, b geo.Point) float64 {
	const rad = math.Pi / 180
	c := math.Sin(a.Lat*rad)*math.Sin(b.Lat*rad) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Cos((b.Lng-a.Lng)*rad)
	return geo.EarthRadiusKm * math.Acos(math.Max(-1, math.Min(1, c)))
}

func TestTrip(t *testing.T) {
	t.Parallel()
	pair := func(lat, lng float64) geo.Pair { return geo.Pair{Lat: f64(lat), Lng: f64(lng)} }
	cabecera, ricaurte := pair(7.119349, -73.122741), pair(7.108601, -73.128952)
	ref := refCosines(geo.Point{Lat: 7.119349, Lng: -73.122741}, geo.Point{Lat: 7.108601, Lng: -73.128952})
	for _, c := range []struct {
		name     string
		a, b     geo.Pair
		speed    float64
		km       any // nil: null
		minutes  any
		checkRef bool
	}{
		// By hand: one degree of a great circle is 6371.0088 × π / 180 = 111.19508 km;
		// at 20 km/h that is 333.585 minutes → 334.
		{"one degree of latitude", pair(0, 0), pair(1, 0), 20, 111.2, 334, false},
		// 0.089941° of the equator is 10.00098 km: 10.00 rendered, but the
		// minutes use the unrounded distance: 30.003 → 31 (30 from the rounded one).
		{"minutes from the unrounded distance", pair(0, 0), pair(0, 0.089941), 20, 10.0, 31, false},
		{"twice the speed", pair(0, 0), pair(1, 0), 40, 111.2, 167, false},
		{"two addresses in Bucaramanga", cabecera, ricaurte, 20, math.Round(ref*100) / 100, int(math.Ceil(ref / 20 * 60)), true},
		{"the same point", cabecera, cabecera, 20, 0.0, 0, false},
		{"only the delivery point", geo.Pair{}, ricaurte, 20, nil, nil, false},
		{"only the pickup point", cabecera, geo.Pair{}, 20, nil, nil, false},
		{"half a pickup", geo.Pair{Lat: f64(7.1)}, ricaurte, 20, nil, nil, false},
	} {
		km, minutes := Trip(c.a, c.b, c.speed)
		var gotKm, gotMin any
		if km != nil {
			gotKm = *km
		}
		if minutes != nil {
			gotMin = *minutes
		}
		if gotKm != c.km || gotMin != c.minutes {
			t.Errorf("%s: %v km %v min, want %v km %v min", c.name, gotKm, gotMin, c.km, c.minutes)
		}
		if c.checkRef && km != nil {
			if exact := geo.DistanceKm(geo.Point{Lat: *c.a.Lat, Lng: *c.a.Lng}, geo.Point{Lat: *c.b.Lat, Lng: *c.b.Lng}); math.Abs(exact-ref) > 1e-6 {
				t.Errorf("%s: haversine %.9f vs reference %.9f", c.name, exact, ref)
			}
		}
	}
}

// A Quote and a Delivery render the six keys always (null without points),
// at the process's trip speed.
func TestQuoteAndDeliveryRenderTheirTrip(t *testing.T) {
	// Not parallel: it sets the process-wide speed.
	defer SetTripSpeed(TripSpeed())
	q := &store.Quote{PickupLatitude: f64(0), PickupLongitude: f64(0), DeliveryLatitude: f64(1), DeliveryLongitude: f64(0)}
	d := &store.Delivery{DeliveryLatitude: f64(4.6), DeliveryLongitude: f64(-74.08)}
	for _, c := range []struct {
		speed   float64
		minutes float64
	}{{20, 334}, {30, 223}} {
		SetTripSpeed(c.speed)
		var got map[string]any
		b, _ := json.Marshal(NewQuote(q, ""))
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got["pickup_latitude"] != 0.0 || got["delivery_latitude"] != 1.0 || got["distance_km"] != 111.2 || got["estimated_minutes"] != c.minutes {
			t.Errorf("quote at %v km/h: %s", c.speed, b)
		}
	}
	var got map[string]any
	b, _ := json.Marshal(NewDelivery(d, ""))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"pickup_latitude": nil, "pickup_longitude": nil, "delivery_latitude": 4.6,
		"delivery_longitude": -74.08, "distance_km": nil, "estimated_minutes": nil} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("delivery %s = %v (present %v), want %v: %s", k, v, ok, want, b)
		}
	}
	SetTripSpeed(0) // refused: the default
	if TripSpeed() != DefaultTripSpeedKmh {
		t.Errorf("SetTripSpeed(0) left %v", TripSpeed())
	}
}
