package ws

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/metrics"
	"hermez/pkg/realtime"
)

// Close codes the server sends (RFC 6455 and the application range of docs/realtime.md).
const (
	CloseGoingAway     = websocket.CloseGoingAway // 1001: the server is shutting down
	CloseInternal      = websocket.CloseInternalServerErr
	CloseServiceReset  = websocket.CloseServiceRestart // 1012: events may have been missed, reconnect
	CloseTryAgainLater = websocket.CloseTryAgainLater  // 1013: the client did not read fast enough
	CloseUnauthorized  = 4401                          // the user was deleted
	CloseForbidden     = 4403                          // not allowed in that group
	CloseNotFound      = 4404                          // the quote or delivery does not exist
)

// Reasons sent with the close codes (shown by browsers; Spanish like the API).
const (
	ReasonGoingAway = "El servidor se está reiniciando; vuelva a conectar."
	ReasonReset     = "Se perdieron eventos; vuelva a conectar."
	ReasonSlow      = "Cliente demasiado lento; vuelva a conectar."
	ReasonDeleted   = auth.MsgDeleted
	ReasonInternal  = apperr.MsgInternal
)

// Conn is one socket: a bounded send queue and at most one writer. The
// writer goroutine exists only while there is something to write (frames, a
// ping, the close frame): an idle socket costs its reader goroutine and no
// writer, no ticker and no queue.
type Conn struct {
	ws    *websocket.Conn
	out   *batchConn // ws's connection: holds the frames of a run (batch.go); nil for other connections
	user  string
	group string
	opts  *Options
	place *placement // a new_quotes socket of a placing hub (placed.go); nil otherwise

	mu      sync.Mutex
	queue   []frame // bounded by opts.QueueSize
	held    []frame // while holding: events wait here for a moving socket's snapshot (placed.go)
	holding bool
	writing bool // a writer owns the socket (or the handshake holds it, see start)
	closing bool // Close was called: the writer sends the close frame and ends
	code    int
	reason  string

	closeOnce sync.Once
	cutoff    *time.Timer // set by Close (under mu): ends a connection whose writer is stuck; stopped by finish
	dropped   atomic.Bool
	broken    bool          // a write failed: the stream may end mid-frame (writer only)
	readDone  chan struct{} // closed when readLoop returns
	onExit    func()        // runs once the connection is closed (leaves the hub)
	nextPing  time.Time     // owned by the hub's ping loop
	// onText (when set) handles a client's text frame other than `ping`
	// (the reader's goroutine; location.go).
	onText  func(msg []byte)
	lastLoc time.Time // when this socket's last location was kept (reader only)
	// availHint is whether the user was an available driver when the socket
	// opened: the hint its location updates carry (the location store's own
	// mark, set on every change of availability, wins over it).
	availHint bool
}

// A slow socket's 1013 close frame is written with this deadline, then the
// server waits this long for the client to read it and answer before the
// connection is reset (SO_LINGER 0).
const slowCloseWait = 3 * time.Second

// frame is one queued write: a prepared event, raw text (the snapshot) or a
// ping (written as pingMessage, like an event: a fan-out or ping walk can
// write it without blocking). An event keeps its resource and version until
// written (order.go).
type frame struct {
	pm       *websocket.PreparedMessage
	text     []byte
	ping     bool
	resource string
	version  int64
}

// newConn makes a joined-but-held socket: frames queue up and nothing is
// written until start (so the snapshot goes first).
func newConn(ws *websocket.Conn, user, group string, opts *Options) *Conn {
	c := &Conn{ws: ws, user: user, group: group, opts: opts, writing: true,
		readDone: make(chan struct{}), nextPing: time.Now().Add(opts.PingInterval)}
	if ws != nil {
		c.out, _ = ws.NetConn().(*batchConn)
	}
	return c
}

// start releases a held socket: first (the snapshot, when not nil) is written
// before every frame queued meanwhile, except those older than the snapshot
// showed (seen). Call it exactly once (Hub.release does).
func (c *Conn) start(first []byte, seen realtime.Versions) {
	c.mu.Lock()
	c.queue = dropStale(c.queue, seen)
	if first != nil {
		c.queue = append([]frame{{text: first}}, c.queue...)
	}
	c.mu.Unlock()
	go c.writeLoop()
}

// enqueue hands pm to the writer without ever blocking: a full queue closes
// the socket (1013) and counts it.
func (c *Conn) enqueue(pm *websocket.PreparedMessage) bool {
	return c.push(frame{pm: pm})
}

// pingFrame is a queued ping.
var pingFrame = frame{ping: true}

func (c *Conn) push(f frame) bool {
	ok, claimed := c.offer(f)
	if claimed {
		go c.writeLoop()
	}
	return ok
}

// offer queues f like push, but a socket that had no writer is not given a
// goroutine: claimed tells that the caller now owns the socket's writing and
// must call writeNow (or start writeLoop) once it holds no lock.
func (c *Conn) offer(f frame) (ok, claimed bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false, false
	}
	if c.holding && f.pm != nil && f.resource != "" {
		if len(c.held) >= c.opts.QueueSize {
			c.mu.Unlock()
			c.overflow()
			return false, false
		}
		c.held = append(c.held, f)
		c.mu.Unlock()
		return true, false
	}
	if len(c.queue) >= c.opts.QueueSize {
		c.mu.Unlock()
		c.overflow()
		return false, false
	}
	c.queue = append(c.queue, f)
	claimed = !c.writing
	c.writing = true
	c.mu.Unlock()
	return true, claimed
}

// overflow closes a socket whose queue is full (1013), once.
func (c *Conn) overflow() {
	metrics.SocketMessagesDropped.Inc()
	if c.dropped.CompareAndSwap(false, true) {
		metrics.SocketsClosedSlow.Inc()
		c.Close(CloseTryAgainLater, ReasonSlow)
	}
}

// hold makes events wait (a moving socket's new snapshot must go first).
func (c *Conn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// unhold queues first (the new snapshot, when not nil) and then the events
// held since hold, except those older than the snapshot showed (seen).
func (c *Conn) unhold(first []byte, seen realtime.Versions) {
	c.mu.Lock()
	held := dropStale(c.held, seen)
	c.held, c.holding = nil, false
	if c.closing {
		c.mu.Unlock()
		return
	}
	if len(c.queue)+1+len(held) > c.opts.QueueSize {
		c.mu.Unlock()
		c.overflow()
		return
	}
	if first != nil {
		c.queue = append(c.queue, frame{text: first})
	}
	c.queue = append(c.queue, held...)
	spawn := !c.writing && len(c.queue) > 0
	if spawn {
		c.writing = true
	}
	c.mu.Unlock()
	if spawn {
		go c.writeLoop()
	}
}

// Close asks the writer to send a close frame with code and reason and end
// the connection. Only the first call counts; code 0 ends without a frame
// (the peer is already gone). Never blocks.
func (c *Conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		// A writer blocked on a dead peer gives up at its write deadline;
		// make sure the connection ends even then. finish stops the timer
		// once the connection is closed, so a closed socket leaves none.
		cutoff := time.AfterFunc(c.opts.WriteTimeout+2*slowCloseWait+time.Second, func() { _ = c.ws.NetConn().Close() })
		c.mu.Lock()
		c.closing, c.code, c.reason = true, code, reason
		c.cutoff = cutoff
		spawn := !c.writing
		c.writing = true
		c.mu.Unlock()
		if spawn {
			go c.writeLoop()
		}
	})
}

// writeLoop is the socket's only writer while it runs: it writes the queued
// frames in order and returns when the queue is empty; after Close it writes
// the close frame (skipping what is still queued) and closes the connection.
func (c *Conn) writeLoop() {
	idle := false
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.finish()
			return
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			// What a write without blocking left unsent (writeNow) goes
			// out before the socket is given up.
			if err := c.out.flush(c.opts.WriteTimeout); err != nil {
				c.broken = true
				c.Close(0, "")
				continue
			}
			if !idle {
				// In a burst the next frame is usually a moment away: look
				// once more before giving the socket up.
				idle = true
				runtime.Gosched()
				continue
			}
			if !c.release() {
				continue
			}
			return
		}
		idle = false
		f, more := c.popLocked()
		c.mu.Unlock()
		// More frames queued behind this one: hold it, so the run goes out
		// in one write with its last frame (batch.go).
		c.out.setHold(more, false)
		if !c.write(f, false) {
			c.broken = true
			c.Close(0, "")
		}
	}
}

// popLocked takes the first queued frame (c.mu held); more tells whether
// frames wait behind it.
func (c *Conn) popLocked() (f frame, more bool) {
	f = c.queue[0]
	c.queue[0] = frame{}
	c.queue = c.queue[1:]
	return f, len(c.queue) > 0
}

// release gives up the socket's writing, unless a frame or the close arrived
// meanwhile: then it returns false and the caller writes on.
func (c *Conn) release() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) > 0 || c.closing {
		return false
	}
	c.writing = false
	c.queue = nil // idle sockets hold no queue
	return true
}

// writeNow writes what is queued for a socket whose writing the caller owns
// (offer claimed it) without blocking: a socket whose kernel buffer takes
// the frames (events, pings) is done with no goroutine of its own; one that
// cannot take them all (or has its close to write) is handed to writeLoop,
// which writes what was left unsent first.
func (c *Conn) writeNow() {
	if !c.out.canTry() {
		go c.writeLoop()
		return
	}
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			go c.writeLoop()
			return
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			// The next writes block (a pong the reader answers, say); one
			// that raced the last check may have left bytes unsent.
			if c.out.endTry() {
				go c.writeLoop()
				return
			}
			if !c.release() {
				continue
			}
			return
		}
		f, more := c.popLocked()
		c.mu.Unlock()
		c.out.setHold(more, true)
		if !c.write(f, true) {
			c.broken = true
			c.Close(0, "") // the loop sees closing: writeLoop ends the socket
			continue
		}
		if c.out.blocked() {
			go c.writeLoop()
			return
		}
	}
}

// write writes one frame; inline (writeNow) tries without blocking, so it
// needs no deadline.
func (c *Conn) write(f frame, inline bool) bool {
	var err error
	switch {
	case f.ping:
		// A prepared frame, not WriteControl (a timer and a buffer per
		// ping); not counted as a message sent.
		if !inline {
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		}
		return c.ws.WritePreparedMessage(pingMessage) == nil
	case f.pm != nil:
		if !inline {
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		}
		err = c.ws.WritePreparedMessage(f.pm)
	default:
		if !inline {
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		}
		err = c.ws.WriteMessage(websocket.TextMessage, f.text)
	}
	if err != nil {
		return false
	}
	metrics.SocketMessagesSent.Inc()
	return true
}

// finish sends the close frame (when Close gave a code and the stream is
// intact), closes the connection and tells the hub.
func (c *Conn) finish() {
	if err := c.out.flush(c.opts.WriteTimeout); err != nil { // frames held or unsent when Close came
		c.broken = true
	}
	sent := false
	if c.code != 0 {
		metricsClosed(c.code)
		wait := c.opts.WriteTimeout
		if c.code == CloseTryAgainLater {
			wait = slowCloseWait
		}
		if !c.broken {
			sent = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, truncate(c.reason)),
				time.Now().Add(wait)) == nil
		}
	}
	if c.code == CloseTryAgainLater {
		// The close frame sits in the kernel's send buffer behind what the
		// client has not read yet: give a client that reads again a moment to
		// reach it and answer (its reader then ends). A peer that does not
		// read would keep megabytes queued in an orphaned kernel socket, so
		// it is reset after that (SO_LINGER 0 discards the unsent data).
		answered := false
		if sent {
			select {
			case <-c.readDone:
				answered = true
			case <-time.After(slowCloseWait):
			}
		}
		if tc := tcpConn(c.ws.NetConn()); tc != nil && !answered {
			_ = tc.SetLinger(0)
		}
	}
	_ = c.ws.Close()
	c.mu.Lock()
	cutoff := c.cutoff
	c.mu.Unlock()
	cutoff.Stop() // finish runs only after Close set it
	if c.onExit != nil {
		c.onExit()
	}
}

// readLoop reads (and mostly ignores) what the client sends: a text `ping`
// gets a text `pong`; other text frames go to onText (a `location` frame); pongs extend the read deadline; any read error ends the
// socket. gorilla answers the peer's close frame itself.
func (c *Conn) readLoop() {
	defer close(c.readDone)
	c.ws.SetReadLimit(c.opts.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
	})
	for {
		kind, msg, err := c.ws.ReadMessage()
		if err != nil {
			c.Close(0, "")
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.opts.ReadTimeout))
		switch {
		case kind != websocket.TextMessage:
		case string(msg) == "ping":
			c.enqueue(pongMessage)
		case c.onText != nil:
			c.onText(msg)
		}
	}
}

var (
	pongMessage = mustPrepare([]byte("pong"))
	pingMessage = mustPrepareKind(websocket.PingMessage, nil) // the server's ping control frame
)

func mustPrepare(b []byte) *websocket.PreparedMessage {
	return mustPrepareKind(websocket.TextMessage, b)
}

func mustPrepareKind(kind int, b []byte) *websocket.PreparedMessage {
	pm, err := websocket.NewPreparedMessage(kind, b)
	if err != nil {
		panic(err)
	}
	return pm
}

// truncate keeps a close reason within the 123 bytes a close frame allows.
func truncate(s string) string {
	if len(s) <= 123 {
		return s
	}
	for i := 123; i > 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return s[:i]
		}
	}
	return ""
}

func metricsClosed(code int) { metrics.SocketsClosed.WithLabelValues(codeLabel(code)).Inc() }
