// Package geo is the arithmetic of place (docs: place.md): WGS84 points,
// great-circle distance, the rounding coordinates are stored with, and trip
// estimates, and the pair rule of a stored point (pair.go). It has no state
// and imports only pkg/optional (a leaf).
package geo

import "math"

// EarthRadiusKm is the mean Earth radius of place.md's distances.
const EarthRadiusKm = 6371.0088

// Point is a WGS84 position in decimal degrees.
type Point struct {
	Lat float64
	Lng float64
}

// ValidLat tells whether lat is a latitude (−90..90, finite).
func ValidLat(lat float64) bool { return !math.IsNaN(lat) && lat >= -90 && lat <= 90 }

// ValidLng tells whether lng is a longitude (−180..180, finite).
func ValidLng(lng float64) bool { return !math.IsNaN(lng) && lng >= -180 && lng <= 180 }

// Round6 rounds a coordinate to the 6 decimal places it is stored with
// (about 11 cm), half away from zero.
func Round6(v float64) float64 {
	r := math.Round(v*1e6) / 1e6
	if r == 0 {
		return 0 // no negative zero
	}
	return r
}

// DistanceKm is the haversine great-circle distance between a and b in km.
func DistanceKm(a, b Point) float64 {
	const rad = math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLng := (b.Lng - a.Lng) * rad
	s := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * EarthRadiusKm * math.Asin(math.Min(1, math.Sqrt(s)))
}

// Round2 rounds a distance in km to the 2 decimals it is rendered with.
func Round2(km float64) float64 { return math.Round(km*100) / 100 }

// Minutes is ceil(km / speedKmh × 60): the minutes a trip of km takes at
// speedKmh (place.md §2 and §6). A zero distance takes 0 minutes.
func Minutes(km, speedKmh float64) int {
	if speedKmh <= 0 {
		return 0
	}
	return int(math.Ceil(km / speedKmh * 60))
}
