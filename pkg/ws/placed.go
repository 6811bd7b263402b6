package ws

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"hermez/pkg/geo"
	"hermez/pkg/location"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
)

// Placed new_quotes sockets (place.md §4).
//
// A new_quotes socket whose user has a fresh location is placed; one without
// is unplaced and sees every quote, as before place existed. Every new_quotes
// socket stays in the one group new_quotes (one broker channel, one order
// state); what changes is which of its sockets a frame visits:
//
//   - A frame without a pickup mark (realtime.Message.Pickup: a quote without
//     pickup coordinates, or any other frame) goes to every socket of the
//     group, exactly as before.
//   - A marked frame goes to the unplaced sockets, to the placed sockets that
//     were sent that quote since their last snapshot (the hub's sent index, so
//     no list keeps a quote that ended even if its pickup moved away), and to
//     the placed sockets listed under the pickup's 0.1° cell (geo.CellOf)
//     whose centre is within the radius. A placed socket is listed under
//     every cell within the radius of its centre (geo.CellsWithin: 9–16 cells
//     at 10 km), so a quote visits the sockets of its area and never the
//     placed sockets elsewhere. A mark with Added (an update gave the quote
//     its pickup: any socket may be showing it) goes to every socket.
//
// Moving. Each process that keeps a location update announces it on the
// user's location group (realtime.GroupUserLocation; Announcer) when it is
// the first, AnnounceKm from the last announced one, or AnnounceEvery after
// it. A worker holding a new_quotes socket of that user subscribes to that
// group, remembers the location and arms a timer at its freshness end. When
// the location is MoveKm from a socket's centre, or the socket was unplaced,
// or the location expired (the timer, after asking the store for a newer
// one), the socket moves: its events wait (hold), its place in the cell index
// changes, a fresh initial_quotes for the new area is read and queued under
// the group's order lock, and the waiting events follow it (those older than
// the snapshot dropped).

// MoveKm is how far the location must be from a socket's centre to move its area.
const MoveKm = 1.0

// The announcement rule of Announcer.
const (
	AnnounceKm    = 0.25
	AnnounceEvery = 30 * time.Second
)

// placer is the hub's placed side, set by the Server (Routes).
type placer struct {
	radiusKm float64
	// snapshot renders initial_quotes for an area (nil centre: unplaced),
	// notes in seen the version of each quote shown and returns the
	// resources of the quotes shown that have a pickup.
	snapshot func(ctx context.Context, centre *geo.Point, seen realtime.Versions) ([]byte, []string, error)
}

func (p *placer) on() bool { return p.snapshot != nil && p.radiusKm > 0 }

// placement is a new_quotes socket's area. centre and cells change under the
// hub's mu; sent under sentMu; started, dirty and shown under moving.
type placement struct {
	centre *geo.Point // nil: unplaced
	cells  []geo.Cell
	sent   map[string]struct{} // quote resources with a pickup it was sent since its last snapshot

	moving  sync.Mutex // one move at a time
	started bool       // released after its first snapshot
	dirty   bool       // a move was asked for before it started
	shown   []string   // what its last snapshot showed (pickup quotes), for the sent index

	loc *location.Location // the location its area was first computed from (join hands it to the track)
}

// userTrack is what a worker knows of the location of a user with a
// new_quotes socket here (under the hub's mu: sockets; under mu: the rest).
type userTrack struct {
	sockets int

	mu    sync.Mutex
	loc   *location.Location // nil: none fresh
	timer *time.Timer        // at loc's freshness end
}

// placedIndex is the hub's routing state of new_quotes (under the hub's mu,
// except sentBy: under sentMu).
type placedIndex struct {
	unplaced map[*Conn]struct{}
	cells    map[geo.Cell]map[*Conn]struct{}
	tracks   map[string]*userTrack

	sentMu sync.Mutex
	sentBy map[string]map[*Conn]struct{}
}

func newPlacedIndex() placedIndex {
	return placedIndex{unplaced: map[*Conn]struct{}{}, cells: map[geo.Cell]map[*Conn]struct{}{},
		tracks: map[string]*userTrack{}, sentBy: map[string]map[*Conn]struct{}{}}
}

// placeLocked puts c (a new_quotes socket of a placing hub) in the index at
// centre (nil: unplaced), out of where it was. Call with mu held.
func (h *Hub) placeLocked(c *Conn, centre *geo.Point) {
	p := c.place
	if p.centre == nil {
		delete(h.pi.unplaced, c)
	}
	for _, cell := range p.cells {
		if m := h.pi.cells[cell]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(h.pi.cells, cell)
			}
		}
	}
	p.centre, p.cells = centre, nil
	if centre == nil {
		h.pi.unplaced[c] = struct{}{}
		return
	}
	p.cells = geo.CellsWithin(*centre, h.place.radiusKm)
	for _, cell := range p.cells {
		m := h.pi.cells[cell]
		if m == nil {
			m = map[*Conn]struct{}{}
			h.pi.cells[cell] = m
		}
		m[c] = struct{}{}
	}
}

// unplaceLocked takes c out of the index (it left). Call with mu held.
func (h *Hub) unplaceLocked(c *Conn) {
	h.placeLocked(c, nil)
	delete(h.pi.unplaced, c)
}

// forgetSent empties c's sent set (a new snapshot, or it left).
func (h *Hub) forgetSent(c *Conn) {
	h.pi.sentMu.Lock()
	defer h.pi.sentMu.Unlock()
	for r := range c.place.sent {
		if m := h.pi.sentBy[r]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(h.pi.sentBy, r)
			}
		}
	}
	c.place.sent = nil
}

// noteSentLocked records that c was sent resource (final: that it ended, so
// it is forgotten). Call with sentMu held.
func (h *Hub) noteSentLocked(c *Conn, resource string, final bool) {
	if final {
		delete(c.place.sent, resource)
		if m := h.pi.sentBy[resource]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(h.pi.sentBy, resource)
			}
		}
		return
	}
	if c.place.sent == nil {
		c.place.sent = map[string]struct{}{}
	}
	c.place.sent[resource] = struct{}{}
	m := h.pi.sentBy[resource]
	if m == nil {
		m = map[*Conn]struct{}{}
		h.pi.sentBy[resource] = m
	}
	m[c] = struct{}{}
}

// dispatchNewQuotes queues a new_quotes frame (out's) to the sockets it
// concerns (see the package comment above). Call with mu read-held and the
// group's order lock held.
func (h *Hub) dispatchNewQuotes(msg realtime.Message, members map[*Conn]struct{}, out *claims) {
	mark := msg.Pickup
	if mark == nil || mark.Added {
		for c := range members {
			out.to(c)
		}
		if msg.Resource == "" {
			return
		}
		h.pi.sentMu.Lock()
		defer h.pi.sentMu.Unlock()
		if mark != nil { // every placed socket may be showing it now
			for c := range members {
				if c.place != nil && c.place.centre != nil {
					h.noteSentLocked(c, msg.Resource, msg.Final)
				}
			}
		} else if msg.Final {
			for c := range h.pi.sentBy[msg.Resource] {
				h.noteSentLocked(c, msg.Resource, true)
			}
		}
		return
	}
	for c := range h.pi.unplaced {
		out.to(c)
	}
	pickup := geo.Point{Lat: mark.Lat, Lng: mark.Lng}
	h.pi.sentMu.Lock()
	defer h.pi.sentMu.Unlock()
	had := h.pi.sentBy[msg.Resource]
	for c := range had {
		out.to(c)
	}
	for c := range h.pi.cells[geo.CellOf(pickup)] {
		if _, ok := had[c]; ok {
			continue
		}
		if geo.DistanceKm(*c.place.centre, pickup) <= h.place.radiusKm {
			out.to(c)
			if !msg.Final {
				h.noteSentLocked(c, msg.Resource, false)
			}
		}
	}
	if msg.Final {
		for c := range had {
			h.noteSentLocked(c, msg.Resource, true)
		}
	}
}

// joinPlacedLocked adds a new new_quotes socket to the index and its user's
// track; first reports a user new here (subscribe their location group).
// Call with mu held.
func (h *Hub) joinPlacedLocked(c *Conn) (first bool) {
	h.placeLocked(c, c.place.centre)
	t := h.pi.tracks[c.user]
	if t == nil {
		t = &userTrack{}
		h.pi.tracks[c.user] = t
		first = true
	}
	t.sockets++
	return first
}

// leavePlacedLocked takes a leaving new_quotes socket out; last reports its
// user's last one here (unsubscribe). Call with mu held.
func (h *Hub) leavePlacedLocked(c *Conn) (last bool) {
	h.unplaceLocked(c)
	t := h.pi.tracks[c.user]
	if t == nil {
		return false
	}
	if t.sockets--; t.sockets > 0 {
		return false
	}
	delete(h.pi.tracks, c.user)
	t.mu.Lock()
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
	return true
}

// wantsLocationGroup tells whether the location group of user must be
// subscribed here. Call with mu read-held.
func (h *Hub) wantsLocationGroup(group string) bool {
	u := realtime.UserOfLocationGroup(group)
	return u != "" && h.pi.tracks[u] != nil
}

// newPlacement is the area of a new new_quotes socket of user: at their fresh
// location (read from the store; unplaced when there is none or the store is
// away). join gives the location to the user's track.
func (h *Hub) newPlacement(ctx context.Context, user string) *placement {
	p := &placement{}
	if h.Locations == nil {
		return p
	}
	loc, err := h.Locations.Get(ctx, user)
	if err != nil {
		h.logLocationFailure(err)
	}
	if loc != nil {
		pt := loc.Point()
		p.centre, p.loc = &pt, loc
	}
	return p
}

// track is user's track here (nil: no new_quotes socket of theirs here).
func (h *Hub) track(user string) *userTrack {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.pi.tracks[user]
}

// learn records loc (when newer than what is known) as user's location and
// arms the timer of its freshness end. A user with no socket here is ignored.
func (h *Hub) learn(user string, loc *location.Location) {
	t := h.track(user)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loc != nil && !loc.RecordedAt.After(t.loc.RecordedAt) {
		return
	}
	t.loc = loc
	wait := loc.FreshUntil(h.Locations.TTL()).Sub(h.Locations.Now())
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(max(wait, 0), func() { h.recheck(user) })
}

// target is where user's sockets' areas should be: their fresh location, or nil.
func (h *Hub) target(user string) *geo.Point {
	t := h.track(user)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loc == nil || !h.Locations.Now().Before(t.loc.FreshUntil(h.Locations.TTL())) {
		return nil
	}
	pt := t.loc.Point()
	return &pt
}

// locationAnnounced handles a frame of user's location group (the broker's
// goroutine: nothing here blocks).
func (h *Hub) locationAnnounced(user string, payload []byte) {
	if !h.place.on() || h.Locations == nil || h.track(user) == nil {
		return
	}
	var loc location.Location
	if err := json.Unmarshal(payload, &loc); err != nil {
		h.log.Warn("bad location announcement", "err", err)
		return
	}
	h.learn(user, &loc)
	h.moveUser(user)
}

// recheck asks the store for user's location (their known one reached its
// freshness end, or announcements may have been lost) and moves the sockets
// accordingly.
func (h *Hub) recheck(user string) {
	t := h.track(user)
	if t == nil || h.Locations == nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.life, 2*time.Second)
	loc, err := h.Locations.Get(ctx, user)
	cancel()
	if err != nil {
		h.logLocationFailure(err)
		return // keep what is known; the next announcement or expiry decides
	}
	if loc != nil {
		h.learn(user, loc)
	} else {
		t.mu.Lock()
		t.loc = nil
		t.mu.Unlock()
	}
	h.moveUser(user)
}

// moveUser moves each new_quotes socket of user here whose area no longer fits.
func (h *Hub) moveUser(user string) {
	h.mu.RLock()
	var cs []*Conn
	for c := range h.users[user] {
		if c.place != nil {
			cs = append(cs, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range cs {
		go h.move(c)
	}
}

// needsMove tells whether an area at from must move to target.
func needsMove(from, target *geo.Point) bool {
	switch {
	case from == nil && target == nil:
		return false
	case from == nil || target == nil:
		return true
	}
	return geo.DistanceKm(*from, *target) > MoveKm
}

// move brings c's area to its user's current target. Moves of one socket run
// one at a time and each reads the latest target, so a burst of
// announcements costs one move; a move asked for before the socket's first
// snapshot runs right after it (releasePlaced).
func (h *Hub) move(c *Conn) {
	p := c.place
	p.moving.Lock()
	defer p.moving.Unlock()
	if !p.started {
		p.dirty = true
		return
	}
	target := h.target(c.user)
	h.mu.RLock()
	from := p.centre
	h.mu.RUnlock()
	if !needsMove(from, target) {
		return
	}
	c.hold()
	h.mu.Lock()
	if _, open := h.users[c.user][c]; !open || h.closing {
		h.mu.Unlock()
		c.unhold(nil, nil)
		return
	}
	h.placeLocked(c, target)
	g := h.order[realtime.GroupNewQuotes]
	h.mu.Unlock()
	h.forgetSent(c)

	ctx, cancel := context.WithTimeout(h.life, 15*time.Second)
	seen := realtime.Versions{}
	snap, shown, err := h.place.snapshot(ctx, target, seen)
	cancel()
	if err != nil {
		h.log.Error("placed socket snapshot", "user", c.user, "err", err)
		c.unhold(nil, nil)
		c.Close(CloseInternal, ReasonInternal)
		return
	}
	if g != nil {
		g.mu.Lock()
		g.raise(seen, time.Now())
	}
	h.pi.sentMu.Lock()
	for _, r := range shown {
		h.noteSentLocked(c, r, false)
	}
	h.pi.sentMu.Unlock()
	c.unhold(snap, seen)
	if g != nil {
		g.mu.Unlock()
	}
	metrics.SocketsMoved.Inc()
}

// releasePlaced is the placed part of release (the group's order lock held):
// the quotes its first snapshot showed go in the sent index.
func (h *Hub) releasePlaced(c *Conn) {
	p := c.place
	h.pi.sentMu.Lock()
	for _, r := range p.shown {
		h.noteSentLocked(c, r, false)
	}
	h.pi.sentMu.Unlock()
	p.shown = nil
}

// startPlaced marks c's placement started and runs the move asked for meanwhile.
func (h *Hub) startPlaced(c *Conn) {
	p := c.place
	p.moving.Lock()
	p.started = true
	dirty := p.dirty
	p.moving.Unlock()
	// An announcement between the location read and the subscription is
	// lost: compare with what the track knows now as well.
	h.mu.RLock()
	from := p.centre
	h.mu.RUnlock()
	if dirty || needsMove(from, h.target(c.user)) {
		go h.move(c)
	}
}

// Announcer publishes the location updates a process keeps that matter to
// placed sockets (the first, one AnnounceKm from the last announced one, or
// AnnounceEvery after it) on the user's location group. Register it with
// location.Store.Observe in every process that keeps locations. The rule is
// per process: a user whose updates arrive through two processes is
// announced by each (a few more announcements, never fewer).
type Announcer struct {
	Publisher realtime.Publisher
	Log       *slog.Logger
	Now       func() time.Time

	mu    sync.Mutex
	last  map[string]announced
	calls int
}

type announced struct {
	at time.Time
	p  geo.Point
}

// Observe is the location.Store observer.
func (a *Announcer) Observe(user string, loc location.Location) {
	now := a.Now()
	a.mu.Lock()
	if a.last == nil {
		a.last = map[string]announced{}
	}
	prev, ok := a.last[user]
	if ok && now.Sub(prev.at) < AnnounceEvery && geo.DistanceKm(prev.p, loc.Point()) < AnnounceKm {
		a.mu.Unlock()
		return
	}
	a.last[user] = announced{at: now, p: loc.Point()}
	if a.calls++; a.calls%1024 == 0 { // forget users quiet for two periods
		for u, e := range a.last {
			if now.Sub(e.at) > 2*AnnounceEvery {
				delete(a.last, u)
			}
		}
	}
	a.mu.Unlock()
	data, err := json.Marshal(loc)
	if err != nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.Publisher.Publish(ctx, realtime.RawMessage(realtime.GroupUserLocation(user), "location", data)); err != nil && a.Log != nil {
			a.Log.Warn("location announcement not published (the placed sockets learn of it at the next one)", "user", user, "err", err)
		}
	}()
}
