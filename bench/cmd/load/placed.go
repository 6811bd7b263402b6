package main

// placed-fanout (issue 20, place.md §4): placed new_quotes sockets spread
// over many towns.
//
// It opens -sockets sockets on /ws/deliveries/new-quotes/ (socket i is user
// i mod -users; by default every socket its own user), places user u in town
// u mod -towns (towns on a grid -town-km apart around Colombia's middle,
// each user within spreadKm of its town's centre) with one `location` frame
// on one of its sockets, and waits for the fresh initial_quotes every socket
// of that user gets when it becomes placed (at most -dialers users in
// flight, each bounded by -event-wait, all by -open-timeout). Then it posts
// -events quotes -interval apart, alternating a quote whose pickup is a
// random town's centre (placed: expected by the sockets within -radius-km of
// it, i.e. that town's) and a quote without a pickup (expected by every
// socket); after each placed quote one idle window (no quote), after each
// unplaced one an unmeasured pause of -interval/2. Per kind it
// reports expected, received, missing and latency from the POST being sent
// to quote_created received (p50/p99/max); for placed quotes also the
// receipts outside the area (must be 0). With -pid, the worker's CPU in each
// window (its threads' schedstat, ns; /proc/<pid>/stat ticks beside it):
// per quote of each kind minus the idle rate over the same time, and placed
// ÷ unplaced beside the in-range share (sockets in one area ÷ all).
// Every -relocate it re-sends every user's location (between windows) so
// that none expires during a long run (LOCATION_TTL_SECONDS, 120 s by default).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"hermez/bench/load"
	"hermez/pkg/geo"
)

type placedOptions struct {
	towns     int
	radiusKm  float64
	townKm    float64
	relocate  time.Duration
	wsTargets string
	pids      string

	bases   []string // parsed -ws-targets
	pidList []int    // parsed -pids, or -pid
}

// spreadKm is how far from its town's centre a user is placed, at most.
const spreadKm = 3.0

// maxPlacedEvents bounds -events: every socket keeps its last keepReceipts
// receipts and gets every unplaced quote, checked at the end.
const maxPlacedEvents = 2 * (keepReceipts - 4)

// gridCentre is about the middle of Colombia; the town grid is centred on it.
var gridCentre = geo.Point{Lat: 4.6, Lng: -74.1}

// kmPerDegree is the length of a degree of latitude (of longitude at the equator).
const kmPerDegree = geo.EarthRadiusKm * math.Pi / 180

func (o *options) validatePlaced() error {
	p := o.placed
	side := math.Ceil(math.Sqrt(float64(p.towns)))
	switch {
	case p.towns < 1 || p.towns > 1000:
		return errors.New("-towns must be 1..1000")
	case !(p.radiusKm > 0) || p.radiusKm > 100:
		return errors.New("-radius-km must be in (0, 100] (the server's QUOTE_RADIUS_KM)")
	case !(p.townKm > 2*(p.radiusKm+spreadKm)):
		return fmt.Errorf("-town-km must be more than 2 × (-radius-km + %g km): a quote's area must hold one town only", spreadKm)
	case (side-1)*p.townKm > 4000:
		return errors.New("-towns × -town-km: the grid must stay within 4,000 km")
	case p.relocate < 2*time.Second || p.relocate > time.Hour:
		return errors.New("-relocate must be 2s..1h (under LOCATION_TTL_SECONDS)")
	case o.interval < 100*time.Millisecond || o.interval > time.Minute:
		return errors.New("placed-fanout: -interval is each quote's window, 100ms..1m (e.g. 1s)")
	case o.events > maxPlacedEvents:
		return fmt.Errorf("placed-fanout: -events must be 1..%d (receipts kept per socket)", maxPlacedEvents)
	case o.eventWait <= 0 || o.eventWait > 10*time.Minute:
		return errors.New("-event-wait must be in (0, 10m]")
	case o.openTimeout <= 0 || o.openTimeout > time.Hour:
		return errors.New("-open-timeout must be in (0, 1h]")
	}
	if o.users <= 0 || o.users > o.sockets {
		o.users = o.sockets
	}
	o.placed.bases, o.placed.pidList = nil, nil
	for _, t := range splitList(p.wsTargets) {
		t = strings.TrimRight(t, "/")
		if err := load.CheckLoopback(t); err != nil {
			return err
		}
		o.placed.bases = append(o.placed.bases, t)
	}
	for _, s := range splitList(p.pids) {
		pid, err := strconv.Atoi(s)
		if err != nil || pid <= 0 {
			return fmt.Errorf("-pids: bad pid %q", s)
		}
		o.placed.pidList = append(o.placed.pidList, pid)
	}
	if len(o.placed.pidList) == 0 && o.pid > 0 {
		o.placed.pidList = []int{o.pid}
	}
	return nil
}

// townCentre is town t's centre: row t / side, column t % side of a square
// grid p.townKm apart (east–west measured at the row's latitude).
func townCentre(t int, p placedOptions) geo.Point {
	side := int(math.Ceil(math.Sqrt(float64(p.towns))))
	row, col := t/side, t%side
	half := float64(side-1) / 2
	lat := gridCentre.Lat + (float64(row)-half)*p.townKm/kmPerDegree
	lng := gridCentre.Lng + (float64(col)-half)*p.townKm/(kmPerDegree*math.Cos(lat*math.Pi/180))
	return geo.Point{Lat: geo.Round6(lat), Lng: geo.Round6(lng)}
}

// userPoint is where user u is: in town u mod p.towns, uniformly within
// spreadKm of its centre (the same for every run).
func userPoint(u int, p placedOptions) geo.Point {
	c := townCentre(u%p.towns, p)
	r := rand.New(rand.NewPCG(uint64(u), 20))
	d := spreadKm * math.Sqrt(r.Float64())
	a := 2 * math.Pi * r.Float64()
	return geo.Point{
		Lat: geo.Round6(c.Lat + d*math.Cos(a)/kmPerDegree),
		Lng: geo.Round6(c.Lng + d*math.Sin(a)/(kmPerDegree*math.Cos(c.Lat*math.Pi/180))),
	}
}

func locationFrame(p geo.Point) []byte {
	return fmt.Appendf(nil, `{"type":"location","latitude":%.6f,"longitude":%.6f}`, p.Lat, p.Lng)
}

// placeUsers sends each user's location on their first socket, at most
// -dialers users at a time; with wait it waits (each user at most
// -event-wait) for the fresh initial_quotes on each of the user's sockets
// and returns how many sockets got it. Bounded by -open-timeout.
func (b *bench) placeUsers(ctx context.Context, socks []*sock, byUser [][]int, at []geo.Point, wait bool) (placed, failed int64) {
	ctx, cancel := context.WithTimeout(ctx, b.o.openTimeout)
	defer cancel()
	sem := make(chan struct{}, b.o.dialers)
	var wg sync.WaitGroup
	var nPlaced, nFailed atomic.Int64
	for u, idx := range byUser {
		if ctx.Err() != nil {
			break
		}
		if len(idx) == 0 {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s := socks[idx[0]]
			_ = s.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := s.c.WriteMessage(websocket.TextMessage, locationFrame(at[u])); err != nil {
				nFailed.Add(1)
				return
			}
			if !wait {
				return
			}
			deadline := time.Now().Add(b.o.eventWait)
			for _, i := range idx {
				for socks[i].initials.Load() < 1 && time.Now().Before(deadline) && ctx.Err() == nil {
					time.Sleep(10 * time.Millisecond)
				}
				if socks[i].initials.Load() >= 1 {
					nPlaced.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return nPlaced.Load(), nFailed.Load()
}

// placedQuoteBody is a quote body; with a pickup, the pickup pair and a
// delivery pair 2 km north of it.
func placedQuoteBody(category string, w int, pickup *geo.Point) []byte {
	f := quoteFields(category, w)
	if pickup != nil {
		f["pickup_latitude"], f["pickup_longitude"] = pickup.Lat, pickup.Lng
		f["delivery_latitude"], f["delivery_longitude"] = geo.Round6(pickup.Lat+2/kmPerDegree), pickup.Lng
	}
	body, _ := json.Marshal(f)
	return body
}

// kindStats is one kind of quote's figures (or the idle windows').
type kindStats struct {
	Quotes     int     `json:"quotes"`
	Expected   int64   `json:"expected"`
	Received   int64   `json:"received"`
	Missing    int64   `json:"missing"`
	Outside    int64   `json:"received_outside_area"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Maxms      float64 `json:"max_ms"`
	Share      float64 `json:"in_range_share,omitempty"`
	CPUms      float64 `json:"cpu_ms"`                     // threads' schedstat over its windows
	TicksMs    float64 `json:"cpu_stat_ms"`                // /proc/<pid>/stat over its windows
	WindowS    float64 `json:"window_s"`                   // the windows' total length
	PerQuoteMs float64 `json:"cpu_per_quote_ms,omitempty"` // minus the idle rate over its windows

	lat     *load.Recorder
	cpu     time.Duration
	ticks   time.Duration
	window  time.Duration
	inRange int64
}

type placedReport struct {
	Scenario     string    `json:"scenario"`
	Sockets      int       `json:"sockets"`
	Requested    int       `json:"requested"`
	Users        int       `json:"users"`
	Towns        int       `json:"towns"`
	RadiusKm     float64   `json:"radius_km"`
	Placed       int64     `json:"placed_sockets"`
	OpenSeconds  float64   `json:"open_s"`
	PlaceSeconds float64   `json:"place_s"`
	ErrorFrames  int64     `json:"error_frames"`
	PlacedQ      kindStats `json:"placed_quotes"`
	UnplacedQ    kindStats `json:"unplaced_quotes"`
	Idle         kindStats `json:"idle_windows"`
	CPURatio     float64   `json:"cpu_ratio_placed_per_unplaced,omitempty"`
	RawRatio     float64   `json:"cpu_ratio_raw,omitempty"`
	LoadBefore   float64   `json:"loadavg1_before"`
	LoadAfter    float64   `json:"loadavg1_after"`
}

func (b *bench) placedFanout(ctx context.Context) error {
	o, p := b.o, b.o.placed
	lim, err := load.RaiseNoFile(load.NoFileTarget(o.sockets))
	if err != nil {
		fmt.Fprintln(b.out, "note:", err)
	}
	toks, err := b.tokens("placed", min(o.sockets, o.users))
	if err != nil {
		return err
	}
	client, err := b.token(o.userPrefix + "_placed_client")
	if err != nil {
		return err
	}
	cat, err := b.firstCategory(ctx, client)
	if err != nil {
		return err
	}
	pids := p.pidList
	// cpu is the workers' CPU now: their threads' schedstat and their
	// /proc/<pid>/stat, summed.
	cpu := func() (ns, ticks time.Duration, now time.Time) {
		now = time.Now()
		for _, pid := range pids {
			n, err1 := load.ThreadsCPU(pid)
			t, err2 := load.ProcCPU(pid)
			if err1 != nil || err2 != nil {
				fmt.Fprintln(b.out, "note: worker CPU:", errors.Join(err1, err2))
			}
			ns, ticks = ns+n, ticks+t
		}
		return ns, ticks, now
	}
	for _, pid := range pids {
		if _, err := load.ProcCPU(pid); err != nil {
			return err
		}
	}
	la := load.LoadAvg()

	dialLat := load.NewRecorder(o.maxSamples)
	t0 := time.Now()
	socks, users, err := b.openUserSockets(ctx, b.socketsPath("/ws/deliveries/new-quotes/"), o.sockets, toks, dialLat)
	if err != nil {
		return err
	}
	defer closeAll(socks)
	openTook := time.Since(t0)
	fmt.Fprintf(b.out, "opened %d/%d sockets in %.1fs (nofile %d)\n", len(socks), o.sockets, openTook.Seconds(), lim)

	at := make([]geo.Point, len(toks))
	for u := range at {
		at[u] = userPoint(u, p)
	}
	byUser := make([][]int, len(toks))
	for i, u := range users {
		byUser[u] = append(byUser[u], i)
	}
	t1 := time.Now()
	placed, failed := b.placeUsers(ctx, socks, byUser, at, true)
	placeTook := time.Since(t1)
	fmt.Fprintf(b.out, "placed %d/%d sockets in %.1fs (location frames not sent: %d)\n", placed, len(socks), placeTook.Seconds(), failed)
	if placed < int64(len(socks)) {
		fmt.Fprintln(b.out, "note: sockets that got no fresh initial_quotes may be unplaced and receive every quote (counted as outside)")
	}
	lastLoc := time.Now()
	sleep(ctx, o.settle)

	kinds := [2]*kindStats{{lat: load.NewRecorder(o.maxSamples)}, {lat: load.NewRecorder(o.maxSamples)}}
	idle := &kindStats{}
	all := make([]int, len(socks))
	for i := range all {
		all[i] = i
	}
	rng := rand.New(rand.NewPCG(20, uint64(p.towns)))
	type placedQuote struct {
		id     string
		inArea map[int]bool
	}
	var placedQuotes []placedQuote
	for ev := 0; ev < o.events && ctx.Err() == nil; ev++ {
		if time.Since(lastLoc) >= p.relocate {
			b.placeUsers(ctx, socks, byUser, at, false)
			lastLoc = time.Now()
			sleep(ctx, 2*time.Second) // announcements land outside the windows
		}
		k := kinds[ev%2]
		var pickup *geo.Point
		expect := all
		if ev%2 == 0 {
			c := townCentre(rng.IntN(p.towns), p)
			pickup = &c
			expect = nil
			for i, u := range users {
				if geo.DistanceKm(at[u], c) <= p.radiusKm {
					expect = append(expect, i)
				}
			}
		}
		body := placedQuoteBody(cat, ev, pickup)
		c0, s0, w0 := cpu()
		start := time.Now()
		res, err := b.client.do(ctx, "POST", o.target+"/deliveries/api/quotes/", client, body, 201, true)
		if err != nil {
			return err
		}
		qid, err := id(res)
		if err != nil {
			return err
		}
		deadline := start.Add(o.eventWait)
		pending := expect
		for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			rest := pending[:0:0]
			for _, i := range pending {
				if t, ok := socks[i].receivedAt(qid); ok {
					k.lat.Add(t.Sub(start))
				} else {
					rest = append(rest, i)
				}
			}
			pending = rest
			if len(pending) > 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		sleep(ctx, time.Until(start.Add(o.interval)))
		c1, s1, w1 := cpu()
		k.Quotes++
		k.Expected += int64(len(expect))
		k.Missing += int64(len(pending))
		k.cpu, k.ticks, k.window = k.cpu+c1-c0, k.ticks+s1-s0, k.window+w1.Sub(w0)
		if pickup != nil {
			k.inRange += int64(len(expect))
			in := make(map[int]bool, len(expect))
			for _, i := range expect {
				in[i] = true
			}
			placedQuotes = append(placedQuotes, placedQuote{qid, in})
			// After a placed quote (whose tail is small), one window
			// without a quote: the workers' idle rate.
			c0, s0, w0 := cpu()
			sleep(ctx, o.interval)
			c1, s1, w1 := cpu()
			idle.Quotes++
			idle.cpu, idle.ticks, idle.window = idle.cpu+c1-c0, idle.ticks+s1-s0, idle.window+w1.Sub(w0)
		} else {
			// An unplaced quote's tail (collection of its frames) would
			// land in the next window: a pause outside every window.
			sleep(ctx, o.interval/2)
		}
	}
	// Receipts outside the area: a frame sent to the wrong socket arrives
	// about when the right ones do; one more second for stragglers.
	sleep(ctx, time.Second)
	var outside int64
	for _, q := range placedQuotes {
		for i, s := range socks {
			if q.inArea[i] {
				continue
			}
			if _, ok := s.receivedAt(q.id); ok {
				outside++
			}
		}
	}
	kinds[0].Outside = outside
	var errFrames int64
	for _, s := range socks {
		errFrames += int64(s.errs.Load())
	}

	r := placedReport{Scenario: o.scenario, Sockets: len(socks), Requested: o.sockets, Users: len(toks), Towns: p.towns,
		RadiusKm: p.radiusKm, Placed: placed, OpenSeconds: openTook.Seconds(), PlaceSeconds: placeTook.Seconds(),
		ErrorFrames: errFrames, LoadBefore: la, LoadAfter: load.LoadAvg()}
	var idleRate float64 // worker CPU seconds per second without quotes
	if idle.window > 0 {
		idleRate = float64(idle.cpu) / float64(idle.window)
	}
	fill := func(k *kindStats) kindStats {
		out := *k
		if k.lat != nil {
			st := k.lat.Stats()
			out.Received, out.P50ms, out.P99ms, out.Maxms = st.Count, msf(st.P50), msf(st.P99), msf(st.Max)
		}
		out.CPUms, out.TicksMs, out.WindowS = msf(k.cpu), msf(k.ticks), k.window.Seconds()
		if k.Quotes > 0 && len(pids) > 0 && k != idle {
			out.PerQuoteMs = (msf(k.cpu) - idleRate*msf(k.window)) / float64(k.Quotes)
		}
		return out
	}
	r.PlacedQ, r.UnplacedQ, r.Idle = fill(kinds[0]), fill(kinds[1]), fill(idle)
	if kinds[0].Quotes > 0 {
		r.PlacedQ.Share = float64(kinds[0].inRange) / float64(kinds[0].Quotes) / float64(len(socks))
	}
	if r.UnplacedQ.PerQuoteMs > 0 {
		r.CPURatio = r.PlacedQ.PerQuoteMs / r.UnplacedQ.PerQuoteMs
	}
	if kinds[1].cpu > 0 && kinds[0].Quotes > 0 && kinds[1].Quotes > 0 {
		r.RawRatio = (float64(kinds[0].cpu) / float64(kinds[0].Quotes)) / (float64(kinds[1].cpu) / float64(kinds[1].Quotes))
	}
	pq, uq := r.PlacedQ, r.UnplacedQ
	line := fmt.Sprintf("scenario=placed-fanout sockets=%d users=%d towns=%d radius=%gkm placed=%d/%d place=%.1fs error_frames=%d\n",
		len(socks), len(toks), p.towns, p.radiusKm, placed, len(socks), placeTook.Seconds(), errFrames)
	line += fmt.Sprintf("  placed quotes=%d expected=%d received=%d missing=%d outside_area=%d p50=%s p99=%s max=%s in_range_share=%.4f (from POST sent)\n",
		pq.Quotes, pq.Expected, pq.Received, pq.Missing, pq.Outside, fmtMs(pq.P50ms), fmtMs(pq.P99ms), fmtMs(pq.Maxms), pq.Share)
	line += fmt.Sprintf("  unplaced quotes=%d expected=%d received=%d missing=%d p50=%s p99=%s max=%s (from POST sent)",
		uq.Quotes, uq.Expected, uq.Received, uq.Missing, fmtMs(uq.P50ms), fmtMs(uq.P99ms), fmtMs(uq.Maxms))
	if len(pids) > 0 {
		line += fmt.Sprintf("\n  worker cpu (pids %v, threads' schedstat; stat ticks in brackets): idle %.1fms/s over %d windows; placed %.2fms/quote [raw %.0fms/%d]; unplaced %.2fms/quote [raw %.0fms/%d]; placed÷unplaced=%.4f (raw %.4f) vs in_range_share=%.4f; load1=%.1f→%.1f",
			pids, idleRate*1000, idle.Quotes, pq.PerQuoteMs, pq.TicksMs, pq.Quotes, uq.PerQuoteMs, uq.TicksMs, uq.Quotes,
			r.CPURatio, r.RawRatio, pq.Share, r.LoadBefore, r.LoadAfter)
	} else {
		line += "\n  (pass -pid or -pids <workers> for the workers' CPU per quote)"
	}
	b.report(line, r)
	return nil
}

func fmtMs(v float64) string { return fmt.Sprintf("%.2fms", v) }
