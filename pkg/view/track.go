package view

import (
	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/store"
)

// DriverLocation is the data of a `driver_location` frame and a Delivery's
// `driver_location` (place.md §6): the driver's position with the distance
// left and its ETA, computed for the delivery's state when rendered.
type DriverLocation struct {
	DeliveryID          string   `json:"delivery_id"`
	Latitude            float64  `json:"latitude"`
	Longitude           float64  `json:"longitude"`
	Accuracy            *float64 `json:"accuracy"`
	Heading             *float64 `json:"heading"`
	Speed               *float64 `json:"speed"`
	RecordedAt          Time     `json:"recorded_at"`
	DistanceRemainingKm *float64 `json:"distance_remaining_km"`
	EtaMinutes          *int     `json:"eta_minutes"`
}

// MinReportedSpeed is the reported speed (m/s) above which an ETA uses it
// rather than TRIP_SPEED_KMH (place.md §6).
const MinReportedSpeed = 2.0

// Tracked tells whether a delivery in status is tracked live (assigned,
// picked up or in transit).
func Tracked(status string) bool {
	switch status {
	case store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit:
		return true
	}
	return false
}

// Remaining is the distance left (km, unrounded) from p for a delivery in
// status: to the pickup while assigned, to the delivery point after; ok is
// false without that point.
func Remaining(status string, pickup, dropoff geo.Pair, p geo.Point) (km float64, ok bool) {
	target := dropoff
	if status == store.DeliveryAssigned {
		target = pickup
	}
	t, ok := target.Point()
	if !ok {
		return 0, false
	}
	return geo.DistanceKm(p, t), true
}

// ETA is ceil(km / v × 60) with v the reported speed (m/s) when above
// MinReportedSpeed, else speedKmh.
func ETA(km float64, speed *float64, speedKmh float64) int {
	if speed != nil && *speed > MinReportedSpeed {
		return geo.Minutes(km, *speed*3.6)
	}
	return geo.Minutes(km, speedKmh)
}

// NewDriverLocation renders loc for a delivery in status with the given
// points (ETA at this process's TripSpeed without a reported speed).
func NewDriverLocation(deliveryID, status string, pickup, dropoff geo.Pair, loc location.Location) *DriverLocation {
	out := &DriverLocation{DeliveryID: deliveryID, Latitude: loc.Latitude, Longitude: loc.Longitude,
		Accuracy: loc.Accuracy, Heading: loc.Heading, Speed: loc.Speed, RecordedAt: Time(loc.RecordedAt)}
	if km, ok := Remaining(status, pickup, dropoff, loc.Point()); ok {
		r, m := geo.Round2(km), ETA(km, loc.Speed, TripSpeed())
		out.DistanceRemainingKm, out.EtaMinutes = &r, &m
	}
	return out
}

// DeliveryPoints are a delivery's pickup and delivery pairs.
func DeliveryPoints(d *store.Delivery) (pickup, dropoff geo.Pair) {
	return geo.Pair{Lat: d.PickupLatitude, Lng: d.PickupLongitude}, geo.Pair{Lat: d.DeliveryLatitude, Lng: d.DeliveryLongitude}
}

// TrackPoint is one point of GET /deliveries/api/{id}/track/.
type TrackPoint struct {
	Latitude   float64 `json:"latitude"`
	Longitude  float64 `json:"longitude"`
	RecordedAt Time    `json:"recorded_at"`
}

// Track is the answer of GET /deliveries/api/{id}/track/: the points oldest
// first and the distance along them (km, 2 decimals).
type Track struct {
	DeliveryID string       `json:"delivery_id"`
	Points     []TrackPoint `json:"points"`
	DistanceKm float64      `json:"distance_km"`
}

// NewTrack renders a delivery's trail (points oldest first).
func NewTrack(deliveryID string, ps []store.TrackPoint) *Track {
	out := &Track{DeliveryID: deliveryID, Points: make([]TrackPoint, len(ps))}
	km := 0.0
	for i, p := range ps {
		out.Points[i] = TrackPoint{Latitude: p.Latitude, Longitude: p.Longitude, RecordedAt: Time(p.RecordedAt)}
		if i > 0 {
			km += geo.DistanceKm(geo.Point{Lat: ps[i-1].Latitude, Lng: ps[i-1].Longitude}, geo.Point{Lat: p.Latitude, Lng: p.Longitude})
		}
	}
	out.DistanceKm = geo.Round2(km)
	return out
}
