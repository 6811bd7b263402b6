package geo

import (
	"math"
	"testing"
)

// refHaversine is an independent reference: the spherical law of cosines,
// which agrees with haversine beyond a few metres.
func refCosines(a, b Point) float64 {
	const rad = math.Pi / 180
	c := math.Sin(a.Lat*rad)*math.Sin(b.Lat*rad) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Cos((b.Lng-a.Lng)*rad)
	return EarthRadiusKm * math.Acos(math.Max(-1, math.Min(1, c)))
}

func TestDistanceKm(t *testing.T) {
	bogota := Point{4.711, -74.0721}
	medellin := Point{6.2442, -75.5812}
	cases := []struct {
		name string
		a, b Point
		want float64 // km, independent figure
		tol  float64
	}{
		{"same point", bogota, bogota, 0, 1e-9},
		{"Bogotá–Medellín", bogota, medellin, refCosines(bogota, medellin), 1e-6},
		{"one degree of latitude", Point{0, 0}, Point{1, 0}, 2 * math.Pi * EarthRadiusKm / 360, 1e-9},
		{"antipodes", Point{0, 0}, Point{0, 180}, math.Pi * EarthRadiusKm, 1e-6},
		{"across the antimeridian", Point{0, 179.5}, Point{0, -179.5}, 2 * math.Pi * EarthRadiusKm / 360, 1e-6},
	}
	for _, c := range cases {
		if got := DistanceKm(c.a, c.b); math.Abs(got-c.want) > c.tol {
			t.Errorf("%s: DistanceKm = %.9f, want %.9f", c.name, got, c.want)
		}
		if got, back := DistanceKm(c.a, c.b), DistanceKm(c.b, c.a); math.Abs(got-back) > 1e-9 {
			t.Errorf("%s: not symmetric: %v vs %v", c.name, got, back)
		}
	}
}

func TestRound6(t *testing.T) {
	cases := map[float64]float64{
		4.71098765432101: 4.710988,
		-74.0721234567:   -74.072123,
		-0.0000001:       0,
		90:               90,
		1.0000005:        1.000001,
	}
	for in, want := range cases {
		if got := Round6(in); got != want {
			t.Errorf("Round6(%v) = %v, want %v", in, got, want)
		}
	}
	if math.Signbit(Round6(-0.0000001)) {
		t.Error("Round6 kept a negative zero")
	}
}

func TestValid(t *testing.T) {
	for _, v := range []float64{-90, 0, 90, 45.5} {
		if !ValidLat(v) {
			t.Errorf("ValidLat(%v) = false", v)
		}
	}
	for _, v := range []float64{-90.000001, 91, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if ValidLat(v) {
			t.Errorf("ValidLat(%v) = true", v)
		}
	}
	for _, v := range []float64{-180, 180, 0} {
		if !ValidLng(v) {
			t.Errorf("ValidLng(%v) = false", v)
		}
	}
	for _, v := range []float64{-180.5, 181, math.NaN(), math.Inf(-1)} {
		if ValidLng(v) {
			t.Errorf("ValidLng(%v) = true", v)
		}
	}
}

func TestMinutes(t *testing.T) {
	cases := []struct {
		km, speed float64
		want      int
	}{
		{0, 20, 0},
		{10, 20, 30},
		{10.01, 20, 31},
		{0.001, 20, 1},
		{5, 0, 0},
	}
	for _, c := range cases {
		if got := Minutes(c.km, c.speed); got != c.want {
			t.Errorf("Minutes(%v, %v) = %d, want %d", c.km, c.speed, got, c.want)
		}
	}
}
