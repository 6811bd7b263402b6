package ws

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// A socket's net.Conn under gorilla is a batchConn, which does two things
// gorilla cannot:
//
//   - Frames that queue for one socket are written in one syscall. gorilla
//     writes each message's frame straight to its net.Conn (one write per
//     frame); the writer asks the batchConn to hold what is written while
//     more frames are queued behind it, and the last frame of the run is
//     written together with the held ones.
//   - A write can be tried without blocking (the fan-out writes an event to
//     thousands of idle sockets from a few goroutines, not one goroutine per
//     socket: hub.go). What the kernel does not take at once stays here,
//     unsent, and the socket's writer goroutine writes it (blocking, with its
//     deadline) before anything else.
//
// A lone frame is written directly, with no copy; an idle socket holds no
// buffer.

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
	raw syscall.RawConn // for writes that must not block; nil when the connection has no descriptor

	mu       sync.Mutex
	hold     bool
	nonblock bool    // a write the kernel does not take at once is kept in buf (unsent)
	unsent   bool    // buf holds bytes a write without blocking left (the writer goroutine sends them)
	buf      *[]byte // held or unsent bytes, in order
	// The write deadline gorilla asks for, and the one set on the
	// connection: a write without blocking needs none, so it is set only
	// before a write that may block (and cleared before one that must not).
	deadline, applied time.Time
	// The attempt of tryWrite (under mu; a method value made once, so a try
	// allocates nothing).
	try    []byte
	tried  int
	tryErr error
	tryFn  func(fd uintptr) bool
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			b.raw = raw
			b.tryFn = b.tryOnce
		}
	}
	return b
}

// canTry tells whether writes can be tried without blocking. Safe on nil.
func (b *batchConn) canTry() bool { return b != nil && b.raw != nil }

// setHold tells whether the next writes are followed by more (hold them) or
// end a run (write them with whatever is held), and whether a write that
// would block is kept unsent instead (nonblock). Safe on nil.
func (b *batchConn) setHold(hold, nonblock bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.hold = hold
	b.nonblock = nonblock && b.raw != nil
	b.mu.Unlock()
}

// blocked tells whether a write without blocking left bytes unsent: the
// writer goroutine must take over. Safe on nil.
func (b *batchConn) blocked() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unsent
}

// SetWriteDeadline records the deadline of the next writes that may block.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	b.deadline = t
	b.mu.Unlock()
	return nil
}

// SetDeadline sets the read deadline on the connection and records the write one.
func (b *batchConn) SetDeadline(t time.Time) error {
	if err := b.SetWriteDeadline(t); err != nil {
		return err
	}
	return b.Conn.SetReadDeadline(t)
}

// Write holds p while a run is on and there is room, else writes what is
// held and p in one write (without blocking in nonblock mode: what the
// kernel does not take stays unsent).
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		if !b.hold {
			if !b.nonblock {
				if err := b.applyDeadline(b.deadline); err != nil {
					return 0, err
				}
				return b.Conn.Write(p)
			}
			n, err := b.tryWrite(p)
			if err != nil {
				return n, err
			}
			if n < len(p) {
				b.keepUnsent(p[n:])
			}
			return len(p), nil
		}
		b.buf = batchBufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	if b.hold && len(*b.buf) < maxBatch {
		return len(p), nil
	}
	if err := b.writeBuf(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// endTry ends the writes without blocking (the next ones block) and tells
// whether one left bytes unsent. Safe on nil.
func (b *batchConn) endTry() (unsent bool) {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nonblock = false
	return b.unsent
}

// flush writes what is held or unsent, if anything, blocking for at most
// timeout, and ends the run. Safe on nil.
func (b *batchConn) flush(timeout time.Duration) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hold, b.nonblock = false, false
	if b.buf == nil {
		return nil
	}
	b.deadline = time.Now().Add(timeout)
	return b.writeBuf()
}

// writeBuf writes the held bytes (mu held): without blocking in nonblock
// mode (what is left stays unsent), else in full; a buffer written in full
// goes back to the pool.
func (b *batchConn) writeBuf() error {
	var err error
	if b.nonblock {
		var n int
		n, err = b.tryWrite(*b.buf)
		if err == nil && n < len(*b.buf) {
			rest := copy(*b.buf, (*b.buf)[n:])
			*b.buf = (*b.buf)[:rest]
			b.unsent = true
			return nil
		}
	} else if err = b.applyDeadline(b.deadline); err == nil {
		_, err = b.Conn.Write(*b.buf)
	}
	if cap(*b.buf) <= maxBatch*2 {
		*b.buf = (*b.buf)[:0]
		batchBufs.Put(b.buf)
	}
	b.buf, b.unsent = nil, false
	return err
}

// keepUnsent keeps p (what a write without blocking left) for the writer
// goroutine (mu held, no buffer yet).
func (b *batchConn) keepUnsent(p []byte) {
	b.buf = batchBufs.Get().(*[]byte)
	*b.buf = append(*b.buf, p...)
	b.unsent = true
}

// applyDeadline sets t as the connection's write deadline unless it is
// already (mu held).
func (b *batchConn) applyDeadline(t time.Time) error {
	if t.Equal(b.applied) {
		return nil
	}
	if err := b.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	b.applied = t
	return nil
}

// errShortWrite is a write the kernel neither took nor refused.
var errShortWrite = errors.New("ws: write without progress")

// tryWrite writes what the kernel takes of p at once (mu held): n < len(p)
// with a nil error means the socket's send buffer is full.
func (b *batchConn) tryWrite(p []byte) (int, error) {
	b.try, b.tried, b.tryErr = p, 0, nil
	err := b.raw.Write(b.tryFn)
	if errors.Is(err, os.ErrDeadlineExceeded) && b.tried == 0 {
		// The deadline of an earlier write that could block has passed; a
		// write that does not block needs none.
		if err = b.applyDeadline(time.Time{}); err == nil {
			err = b.raw.Write(b.tryFn)
		}
	}
	n := b.tried
	if err == nil {
		err = b.tryErr
	}
	b.try, b.tryErr = nil, nil
	return n, err
}

// tryOnce is tryWrite's attempt on the descriptor: it never asks to wait.
func (b *batchConn) tryOnce(fd uintptr) bool {
	for b.tried < len(b.try) {
		n, err := syscall.Write(int(fd), b.try[b.tried:])
		if n > 0 {
			b.tried += n
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true
		case err != nil:
			b.tryErr = err
			return true
		case n == 0:
			b.tryErr = io.ErrUnexpectedEOF
			if b.tried == 0 {
				b.tryErr = errShortWrite
			}
			return true
		}
	}
	return true
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
	return newBatchConn(nc), brw, nil
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w batchingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
