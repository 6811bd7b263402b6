package track

import (
	"math"
	"strconv"
	"strings"

	"hermez/pkg/store"
	"hermez/pkg/view"
)

// Picture is a trail drawn for an inline SVG (the console's delivery page,
// place.md §6): the points projected (equirectangular, longitudes shrunk by
// the cosine of the mean latitude) and scaled to fit W×H less a margin,
// north up, aspect kept; no map tiles, nothing fetched.
type Picture struct {
	W, H       int
	Points     string  // the polyline's "x,y x,y …"
	StartX     float64 // first point
	StartY     float64
	EndX       float64 // last point
	EndY       float64
	N          int     // points
	DistanceKm float64 // along the points, 2 decimals
}

// Size of the picture and its margin (px).
const (
	pictureW      = 320
	pictureH      = 220
	pictureMargin = 12
)

// NewPicture draws ps (oldest first); nil when there is none.
func NewPicture(ps []store.TrackPoint) *Picture {
	if len(ps) == 0 {
		return nil
	}
	meanLat := 0.0
	for _, p := range ps {
		meanLat += p.Latitude
	}
	meanLat /= float64(len(ps))
	k := math.Cos(meanLat * math.Pi / 180)
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		x, y := p.Longitude*k, p.Latitude
		minX, maxX, minY, maxY = math.Min(minX, x), math.Max(maxX, x), math.Min(minY, y), math.Max(maxY, y)
	}
	innerW, innerH := float64(pictureW-2*pictureMargin), float64(pictureH-2*pictureMargin)
	spanX, spanY := maxX-minX, maxY-minY
	scale := 0.0 // one point, or all at one place: drawn in the middle
	if spanX > 0 || spanY > 0 {
		scale = math.Min(innerW/math.Max(spanX, 1e-12), innerH/math.Max(spanY, 1e-12))
	}
	// Centred: the unused width or height is split on both sides.
	offX := float64(pictureMargin) + (innerW-spanX*scale)/2
	offY := float64(pictureMargin) + (innerH-spanY*scale)/2
	pic := &Picture{W: pictureW, H: pictureH, N: len(ps), DistanceKm: view.NewTrack("", ps).DistanceKm}
	var b strings.Builder
	for i, p := range ps {
		x := offX + (p.Longitude*k-minX)*scale
		y := offY + (maxY-p.Latitude)*scale // north up
		x, y = math.Round(x*10)/10, math.Round(y*10)/10
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', -1, 64))
		if i == 0 {
			pic.StartX, pic.StartY = x, y
		}
		pic.EndX, pic.EndY = x, y
	}
	pic.Points = b.String()
	return pic
}
