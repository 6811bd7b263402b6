package geo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The cell grid of place.md §4–§5: the globe cut into CellDeg × CellDeg
// squares of latitude and longitude (≈ 11 km × 11 km at the equator, 11 km ×
// 5.5 km at 60°). A quote is published to the cell of its pickup; a placed
// socket listens to the cells that cover its radius; the available drivers
// are indexed per cell. Cells are plain numbers: no state, no allocation
// beyond the slices returned.
const CellDeg = 0.1

const (
	cellRows = 1800 // 180° / CellDeg
	cellCols = 3600 // 360° / CellDeg
)

// Cell is one square of the grid: Row counts from the south pole, Col from
// the antimeridian (−180°).
type Cell struct {
	Row int
	Col int
}

// CellOf is the cell containing p (p must be valid).
func CellOf(p Point) Cell {
	r := int(math.Floor((p.Lat + 90) / CellDeg))
	c := int(math.Floor((p.Lng + 180) / CellDeg))
	return Cell{Row: min(max(r, 0), cellRows-1), Col: ((c % cellCols) + cellCols) % cellCols}
}

// String is the cell's name in group and key names: "<row>.<col>".
func (c Cell) String() string { return strconv.Itoa(c.Row) + "." + strconv.Itoa(c.Col) }

// ParseCell reads what String wrote.
func ParseCell(s string) (Cell, error) {
	r, c, ok := strings.Cut(s, ".")
	row, err1 := strconv.Atoi(r)
	col, err2 := strconv.Atoi(c)
	if !ok || err1 != nil || err2 != nil || row < 0 || row >= cellRows || col < 0 || col >= cellCols {
		return Cell{}, fmt.Errorf("bad cell %q", s)
	}
	return Cell{Row: row, Col: col}, nil
}

// bounds are the cell's south, north, west and east edges in degrees.
func (c Cell) bounds() (s, n, w, e float64) {
	s = float64(c.Row)*CellDeg - 90
	w = float64(c.Col)*CellDeg - 180
	return s, s + CellDeg, w, w + CellDeg
}

// MinDistanceKm is the shortest distance from p to any point of the cell
// (0 inside it): a cell farther than a radius holds nothing within it.
func (c Cell) MinDistanceKm(p Point) float64 {
	s, n, w, e := c.bounds()
	q := Point{Lat: math.Min(math.Max(p.Lat, s), n)}
	// The nearest longitude of the cell, across the antimeridian too.
	dw, de := lngDiff(p.Lng, w), lngDiff(p.Lng, e)
	switch {
	case lngInside(p.Lng, w, e):
		q.Lng = p.Lng
	case dw < de:
		q.Lng = w
	default:
		q.Lng = e
	}
	return DistanceKm(p, q)
}

func lngDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > 180 {
		d = 360 - d
	}
	return d
}

func lngInside(lng, w, e float64) bool {
	if lng >= w && lng <= e {
		return true
	}
	return lng+360 >= w && lng+360 <= e || lng-360 >= w && lng-360 <= e
}

// CellsWithin lists the cells holding at least one point within radiusKm of
// p: the cells of the bounding box of the circle whose nearest point is
// within the radius. At CellDeg and a 10 km radius: 9–16 cells at the
// latitudes people live at. p's own cell comes first.
func CellsWithin(p Point, radiusKm float64) []Cell {
	home := CellOf(p)
	out := []Cell{home}
	if radiusKm <= 0 {
		return out
	}
	dLat := radiusKm / (EarthRadiusKm * math.Pi / 180)
	south, north := math.Max(p.Lat-dLat, -90), math.Min(p.Lat+dLat, 90)
	var dLng float64
	cosMax := math.Cos(math.Max(math.Abs(south), math.Abs(north)) * math.Pi / 180)
	if cosMax < 1e-9 || radiusKm/(EarthRadiusKm*math.Pi/180)/cosMax >= 180 {
		dLng = 180
	} else {
		dLng = dLat / cosMax
	}
	r0 := CellOf(Point{Lat: south, Lng: p.Lng}).Row
	r1 := CellOf(Point{Lat: north, Lng: p.Lng}).Row
	c0 := int(math.Floor((p.Lng - dLng + 180) / CellDeg))
	c1 := int(math.Floor((p.Lng + dLng + 180) / CellDeg))
	if c1-c0+1 > cellCols {
		c0, c1 = 0, cellCols-1
	}
	seen := map[Cell]bool{home: true}
	for r := r0; r <= r1; r++ {
		for col := c0; col <= c1; col++ {
			c := Cell{Row: r, Col: ((col % cellCols) + cellCols) % cellCols}
			if seen[c] {
				continue
			}
			seen[c] = true
			if c.MinDistanceKm(p) <= radiusKm {
				out = append(out, c)
			}
		}
	}
	return out
}
