package location

import (
	"context"
	"sync"
	"time"

	"hermez/pkg/geo"
)

// NewMemory is the store of local mode (one process): entries expire with the
// clock now (nil: time.Now) and are swept at most once a second.
func NewMemory(ttl time.Duration, now func() time.Time) *Store {
	return newStore(&memory{users: map[string]*memEntry{}, cells: map[geo.Cell]map[string]struct{}{}, avail: map[string]availMark{}}, ttl, now)
}

type memory struct {
	mu    sync.Mutex
	users map[string]*memEntry
	cells map[geo.Cell]map[string]struct{}
	swept time.Time
	// avail holds the availability marks (SetAvailable, or the first
	// update's hint), each until AvailabilityTTL after its last use.
	avail map[string]availMark
}

type availMark struct {
	available bool
	until     time.Time
}

type memEntry struct {
	loc        Location
	keptAt     time.Time
	freshUntil time.Time
	cell       geo.Cell
}

func (m *memory) set(_ context.Context, user string, loc Location, now time.Time, ttl time.Duration) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	e := m.users[user]
	if e != nil && !now.Before(e.freshUntil) {
		m.drop(user, e)
		e = nil
	}
	if e != nil {
		if wait := e.keptAt.Add(MinInterval).Sub(now); wait > 0 {
			return Result{Outcome: TooSoon, Last: e.loc, RetryAfter: wait}, nil
		}
		if !loc.RecordedAt.After(e.loc.RecordedAt) {
			return Result{Outcome: NotNewer, Last: e.loc}, nil
		}
		m.drop(user, e)
	}
	if a, ok := m.avail[user]; ok && now.Before(a.until) {
		loc.Available = a.available
	}
	m.avail[user] = availMark{available: loc.Available, until: now.Add(AvailabilityTTL)}
	c := geo.CellOf(loc.Point())
	m.users[user] = &memEntry{loc: loc, keptAt: now, freshUntil: loc.FreshUntil(ttl), cell: c}
	cu := m.cells[c]
	if cu == nil {
		cu = map[string]struct{}{}
		m.cells[c] = cu
	}
	cu[user] = struct{}{}
	return Result{Outcome: Kept, Last: loc}, nil
}

// drop removes user's entry e. Call with mu held.
func (m *memory) drop(user string, e *memEntry) {
	delete(m.users, user)
	if cu := m.cells[e.cell]; cu != nil {
		delete(cu, user)
		if len(cu) == 0 {
			delete(m.cells, e.cell)
		}
	}
}

// sweep drops the expired entries, at most once a second. Call with mu held.
func (m *memory) sweep(now time.Time) {
	if now.Sub(m.swept) < time.Second {
		return
	}
	m.swept = now
	for u, e := range m.users {
		if !now.Before(e.freshUntil) {
			m.drop(u, e)
		}
	}
	for u, a := range m.avail {
		if !now.Before(a.until) {
			delete(m.avail, u)
		}
	}
}

func (m *memory) get(_ context.Context, user string) (*Location, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.users[user]
	if e == nil {
		return nil, nil
	}
	l := e.loc
	return &l, nil
}

func (m *memory) forget(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.users[user]; e != nil {
		m.drop(user, e)
	}
	delete(m.avail, user)
	return nil
}

func (m *memory) setAvailable(_ context.Context, user string, available bool, now time.Time, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.users[user]; e != nil {
		e.loc.Available = available
	}
	m.avail[user] = availMark{available: available, until: now.Add(AvailabilityTTL)}
	return nil
}

func (m *memory) inCells(_ context.Context, cells []geo.Cell, now time.Time) ([]cellEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []cellEntry
	for _, c := range cells {
		for u := range m.cells[c] {
			e := m.users[u]
			if e == nil || !now.Before(e.freshUntil) {
				continue
			}
			out = append(out, cellEntry{cell: c, user: u, p: e.loc.Point(), freshUntil: e.freshUntil, available: e.loc.Available})
		}
	}
	return out, nil
}
