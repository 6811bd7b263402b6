package ws

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/metrics"
)

// Close codes the server sends (RFC 6455 and the application range of realtime.md).
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
	ReasonDeleted   = "Usuario eliminado."
	ReasonInternal  = "Error interno del servidor."
)

// Conn is one socket: a bounded send queue drained by its only writer.
type Conn struct {
	ws    *websocket.Conn
	user  string
	group string
	opts  *Options

	send chan *websocket.PreparedMessage
	done chan struct{}

	closeOnce sync.Once
	code      int
	reason    string
	exited    chan struct{} // closed when the writer returned
	dropped   atomic.Bool
}

func newConn(ws *websocket.Conn, user, group string, opts *Options) *Conn {
	return &Conn{ws: ws, user: user, group: group, opts: opts,
		send: make(chan *websocket.PreparedMessage, opts.QueueSize),
		done: make(chan struct{}), exited: make(chan struct{})}
}

// User is the authenticated user of the socket.
func (c *Conn) User() string { return c.user }

// Group is the group the socket joined.
func (c *Conn) Group() string { return c.group }

// enqueue hands pm to the writer without ever blocking: a full queue closes
// the socket (1013) and counts it. Called from the fan-out.
func (c *Conn) enqueue(pm *websocket.PreparedMessage) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.send <- pm:
		return true
	default:
		metrics.SocketMessagesDropped.Inc()
		if c.dropped.CompareAndSwap(false, true) {
			metrics.SocketsClosedSlow.Inc()
			c.Close(CloseTryAgainLater, ReasonSlow)
		}
		return false
	}
}

// Close asks the writer to send a close frame with code and reason and end
// the connection. Only the first call counts; code 0 ends without a frame
// (the peer is already gone). Never blocks.
func (c *Conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
		// A writer blocked on a dead peer gives up at its write deadline;
		// make sure the connection ends even then.
		time.AfterFunc(c.opts.WriteTimeout+time.Second, func() { _ = c.ws.NetConn().Close() })
	})
}

// writeLoop is the socket's only writer: first the snapshot (when any), then
// every queued frame, a ping every PingInterval, and the close frame at the end.
func (c *Conn) writeLoop(first []byte) {
	defer close(c.exited)
	defer func() {
		if c.code == CloseTryAgainLater {
			// A peer that does not read would keep megabytes queued in an
			// orphaned kernel socket: reset it instead.
			if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		_ = c.ws.Close()
	}()
	ping := time.NewTicker(c.opts.PingInterval)
	defer ping.Stop()
	if first != nil {
		if !c.write(websocket.TextMessage, first, nil) {
			return
		}
	}
	for {
		// Prefer closing over writing what is still queued.
		select {
		case <-c.done:
			c.writeClose()
			return
		default:
		}
		select {
		case <-c.done:
			c.writeClose()
			return
		case pm := <-c.send:
			if !c.write(0, nil, pm) {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout)); err != nil {
				c.Close(0, "")
				return
			}
		}
	}
}

func (c *Conn) write(kind int, b []byte, pm *websocket.PreparedMessage) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	var err error
	if pm != nil {
		err = c.ws.WritePreparedMessage(pm)
	} else {
		err = c.ws.WriteMessage(kind, b)
	}
	if err != nil {
		c.Close(0, "")
		return false
	}
	metrics.SocketMessagesSent.Inc()
	return true
}

func (c *Conn) writeClose() {
	if c.code == 0 {
		return
	}
	metricsClosed(c.code)
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, truncate(c.reason)),
		time.Now().Add(c.opts.WriteTimeout))
}

// readLoop reads (and mostly ignores) what the client sends: a text `ping`
// gets a text `pong`; pongs extend the read deadline; any read error ends the
// socket. gorilla answers the peer's close frame itself.
func (c *Conn) readLoop() {
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
		if kind == websocket.TextMessage && string(msg) == "ping" {
			c.enqueue(pongMessage)
		}
	}
}

var pongMessage = mustPrepare([]byte("pong"))

func mustPrepare(b []byte) *websocket.PreparedMessage {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
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
