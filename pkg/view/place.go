package view

import (
	"math"
	"sync/atomic"

	"hermez/pkg/geo"
)

// DefaultTripSpeedKmh is TRIP_SPEED_KMH's default (config.md "Place").
const DefaultTripSpeedKmh = 20

// tripSpeed holds the float64 bits of the speed every rendering of this
// process estimates trips with; 0 reads as DefaultTripSpeedKmh.
//
// Why a process-wide setting rather than an argument: TRIP_SPEED_KMH is one
// value per deployment, read once at start, and a Quote or Delivery is
// rendered from some thirty places in five packages (HTTP answers, the
// outbox frames written in each change's transaction, socket snapshots),
// each of which would otherwise carry the speed only to hand it on. app sets
// it once from the configuration (SetTripSpeed), before serving; it is atomic
// so that tests starting several processes in one binary stay race-free.
var tripSpeed atomic.Uint64

// SetTripSpeed sets the speed (km/h, positive; config.Validate refuses any
// other) of every estimated_minutes this process renders.
func SetTripSpeed(kmh float64) {
	if !(kmh > 0) || math.IsInf(kmh, 0) {
		kmh = DefaultTripSpeedKmh
	}
	tripSpeed.Store(math.Float64bits(kmh))
}

// TripSpeed is the speed set by SetTripSpeed (DefaultTripSpeedKmh until then).
func TripSpeed() float64 {
	if b := tripSpeed.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return DefaultTripSpeedKmh
}

// Trip is place.md §2's distance_km (pickup → delivery, 2 decimals) and
// estimated_minutes (ceil(d / speedKmh × 60) with d unrounded): both nil
// unless both points are whole pairs.
func Trip(pickup, delivery geo.Pair, speedKmh float64) (km *float64, minutes *int) {
	a, ok := pickup.Point()
	if !ok {
		return nil, nil
	}
	b, ok := delivery.Point()
	if !ok {
		return nil, nil
	}
	d := geo.DistanceKm(a, b)
	r, m := geo.Round2(d), geo.Minutes(d, speedKmh)
	return &r, &m
}

// points are the four coordinates of a Quote or a Delivery and their trip,
// rendered alike on both.
type points struct {
	PickupLatitude    *float64 `json:"pickup_latitude"`
	PickupLongitude   *float64 `json:"pickup_longitude"`
	DeliveryLatitude  *float64 `json:"delivery_latitude"`
	DeliveryLongitude *float64 `json:"delivery_longitude"`
	DistanceKm        *float64 `json:"distance_km"`
	EstimatedMinutes  *int     `json:"estimated_minutes"`
}

func newPoints(plat, plng, dlat, dlng *float64) points {
	p := points{PickupLatitude: plat, PickupLongitude: plng, DeliveryLatitude: dlat, DeliveryLongitude: dlng}
	p.DistanceKm, p.EstimatedMinutes = Trip(geo.Pair{Lat: plat, Lng: plng}, geo.Pair{Lat: dlat, Lng: dlng}, TripSpeed())
	return p
}
