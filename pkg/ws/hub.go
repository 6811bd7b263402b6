// Package ws is the socket side of docs/realtime.md: the handshake (token from the
// subprotocol or the query, authorization per route), the initial snapshot,
// and the hub that fans the broker's frames out to the local sockets of each
// group, one bounded queue and at most one writer per socket.
package ws

import (
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/auth"
	"hermez/pkg/location"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
)

// Options tune the hub and its sockets; zero fields take the defaults.
type Options struct {
	QueueSize    int           // frames buffered per socket before it is closed as slow (128)
	PingInterval time.Duration // server pings (25 s)
	ReadTimeout  time.Duration // a socket that sends nothing, not even a pong, for this long is dropped (60 s)
	WriteTimeout time.Duration // one write (10 s)
	ReadLimit    int64         // biggest client frame (1024 bytes: a location frame with every field fits)
	// FanoutWriters is how many goroutines at most write one event to the
	// sockets of a big group (GOMAXPROCS).
	FanoutWriters int
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 128
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 60 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 1024
	}
	if o.FanoutWriters <= 0 {
		o.FanoutWriters = runtime.GOMAXPROCS(0)
	}
	return o
}

// Hub knows the local sockets of each group and keeps the broker subscribed
// to exactly the groups that have one.
type Hub struct {
	sub  realtime.Subscriber
	log  *slog.Logger
	opts Options

	mu      sync.RWMutex
	groups  map[string]map[*Conn]struct{}
	order   map[string]*groupOrder // per group with members: the order rule (order.go)
	users   map[string]map[*Conn]struct{}
	closing bool
	wg      sync.WaitGroup // one per joined socket, until it left

	subs subscriptions // broker (un)subscriptions, batched (subscriptions.go)

	// life is the hub's context: it ends when Run returns, and bounds the
	// broker subscription changes (a change in flight then is abandoned).
	life    context.Context
	endLife context.CancelFunc

	// UserDeleted (when set) runs on a user_deleted control frame before the
	// user's sockets are closed: the authenticator forgets its cached row, so
	// a handshake after this is refused (set it before Run).
	UserDeleted func(userID string)
	// UserChanged (when set) runs on a user_suspended or user_reinstated
	// control frame, before a suspended user's sockets are closed (4403): the
	// authenticator forgets its cached row (set it before Run).
	UserChanged func(userID string)
	// ControlLost (when set) runs when control frames may have been lost
	// while the other groups were not (a cluster master carrying only the
	// control channel failed): it re-checks the local users instead of
	// closing every socket. Unset, such a reset closes every socket (1012).
	ControlLost func()
	// Locations, when set, keeps the `location` frames the sockets send
	// (place.md §3; location.go). Set it before Run.
	Locations *location.Store

	place placer      // placed new_quotes sockets, set by the Server (placed.go)
	pi    placedIndex // their routing state (placed.go)

	fannedOut func(sockets int) // tests: an event's fan-out ended (set before Run)

	pingClaims []*Conn // the ping loop's: sockets whose ping it writes itself
}

// NewHub makes a hub over sub. Call Run to start receiving.
func NewHub(sub realtime.Subscriber, log *slog.Logger, opts Options) *Hub {
	if log == nil {
		log = slog.Default()
	}
	life, endLife := context.WithCancel(context.Background())
	return &Hub{sub: sub, log: log, opts: opts.withDefaults(),
		groups: map[string]map[*Conn]struct{}{}, order: map[string]*groupOrder{}, users: map[string]map[*Conn]struct{}{},
		subs: newSubscriptions(), life: life, endLife: endLife, pi: newPlacedIndex()}
}

// Run receives the broker's frames, and pings the sockets, until ctx ends or
// the subscription fails; it returns once both loops have, and ends the hub's
// context (subscription changes still in flight are abandoned).
func (h *Hub) Run(ctx context.Context) error {
	defer h.endLife()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, h.endLife)
	defer stop()
	var pings sync.WaitGroup
	pings.Add(1)
	go func() {
		defer pings.Done()
		h.pingLoop(ctx)
	}()
	err := h.sub.Run(ctx, h.Dispatch, h.ResetGroups)
	cancel()
	pings.Wait()
	return err
}

// pingLoop pings each socket every PingInterval (counted from its join, so
// the pings of many sockets spread out) from one ticker for the whole hub,
// instead of one ticker and one waiting goroutine per socket.
func (h *Hub) pingLoop(ctx context.Context) {
	step := min(time.Second, h.opts.PingInterval/4)
	t := time.NewTicker(step)
	defer t.Stop()
	lastEvict := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.pingDue(now)
			if now.Sub(lastEvict) >= 30*time.Second {
				lastEvict = now
				h.evictOrder(now)
			}
		}
	}
}

// evictOrder forgets the order entries that expired.
func (h *Hub) evictOrder(now time.Time) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.order {
		g.evict(now)
	}
}

// OrderEntries is the number of resources whose last version the hub remembers (tests).
func (h *Hub) OrderEntries() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, g := range h.order {
		n += g.size()
	}
	return n
}

// pingDue queues a ping to each socket whose ping is due, and writes those
// that had nothing queued itself, without blocking (Conn.writeNow), as the
// fan-out writes an event: no goroutine per ping. A socket whose kernel
// buffer is full, or that is closing, gets its writer from writeNow; a
// socket with a writer already gets the ping from it.
func (h *Hub) pingDue(now time.Time) {
	claimed := h.queuePings(now, h.pingClaims[:0])
	for i, c := range claimed {
		c.writeNow()
		claimed[i] = nil
	}
	if cap(claimed) > 1<<16 {
		claimed = nil // keep no huge array after a burst
	}
	h.pingClaims = claimed[:0]
}

// queuePings queues the due pings and appends to out the sockets whose
// writing it claimed.
func (h *Hub) queuePings(now time.Time, out []*Conn) []*Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, m := range h.groups {
		for c := range m {
			if !now.Before(c.nextPing) {
				c.nextPing = now.Add(h.opts.PingInterval)
				if _, claimed := c.offer(pingFrame); claimed {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Ping is the broker's readiness.
func (h *Hub) Ping(ctx context.Context) error { return h.sub.Ping(ctx) }

// join adds c to its group (subscribing the broker on the group's first local
// member). It returns false when the hub is shutting down.
func (h *Hub) join(c *Conn) bool {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return false
	}
	m := h.groups[c.group]
	first := m == nil
	if first {
		m = map[*Conn]struct{}{}
		h.groups[c.group] = m
		h.order[c.group] = &groupOrder{}
	}
	m[c] = struct{}{}
	u := h.users[c.user]
	if u == nil {
		u = map[*Conn]struct{}{}
		h.users[c.user] = u
	}
	u[c] = struct{}{}
	var groups []string
	if first {
		groups = append(groups, c.group)
	}
	if c.place != nil && h.joinPlacedLocked(c) {
		groups = append(groups, realtime.GroupUserLocation(c.user))
	}
	h.wg.Add(1)
	h.mu.Unlock()
	metrics.SocketsOpen.Inc()
	if c.place != nil && c.place.loc != nil {
		h.learn(c.user, c.place.loc)
	}
	h.syncSubscription(groups...)
	return true
}

// leave removes c (unsubscribing the broker after the group's last local member).
func (h *Hub) leave(c *Conn) {
	h.mu.Lock()
	m := h.groups[c.group]
	if _, ok := m[c]; !ok {
		h.mu.Unlock()
		return
	}
	delete(m, c)
	last := len(m) == 0
	if last {
		delete(h.groups, c.group)
		delete(h.order, c.group)
	}
	if u := h.users[c.user]; u != nil {
		delete(u, c)
		if len(u) == 0 {
			delete(h.users, c.user)
		}
	}
	var groups []string
	if last {
		groups = append(groups, c.group)
	}
	if c.place != nil && h.leavePlacedLocked(c) {
		groups = append(groups, realtime.GroupUserLocation(c.user))
	}
	h.mu.Unlock()
	if c.place != nil {
		h.forgetSent(c)
	}
	metrics.SocketsOpen.Dec()
	h.syncSubscription(groups...)
	h.wg.Done()
}

// Dispatch hands one broker frame to the local sockets of its group: encoded
// once as a PreparedMessage, queued without blocking (a full queue closes that
// socket only). A frame older than one of the same resource already delivered
// to the group is dropped (order.go). Control frames act on sockets instead.
//
// The sockets that had nothing to write are then written by a few fan-out
// goroutines (writeOut), not one goroutine per socket; Dispatch does not wait
// for them.
func (h *Hub) Dispatch(msg realtime.Message) {
	if msg.Group == realtime.GroupControl {
		h.control(msg.Payload)
		return
	}
	if user := realtime.UserOfLocationGroup(msg.Group); user != "" {
		h.locationAnnounced(user, msg.Payload) // never forwarded to a socket
		return
	}
	at := time.Now()
	if out := h.route(msg); out != nil {
		out.group, out.resource, out.at = msg.Group, msg.Resource, at
		h.writeOut(out)
	}
}

// route queues msg to the sockets it goes to (Dispatch) and returns those
// whose writing it claimed (nil: none).
func (h *Hub) route(msg realtime.Message) *claims {
	h.mu.RLock()
	defer h.mu.RUnlock()
	members := h.groups[msg.Group]
	if len(members) == 0 {
		return nil
	}
	if g := h.order[msg.Group]; g != nil && msg.Resource != "" {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.admit(msg.Resource, msg.Version, msg.Final, time.Now()) {
			metrics.FramesStale.Inc()
			h.log.Debug("dropped a stale frame", "group", msg.Group, "resource", msg.Resource, "version", msg.Version)
			return nil
		}
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, msg.Payload)
	if err != nil {
		h.log.Error("prepare frame", "group", msg.Group, "err", err)
		return nil
	}
	out := newClaims(frame{pm: pm, resource: msg.Resource, version: msg.Version}, len(members))
	if msg.Group == realtime.GroupNewQuotes && h.place.on() {
		h.dispatchNewQuotes(msg, members, out)
		return out
	}
	for c := range members {
		out.to(c)
	}
	return out
}

// claims is one event on its way out: its frame, and the sockets whose
// writing route claimed (they had nothing queued).
type claims struct {
	f     frame
	conns []*Conn
	left  atomic.Int32 // fan-out goroutines still writing

	group, resource string    // for the log
	at              time.Time // when the worker received the event
}

var claimsPool = sync.Pool{New: func() any { return new(claims) }}

func newClaims(f frame, members int) *claims {
	cl := claimsPool.Get().(*claims)
	cl.f = f
	if cap(cl.conns) < members {
		cl.conns = make([]*Conn, 0, members)
	}
	return cl
}

// to queues the event to c, noting c when its writing falls to the fan-out.
func (cl *claims) to(c *Conn) {
	if _, claimed := c.offer(cl.f); claimed {
		cl.conns = append(cl.conns, c)
	}
}

func (cl *claims) release() {
	clear(cl.conns)
	cl.conns, cl.f, cl.group, cl.resource = cl.conns[:0], frame{}, "", ""
	if cap(cl.conns) > 1<<16 { // keep no huge array for the next small group
		cl.conns = nil
	}
	claimsPool.Put(cl)
}

// fanoutShare is the fewest sockets worth a fan-out goroutine of their own.
const fanoutShare = 512

// writeOut writes the event to the claimed sockets from at most
// Options.FanoutWriters goroutines, each writing its share in turn without
// blocking (Conn.writeNow): the cost per socket is about one write syscall,
// as in a bare loop, instead of a goroutine started, scheduled and ended per
// socket. A socket whose kernel buffer is full gets its own writer then.
func (h *Hub) writeOut(cl *claims) {
	n := len(cl.conns)
	if n == 0 {
		cl.release()
		return
	}
	k := min(h.opts.FanoutWriters, (n+fanoutShare-1)/fanoutShare)
	per := (n + k - 1) / k
	k = (n + per - 1) / per
	cl.left.Store(int32(k))
	for i := 0; i < n; i += per {
		share := cl.conns[i:min(i+per, n)]
		go func() {
			for _, c := range share {
				c.writeNow()
			}
			if cl.left.Add(-1) == 0 {
				h.wroteOut(cl, n)
			}
		}()
	}
}

// A fan-out is logged when it wrote this many sockets or took this long: a
// broadcast (new_quotes) or a worker falling behind.
const (
	logFanoutSockets = 1000
	logFanoutTook    = 100 * time.Millisecond
)

// wroteOut ends an event's fan-out (its last share is written).
func (h *Hub) wroteOut(cl *claims, n int) {
	took := time.Since(cl.at)
	metrics.FanoutSeconds.Observe(took.Seconds())
	if n >= logFanoutSockets || took >= logFanoutTook {
		// The line's time is the event's last write here: set against the
		// time the event was published, it is the server's part of a
		// socket's wait (bench/cluster.sh reads it).
		h.log.Info("fan-out", "group", cl.group, "resource", cl.resource, "sockets", n,
			"took_ms", float64(took.Microseconds())/1000)
	}
	if h.fannedOut != nil {
		h.fannedOut(n)
	}
	cl.release()
}

// release starts a joined socket: first (its snapshot, when not nil) goes
// before the frames queued since it joined, except those older than what the
// snapshot showed (seen), which are dropped; seen also raises the group's
// versions, so older frames arriving later are dropped too.
func (h *Hub) release(c *Conn, first []byte, seen realtime.Versions) {
	h.mu.RLock()
	g := h.order[c.group]
	h.mu.RUnlock()
	if g == nil {
		c.start(first, nil)
		return
	}
	g.mu.Lock()
	g.raise(seen, time.Now())
	if c.place != nil {
		h.releasePlaced(c)
	}
	c.start(first, seen)
	g.mu.Unlock()
	if c.place != nil {
		h.startPlaced(c)
	}
}

// Control is the payload of a GroupControl frame.
type Control struct {
	Type   string `json:"type"`
	User   string `json:"user,omitempty"`
	Reason string `json:"reason,omitempty"` // user_suspended
}

func (h *Hub) control(payload []byte) {
	var c Control
	if err := json.Unmarshal(payload, &c); err != nil {
		h.log.Warn("bad control frame", "err", err)
		return
	}
	switch c.Type {
	case realtime.ControlUserDeleted:
		if h.UserDeleted != nil {
			h.UserDeleted(c.User)
		}
		n := h.CloseUser(c.User, CloseUnauthorized, ReasonDeleted)
		h.log.Info("closed the sockets of a deleted user", "user", c.User, "sockets", n)
	case realtime.ControlUserSuspended:
		if h.UserChanged != nil {
			h.UserChanged(c.User)
		}
		n := h.CloseUser(c.User, CloseForbidden, auth.SuspendedMessage(c.Reason))
		h.log.Info("closed the sockets of a suspended user", "user", c.User, "sockets", n)
	case realtime.ControlUserReinstated:
		if h.UserChanged != nil {
			h.UserChanged(c.User)
		}
	default:
		h.log.Warn("unknown control frame", "type", c.Type)
	}
}

// CloseUser closes every local socket of user with code and reason.
func (h *Hub) CloseUser(user string, code int, reason string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.users[user] {
		c.Close(code, reason)
	}
	return len(h.users[user])
}

// Reset is the broker's onReset: frames may have been lost, so every socket is
// closed with 1012 and its client reconnects to a fresh snapshot.
func (h *Hub) Reset() {
	n := h.closeAll(CloseServiceReset, ReasonReset)
	h.log.Warn("broker reset: closed every socket with 1012", "sockets", n)
}

// ResetGroups is the broker's onReset: groups == nil closes every socket
// (Reset); otherwise only the sockets of the named groups get 1012 (a cluster
// master that carried them failed), and GroupControl among them runs
// ControlLost.
func (h *Hub) ResetGroups(groups []string) {
	if groups == nil {
		h.Reset()
		return
	}
	n := 0
	for _, g := range groups {
		if u := realtime.UserOfLocationGroup(g); u != "" {
			go h.recheck(u) // announcements may have been lost: ask the store
			continue
		}
		if g == realtime.GroupControl {
			if h.ControlLost == nil {
				h.Reset()
				return
			}
			h.ControlLost()
			continue
		}
		h.mu.RLock()
		for c := range h.groups[g] {
			c.Close(CloseServiceReset, ReasonReset)
			n++
		}
		h.mu.RUnlock()
	}
	h.log.Warn("broker reset of some groups: closed their sockets with 1012", "groups", len(groups), "sockets", n)
}

// Users lists the users with a local socket.
func (h *Hub) Users() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.users))
	for u := range h.users {
		out = append(out, u)
	}
	return out
}

func (h *Hub) closeAll(code int, reason string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, m := range h.groups {
		for c := range m {
			c.Close(code, reason)
			n++
		}
	}
	return n
}

// Len is the number of local sockets.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, m := range h.groups {
		n += len(m)
	}
	return n
}

// Closing tells whether Shutdown started (new sockets are refused).
func (h *Hub) Closing() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closing
}

// Shutdown refuses new sockets, closes every open one with 1001 and waits for
// them to end until ctx's deadline; what is left then is cut.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	n := h.closeAll(CloseGoingAway, ReasonGoingAway)
	h.log.Info("closing sockets", "sockets", n)
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		h.mu.RLock()
		for _, m := range h.groups {
			for c := range m {
				_ = c.ws.NetConn().Close()
			}
		}
		h.mu.RUnlock()
		h.log.Warn("shutdown deadline reached with sockets still closing")
	}
}

func codeLabel(code int) string { return strconv.Itoa(code) }

// Members is the number of local sockets in group.
func (h *Hub) Members(group string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.groups[group])
}

// Subscribed tells whether the broker subscription of group was sent: the
// broker call covering it has returned (the in-process broker then delivers
// the group's frames; Redis has the SUBSCRIBE on its connection, and
// PUBSUB NUMSUB tells when it was read).
func (h *Hub) Subscribed(group string) bool {
	h.subs.mu.Lock()
	defer h.subs.mu.Unlock()
	return h.subs.sent[group]
}
