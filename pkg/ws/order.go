package ws

import (
	"sync"
	"time"

	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
)

// The order rule of docs/realtime.md: frames about one resource reach each socket
// in the order that resource's changes committed, and a frame older than one
// already delivered is never delivered after it. The web process stamps each
// frame with its resource's version (bumped under the row lock in the change's
// transaction); the hub keeps, per group, the newest version it delivered of
// each resource and drops older frames (same version: the same change, e.g.
// quote_expired + quote_deleted, delivered). A joining socket's snapshot is
// read after it joined: frames queued meanwhile that are older than what the
// snapshot showed are dropped, and the snapshot's versions raise the group's.
//
// Memory is per group, not per socket (idle sockets cost nothing more): an
// entry is forgotten orderTTL after the last frame of its resource, or
// orderFinalTTL after the frame saying it is gone. A stale frame can only come
// from a publish that lost a race (seconds) or from the outbox relay, which
// itself skips rows superseded by a newer published frame.
const (
	orderTTL      = 10 * time.Minute
	orderFinalTTL = time.Minute
)

type orderEntry struct {
	version int64
	expires time.Time
}

// groupOrder is the order state of one group. mu is held while a frame is
// checked and queued to the group's sockets, and while a socket is released
// after its snapshot, so the two never interleave.
type groupOrder struct {
	mu   sync.Mutex
	seen map[string]orderEntry
}

// admit tells whether a frame of resource at version may be delivered (it is
// not older than the newest delivered) and records it. Call with mu held.
func (g *groupOrder) admit(resource string, version int64, final bool, now time.Time) bool {
	e, ok := g.seen[resource]
	if ok && version < e.version {
		return false
	}
	ttl := orderTTL
	if final {
		ttl = orderFinalTTL
	}
	if g.seen == nil {
		g.seen = map[string]orderEntry{}
	}
	if !ok || version > e.version || now.Add(ttl).After(e.expires) {
		g.seen[resource] = orderEntry{version: version, expires: now.Add(ttl)}
	}
	return true
}

// raise records what a snapshot showed. Call with mu held.
func (g *groupOrder) raise(seen realtime.Versions, now time.Time) {
	if len(seen) == 0 {
		return
	}
	if g.seen == nil {
		g.seen = make(map[string]orderEntry, len(seen))
	}
	for r, v := range seen {
		if e, ok := g.seen[r]; !ok || v > e.version {
			g.seen[r] = orderEntry{version: v, expires: now.Add(orderTTL)}
		}
	}
}

// evict forgets expired entries.
func (g *groupOrder) evict(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for r, e := range g.seen {
		if now.After(e.expires) {
			delete(g.seen, r)
		}
	}
	if len(g.seen) == 0 {
		g.seen = nil
	}
}

// size is the number of resources remembered.
func (g *groupOrder) size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// dropStale removes from a held socket's queue the frames older than its
// snapshot showed. Call before the socket's writer starts.
func dropStale(queue []frame, seen realtime.Versions) []frame {
	if len(seen) == 0 {
		return queue
	}
	out := queue[:0]
	for _, f := range queue {
		if f.resource != "" && f.version < seen[f.resource] {
			metrics.FramesStale.Inc()
			continue
		}
		out = append(out, f)
	}
	for i := len(out); i < len(queue); i++ {
		queue[i] = frame{}
	}
	return out
}
