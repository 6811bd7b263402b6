// Package location keeps each user's current location (place.md §3): where
// it expires by itself (Redis keys with a TTL, or memory in local mode),
// shared by every web and worker, never in PostgreSQL, at most one kept update
// per user per second.
//
// API (for the HTTP route, the socket `location` frame, placed sockets,
// nearby_drivers and live tracking):
//
//   - Parse / ParseJSON validate an update (place.md §3 rules, DRF-shaped
//     Spanish field errors) into a Location.
//   - (*Store).Set keeps it or not, atomically across processes: Result.Kept,
//     else TooSoon (less than MinInterval after the last kept one: HTTP 429)
//     or NotNewer (its recorded_at is not after the last kept one's: the last
//     kept one is Result.Last).
//   - (*Store).Get is the user's fresh location (nil when none); Forget drops
//     it (a deleted user); Near lists the users whose fresh location lies
//     within a radius of a point, reading only the cells around it.
//   - (*Store).Observe registers a function called after every update kept by
//     this process (the app layer forwards them to the worker holding the
//     user's sockets; live tracking can hook there too). It runs on the
//     caller's goroutine: keep it short and non-blocking.
//
// Keys on Redis (one Redis or a Cluster; every command touches one key, or
// one key per cell in a pipeline, so they spread over the masters):
//
//	<prefix>loc:{<user>}       hash: d = the Location as JSON, t = recorded_at (ms), k = kept at (ms); TTL = recorded_at + TTL − now
//	<prefix>loccell:<row>.<col> hash: <user> → "<lat>,<lng>,<fresh until ms>" (the cell's located users; TTL refreshed on write)
//
// A user's key is written by one Lua script (the once-a-second guard, the
// recorded_at rule and the write are one atomic step); the cell index is
// written after it, best effort: a reader checks every entry's freshness and
// distance, and removes entries that expired.
package location

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/input"
)

// MinInterval is the once-a-second rule: an update less than this after the
// user's last kept one is refused.
const MinInterval = time.Second

// MaxFuture is how far ahead of the server's clock recorded_at may be.
const MaxFuture = 30 * time.Second

// Location is one user's position at RecordedAt.
type Location struct {
	Latitude   float64   `json:"latitude"`
	Longitude  float64   `json:"longitude"`
	Accuracy   *float64  `json:"accuracy"`
	Heading    *float64  `json:"heading"`
	Speed      *float64  `json:"speed"`
	RecordedAt time.Time `json:"recorded_at"`
	// Available is whether the user counts as an available driver
	// (is_available and a current vehicle; place.md §5). Never rendered nor
	// part of the stored JSON. On Set it is the caller's hint (the user row
	// it authenticated); the store's own mark (SetAvailable) wins over it.
	Available bool `json:"-"`
}

// Point is the location's position.
func (l Location) Point() geo.Point { return geo.Point{Lat: l.Latitude, Lng: l.Longitude} }

// FreshUntil is when the location stops being fresh.
func (l Location) FreshUntil(ttl time.Duration) time.Time { return l.RecordedAt.Add(ttl) }

// Outcome is what Set did with an update.
type Outcome int

const (
	Kept     Outcome = iota // stored: it is the user's current location now
	TooSoon                 // less than MinInterval after the last kept one: refused
	NotNewer                // recorded_at not after the last kept one's: Last is that one
)

// Result is Set's answer.
type Result struct {
	Outcome Outcome
	// Last is the user's current location after the call: the update when
	// Kept, else the last kept one.
	Last Location
	// RetryAfter is when an update would pass (TooSoon).
	RetryAfter time.Duration
}

// Near is one user found by Near.
type Near struct {
	User       string
	DistanceKm float64
}

// backend is where locations live (Redis or memory).
type backend interface {
	set(ctx context.Context, user string, loc Location, now time.Time, ttl time.Duration) (Result, error)
	get(ctx context.Context, user string) (*Location, error)
	forget(ctx context.Context, user string) error
	// setAvailable records the user's availability mark and applies it to
	// their indexed location, if any.
	setAvailable(ctx context.Context, user string, available bool, now time.Time, ttl time.Duration) error
	// cells returns the entries of the cells, removing the expired ones.
	inCells(ctx context.Context, cells []geo.Cell, now time.Time) ([]cellEntry, error)
}

type cellEntry struct {
	cell       geo.Cell
	user       string
	p          geo.Point
	freshUntil time.Time
	available  bool
}

// Store is the shared current-location store.
type Store struct {
	b   backend
	ttl time.Duration
	// Now is the clock (the store's clock in production; tests inject one).
	Now func() time.Time

	mu        sync.RWMutex
	observers []func(user string, loc Location)
}

func newStore(b backend, ttl time.Duration, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{b: b, ttl: ttl, Now: now}
}

// TTL is how long a location stays fresh after its recorded_at.
func (s *Store) TTL() time.Duration { return s.ttl }

// Observe registers fn, called after every update this process keeps.
func (s *Store) Observe(fn func(user string, loc Location)) {
	s.mu.Lock()
	s.observers = append(s.observers, fn)
	s.mu.Unlock()
}

// opTimeout bounds one call to the backend: an update never waits long.
const opTimeout = 2 * time.Second

// Set applies the once-a-second and recorded_at rules and keeps loc as
// user's current location when they allow it (loc must come from Parse).
func (s *Store) Set(ctx context.Context, user string, loc Location) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	r, err := s.b.set(ctx, user, loc, s.Now(), s.ttl)
	if err != nil {
		return Result{}, fmt.Errorf("keep the location of %s: %w", user, err)
	}
	if r.Outcome == Kept {
		s.mu.RLock()
		obs := s.observers
		s.mu.RUnlock()
		for _, fn := range obs {
			fn(user, r.Last)
		}
	}
	return r, nil
}

// Get is user's fresh location, or nil.
func (s *Store) Get(ctx context.Context, user string) (*Location, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	l, err := s.b.get(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("read the location of %s: %w", user, err)
	}
	if l == nil || !s.Now().Before(l.FreshUntil(s.ttl)) {
		return nil, nil
	}
	return l, nil
}

// Forget drops user's location (a deleted user).
func (s *Store) Forget(ctx context.Context, user string) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.b.forget(ctx, user); err != nil {
		return fmt.Errorf("forget the location of %s: %w", user, err)
	}
	return nil
}

// AvailabilityTTL is how long an availability mark is kept without a location
// update or a change (each kept update and each SetAvailable renews it).
const AvailabilityTTL = 24 * time.Hour

// SetAvailable records whether user counts as an available driver
// (is_available and a current vehicle, place.md §5): it applies to their
// current location at once, and to every later update until the next call
// (it wins over the hint an update carries). Call it after every change of
// those two columns; nothing here reads PostgreSQL.
func (s *Store) SetAvailable(ctx context.Context, user string, available bool) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err := s.b.setAvailable(ctx, user, available, s.Now(), s.ttl); err != nil {
		return fmt.Errorf("mark the availability of %s: %w", user, err)
	}
	return nil
}

// Probe is one point whose available drivers CountAvailable counts, Exclude
// (a quote's client) not counted.
type Probe struct {
	Point   geo.Point
	Exclude string
}

// CountAvailable counts, for each probe, the available drivers whose fresh
// location lies within radiusKm of it. It reads only the cells covering the
// probes' circles, each cell once whatever the number of probes in it, and
// visits for each probe only the entries of its own cells: the cost grows
// with the located users around the probes, never with all of them.
func (s *Store) CountAvailable(ctx context.Context, probes []Probe, radiusKm float64) ([]int, error) {
	out := make([]int, len(probes))
	if len(probes) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := s.Now()
	cellsOf := make([][]geo.Cell, len(probes))
	seen := map[geo.Cell]bool{}
	var all []geo.Cell
	for i, p := range probes {
		cellsOf[i] = geo.CellsWithin(p.Point, radiusKm)
		for _, c := range cellsOf[i] {
			if !seen[c] {
				seen[c] = true
				all = append(all, c)
			}
		}
	}
	es, err := s.b.inCells(ctx, all, now)
	if err != nil {
		return nil, fmt.Errorf("count the available drivers: %w", err)
	}
	byCell := make(map[geo.Cell][]cellEntry, len(all))
	for _, e := range es {
		if e.available && now.Before(e.freshUntil) {
			byCell[e.cell] = append(byCell[e.cell], e)
		}
	}
	for i, p := range probes {
		for _, c := range cellsOf[i] {
			for _, e := range byCell[c] {
				if e.user != p.Exclude && geo.DistanceKm(p.Point, e.p) <= radiusKm {
					out[i]++
				}
			}
		}
	}
	return out, nil
}

// Near lists the users whose fresh location is within
// radiusKm of p, nearest first, reading only the cells around p.
func (s *Store) Near(ctx context.Context, p geo.Point, radiusKm float64) ([]Near, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	now := s.Now()
	es, err := s.b.inCells(ctx, geo.CellsWithin(p, radiusKm), now)
	if err != nil {
		return nil, fmt.Errorf("read the located users near %v: %w", p, err)
	}
	var out []Near
	for _, e := range es {
		if !now.Before(e.freshUntil) {
			continue
		}
		if d := geo.DistanceKm(p, e.p); d <= radiusKm {
			out = append(out, Near{User: e.user, DistanceKm: d})
		}
	}
	sortNear(out)
	return out, nil
}

func sortNear(ns []Near) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && (ns[j].DistanceKm < ns[j-1].DistanceKm || ns[j].DistanceKm == ns[j-1].DistanceKm && ns[j].User < ns[j-1].User); j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// Validation (place.md §3).

// Messages of the location rules.
const (
	MsgNumber  = "Se requiere un número válido."
	MsgFuture  = "La hora registrada no puede estar más de 30 segundos en el futuro."
	MsgOld     = "La ubicación es demasiado antigua (más de %d segundos)."
	MsgBadTime = "Fecha/hora con formato erróneo. Use uno de los siguientes formatos en su lugar: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
	MsgObject  = "Se esperaba un objeto JSON."
)

func msgMax(v string) string { return "Asegúrese de que este valor sea menor o igual a " + v + "." }
func msgMin(v string) string { return "Asegúrese de que este valor sea mayor o igual a " + v + "." }

// ParseJSON validates a JSON object (the HTTP body or the socket frame).
func ParseJSON(b []byte, now time.Time, ttl time.Duration) (Location, error) {
	body, err := input.Decode(b)
	if err != nil {
		return Location{}, err
	}
	return Parse(body, now, ttl)
}

// Parse validates an update: latitude and longitude required (rounded to 6
// decimals), accuracy ≥ 0, heading 0..360, speed ≥ 0 (each optional, null
// when absent), recorded_at ISO-8601 (default now) at most MaxFuture ahead
// and not older than ttl. Errors are field errors (apperr.Invalid).
func Parse(b input.Body, now time.Time, ttl time.Duration) (Location, error) {
	f := apperr.Fields{}
	var l Location
	if v := number(b, "latitude", f, true, -90, 90); v != nil {
		l.Latitude = geo.Round6(*v)
	}
	if v := number(b, "longitude", f, true, -180, 180); v != nil {
		l.Longitude = geo.Round6(*v)
	}
	l.Accuracy = number(b, "accuracy", f, false, 0, math.Inf(1))
	l.Heading = number(b, "heading", f, false, 0, 360)
	l.Speed = number(b, "speed", f, false, 0, math.Inf(1))
	l.RecordedAt = now.UTC().Truncate(time.Microsecond)
	if raw, ok := b["recorded_at"]; ok && !b.IsNull("recorded_at") {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			f.Add("recorded_at", MsgBadTime)
		} else if t, ok := parseTime(s); !ok {
			f.Add("recorded_at", MsgBadTime)
		} else if t.Sub(now) > MaxFuture {
			f.Add("recorded_at", MsgFuture)
		} else if now.Sub(t) >= ttl {
			f.Add("recorded_at", fmt.Sprintf(MsgOld, int(ttl.Seconds())))
		} else {
			l.RecordedAt = t.UTC().Truncate(time.Microsecond)
		}
	}
	if err := f.Err(); err != nil {
		return Location{}, err
	}
	return l, nil
}

// number reads a finite number (a JSON number or a numeric string) within
// [lo, hi]; nil when absent, null or invalid (a message is added then,
// except for an optional null).
func number(b input.Body, key string, f apperr.Fields, required bool, lo, hi float64) *float64 {
	raw, ok := b[key]
	if !ok {
		if required {
			f.Add(key, apperr.MsgRequired)
		}
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		if required {
			f.Add(key, input.MsgNull)
		}
		return nil
	}
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			f.Add(key, MsgNumber)
			return nil
		}
		text = strings.TrimSpace(text)
	} else if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		f.Add(key, MsgNumber)
		return nil
	}
	if len(text) > 64 {
		f.Add(key, MsgNumber)
		return nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(text, "xXpP_") || strings.EqualFold(strings.TrimLeft(text, "+-"), "inf") {
		f.Add(key, MsgNumber)
		return nil
	}
	switch {
	case v > hi:
		f.Add(key, msgMax(strconv.FormatFloat(hi, 'f', -1, 64)))
		return nil
	case v < lo:
		f.Add(key, msgMin(strconv.FormatFloat(lo, 'f', -1, 64)))
		return nil
	}
	if v == 0 {
		v = 0 // no negative zero
	}
	return &v
}

// parseTime reads DRF's ISO-8601 datetimes: with a zone, or without one (UTC).
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ErrUnavailable wraps a backend failure (Redis away): the HTTP route answers 503.
var ErrUnavailable = errors.New("location store unavailable")
