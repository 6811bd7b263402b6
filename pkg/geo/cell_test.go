package geo

import (
	"math/rand/v2"
	"testing"
)

func TestCellOf(t *testing.T) {
	cases := []struct {
		p    Point
		want Cell
	}{
		{Point{0, 0}, Cell{900, 1800}},
		{Point{-90, -180}, Cell{0, 0}},
		{Point{90, 180}, Cell{1799, 0}}, // the north pole's row; 180° is −180°
		{Point{4.711, -74.0721}, Cell{947, 1059}},
	}
	for _, c := range cases {
		if got := CellOf(c.p); got != c.want {
			t.Errorf("CellOf(%v) = %v, want %v", c.p, got, c.want)
		}
		back, err := ParseCell(c.want.String())
		if err != nil || back != c.want {
			t.Errorf("ParseCell(%q) = %v, %v", c.want.String(), back, err)
		}
	}
	for _, bad := range []string{"", "1", "a.b", "-1.3", "1800.0", "3.3600"} {
		if _, err := ParseCell(bad); err == nil {
			t.Errorf("ParseCell(%q) accepted", bad)
		}
	}
}

// TestCellsWithinCoversTheCircle: every point within the radius lies in one
// of the listed cells, and every listed cell has a point within the radius
// (checked against random points, the antimeridian and high latitudes included).
func TestCellsWithinCoversTheCircle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	centres := []Point{{4.711, -74.0721}, {0, 179.98}, {0, -179.98}, {64.1, -21.9}, {-33.9, 151.2}, {89.99, 10}}
	for i := 0; i < 30; i++ {
		centres = append(centres, Point{rng.Float64()*160 - 80, rng.Float64()*360 - 180})
	}
	for _, radius := range []float64{1, 10, 25} {
		for _, c := range centres {
			cells := CellsWithin(c, radius)
			in := map[Cell]bool{}
			for _, x := range cells {
				if in[x] {
					t.Fatalf("%v r=%v: cell %v listed twice", c, radius, x)
				}
				in[x] = true
				if d := x.MinDistanceKm(c); d > radius {
					t.Errorf("%v r=%v: cell %v is %.2f km away", c, radius, x, d)
				}
			}
			if cells[0] != CellOf(c) {
				t.Errorf("%v: the home cell is not first", c)
			}
			for j := 0; j < 400; j++ {
				// A random point within the radius (a small box around c, filtered).
				p := Point{c.Lat + (rng.Float64()*2-1)*radius/100, c.Lng + (rng.Float64()*2-1)*radius/40}
				if p.Lat > 90 || p.Lat < -90 {
					continue
				}
				if p.Lng > 180 {
					p.Lng -= 360
				} else if p.Lng < -180 {
					p.Lng += 360
				}
				if DistanceKm(c, p) <= radius && !in[CellOf(p)] {
					t.Fatalf("%v r=%v: %v (%.2f km) is in cell %v, not listed", c, radius, p, DistanceKm(c, p), CellOf(p))
				}
			}
		}
	}
	if n := len(CellsWithin(Point{4.711, -74.0721}, 10)); n < 4 || n > 16 {
		t.Errorf("Bogotá, 10 km: %d cells", n)
	}
}
