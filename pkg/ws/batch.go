package ws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// Frames that queue for one socket are written in one syscall. gorilla
// writes each message's frame straight to its net.Conn (one write per
// frame); a socket's net.Conn is a batchConn instead, which the writer asks
// to hold what is written while more frames are queued behind it: the last
// frame of the run is written together with the held ones. A lone frame (the
// usual fan-out: one event, one frame per socket) is written directly, as
// before, with no copy.

// maxBatch bounds what a socket holds before it writes: past it the held
// bytes and the new ones go out at once (still one write).
const maxBatch = 64 << 10

// batchBufs recycles hold buffers: a socket holds one only in a burst.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// batchConn is a socket's connection as gorilla sees it. Writes come from
// the socket's writer and, rarely, from its reader (gorilla answers a close
// frame itself), each under gorilla's write lock; mu orders them with the
// writer's hold and flush.
type batchConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	buf  *[]byte
}

// setHold tells whether the next writes are followed by more (hold them) or
// end a run (write them with whatever is held). Safe on nil.
func (b *batchConn) setHold(hold bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.hold = hold
	b.mu.Unlock()
}

// Write holds p while a run is on and there is room, else writes what is
// held and p in one write.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		if !b.hold {
			return b.Conn.Write(p)
		}
		b.buf = batchBufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	if b.hold && len(*b.buf) < maxBatch {
		return len(p), nil
	}
	if err := b.writeHeld(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes what is held, if anything, and ends the run. Safe on nil.
func (b *batchConn) flush() error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold = false
	if b.buf == nil {
		return nil
	}
	return b.writeHeld()
}

// writeHeld writes the held bytes (mu held) and gives the buffer back.
func (b *batchConn) writeHeld() error {
	_, err := b.Conn.Write(*b.buf)
	if cap(*b.buf) <= maxBatch*2 {
		*b.buf = (*b.buf)[:0]
		batchBufs.Put(b.buf)
	}
	b.buf = nil
	return err
}

// tcp is the TCP connection under c (nil for another kind).
func tcpConn(c net.Conn) *net.TCPConn {
	if b, ok := c.(*batchConn); ok {
		c = b.Conn
	}
	tc, _ := c.(*net.TCPConn)
	return tc
}

// batchingWriter hands gorilla's upgrader a batchConn when it hijacks the
// connection.
type batchingWriter struct {
	http.ResponseWriter
}

func (w batchingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &batchConn{Conn: nc}, brw, nil
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w batchingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
