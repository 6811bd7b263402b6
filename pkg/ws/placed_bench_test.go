package ws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
)

// benchTowns are 100 towns on a 10 × 10 grid 0.5° (≈ 55 km) apart, so no
// two towns' 10 km areas overlap.
func benchTowns() []geo.Point {
	var out []geo.Point
	for i := range 10 {
		for j := range 10 {
			out = append(out, geo.Point{Lat: 1 + 0.5*float64(i), Lng: -78 + 0.5*float64(j)})
		}
	}
	return out
}

// around is a point within maxKm of p (deterministic for r).
func around(r *rand.Rand, p geo.Point, maxKm float64) geo.Point {
	d, a := maxKm*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64()
	k := geo.EarthRadiusKm * math.Pi / 180
	return geo.Point{Lat: p.Lat + d*math.Sin(a)/k, Lng: p.Lng + d*math.Cos(a)/(k*math.Cos(p.Lat*math.Pi/180))}
}

// placingHub is a hub that places new_quotes sockets (radius 10 km), its
// users' locations in memory.
func placingHub(queue int) *Hub {
	h := NewHub(realtime.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{QueueSize: queue})
	h.Locations = location.NewMemory(time.Hour, time.Now)
	h.place = placer{radiusKm: 10, snapshot: func(context.Context, *geo.Point, realtime.Versions) ([]byte, []string, error) {
		return []byte(`{"type":"initial_quotes","quotes":[]}`), nil, nil
	}}
	return h
}

// placeAt gives c's user a fresh location at p (nil: none) and c its placement.
func placeAt(tb testing.TB, h *Hub, c *Conn, p *geo.Point) {
	tb.Helper()
	if p != nil {
		if _, err := h.Locations.Set(context.Background(), c.user, location.Location{Latitude: p.Lat, Longitude: p.Lng, RecordedAt: time.Now()}); err != nil {
			tb.Fatal(err)
		}
	}
	c.place = h.newPlacement(context.Background(), c.user)
}

func quoteMsg(id int, pickup *geo.Point, final bool) realtime.Message {
	payload := []byte(`{"type":"quote_created","data":{"pad":"` + strings.Repeat("x", 1500) + `"}}`)
	m := realtime.RawMessage(realtime.GroupNewQuotes, realtime.QuoteCreated, payload).About(realtime.ResourceQuote(fmt.Sprint(id)), 1, final)
	if pickup != nil {
		m.Pickup = &realtime.Pickup{Lat: pickup.Lat, Lng: pickup.Lng}
	}
	return m
}

// TestPlacedFanoutReachesItsArea: 2,000 placed sockets over 100 towns (each
// within 8 km of its town's centre) and 200 unplaced ones; a quote picked up
// near a town reaches exactly the placed sockets within 10 km of its pickup
// plus the unplaced ones, and a quote without pickup reaches all 2,200.
func TestPlacedFanoutReachesItsArea(t *testing.T) {
	h := placingHub(1 << 12)
	r := rand.New(rand.NewPCG(1, 2))
	towns := benchTowns()
	var conns []*Conn
	var where []*geo.Point
	for i := range 2200 {
		var p *geo.Point
		if i < 2000 {
			pt := around(r, towns[i%len(towns)], 8)
			p = &pt
		}
		// writing: true stands for a busy writer, so frames only queue.
		c := &Conn{user: fmt.Sprint("user_", i), group: realtime.GroupNewQuotes, opts: &h.opts, writing: true}
		placeAt(t, h, c, p)
		if !h.join(c) {
			t.Fatal("join refused")
		}
		conns, where = append(conns, c), append(where, p)
	}
	queued := func() []int {
		var got []int
		for i, c := range conns {
			c.mu.Lock()
			if len(c.queue) > 0 {
				got = append(got, i)
			}
			c.queue = nil
			c.mu.Unlock()
		}
		return got
	}
	for k, town := range towns {
		pickup := around(r, town, 5)
		h.Dispatch(quoteMsg(k, &pickup, false))
		got := queued()
		var want []int
		for i, p := range where {
			if p == nil || geo.DistanceKm(*p, pickup) <= 10 {
				want = append(want, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("town %d: the quote reached %d sockets, want the %d in its area and unplaced:\n got %v\nwant %v", k, len(got), len(want), got, want)
		}
		if len(want)-200 < 5 {
			t.Fatalf("town %d: only %d placed sockets in range: the fixture proves little", k, len(want)-200)
		}
	}
	h.Dispatch(quoteMsg(1000, nil, false))
	if got := queued(); len(got) != len(conns) {
		t.Fatalf("a quote without pickup reached %d of %d sockets", len(got), len(conns))
	}
}

// BenchmarkPlacedFanout is the worker's CPU per quote with placed sockets
// spread over 100 towns (place.md §4's cost rule), on real sockets as in
// BenchmarkFanoutVsBare (server side here, clients in a child process). Every
// socket is placed within 8 km of its town's centre. Each iteration
// dispatches one quote picked up in each town (100 placed quotes) and one
// quote without pickup (every socket), waiting for the writers after each.
// Reported: placed-µs/quote and unplaced-µs/quote (this process's CPU,
// getrusage), their ratio, frames per placed quote and the in-range share
// (frames per placed quote / sockets): the ratio should be about the share.
//
//	go test -run '^$' -bench PlacedFanout -benchtime 10x -count 3 ./pkg/ws/
func BenchmarkPlacedFanout(b *testing.B) {
	const n = 2000
	h := placingHub(0)
	r := rand.New(rand.NewPCG(3, 4))
	towns := benchTowns()
	conns := openBenchSockets(b, h, n, func(i int, c *Conn) {
		c.user = fmt.Sprint("user_", i)
		p := around(r, towns[i%len(towns)], 8)
		placeAt(b, h, c, &p)
	})
	sent := func() float64 {
		var m dto.Metric
		_ = metrics.SocketMessagesSent.Write(&m)
		return m.GetCounter().GetValue()
	}
	var placedCPU, unplacedCPU time.Duration
	var placedFrames float64
	id := 0
	b.ResetTimer()
	for b.Loop() {
		s0, c0 := sent(), cpuTime()
		for _, town := range towns {
			pickup := around(r, town, 5)
			id++
			h.Dispatch(quoteMsg(id, &pickup, false))
		}
		waitWritersIdle(b, conns)
		c1, s1 := cpuTime(), sent()
		id++
		h.Dispatch(quoteMsg(id, nil, false))
		waitWritersIdle(b, conns)
		c2 := cpuTime()
		placedCPU += c1 - c0
		unplacedCPU += c2 - c1
		placedFrames += s1 - s0
	}
	b.StopTimer()
	quotes := float64(b.N * len(towns))
	perPlaced := float64(placedCPU.Microseconds()) / quotes
	perUnplaced := float64(unplacedCPU.Microseconds()) / float64(b.N)
	b.ReportMetric(perPlaced, "placed-µs/quote")
	b.ReportMetric(perUnplaced, "unplaced-µs/quote")
	b.ReportMetric(perPlaced/perUnplaced, "ratio")
	b.ReportMetric(placedFrames/quotes, "frames/placed-quote")
	b.ReportMetric(placedFrames/quotes/n, "in-range-share")
}
