package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one received text frame, decoded.
type frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	Raw  []byte          `json:"-"`
}

// socket is a frontend-like WebSocket client: the bare token as the only subprotocol.
type socket struct {
	name   string
	conn   *websocket.Conn
	frames chan frame
	mu     sync.Mutex
	closed *websocket.CloseError
	done   chan struct{}
}

func dial(t *testing.T, base, path, token, name string) *socket {
	u := "ws" + strings.TrimPrefix(base, "http") + path
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{token}}
	conn, res, err := d.Dial(u, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s (%s): %v (status %d)", path, name, err, status)
	}
	if res.Header.Get("Sec-WebSocket-Protocol") != token {
		t.Fatalf("dial %s: subprotocol not echoed", path)
	}
	s := &socket{name: name, conn: conn, frames: make(chan frame, 1024), done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *socket) read() {
	defer close(s.done)
	for {
		_, b, err := s.conn.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				s.mu.Lock()
				s.closed = ce
				s.mu.Unlock()
			}
			close(s.frames)
			return
		}
		var f frame
		if json.Unmarshal(b, &f) == nil {
			f.Raw = b
			s.frames <- f
		}
	}
}

// next waits for the next frame.
func (s *socket) next(t *testing.T) frame {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			t.Fatalf("%s: socket closed (%v) while waiting for a frame", s.name, s.closeErr())
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no frame within 10 s", s.name)
	}
	return frame{}
}

// expect reads the next frames and checks their types, in order, and that each
// carries the id wanted (when not empty) inside data.
func (s *socket) expect(t *testing.T, id string, types ...string) []frame {
	t.Helper()
	out := make([]frame, 0, len(types))
	for _, typ := range types {
		f := s.next(t)
		if f.Type != typ {
			t.Fatalf("%s: got %q, want %q (%s)", s.name, f.Type, typ, f.Raw)
		}
		if id != "" {
			var d struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(f.Data, &d)
			if d.ID != id {
				t.Fatalf("%s: %s carries id %q, want %q", s.name, typ, d.ID, id)
			}
		}
		validateFrame(t, s.name, f.Raw)
		out = append(out, f)
	}
	return out
}

// quiet asserts that no frame arrives within d.
func (s *socket) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if ok {
			t.Fatalf("%s: unexpected frame %s", s.name, f.Raw)
		}
	case <-time.After(d):
	}
}

func (s *socket) closeErr() *websocket.CloseError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// waitClosed waits for the server's close frame and returns its code.
func (s *socket) waitClosed(t *testing.T, within time.Duration) int {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				<-s.done
				if ce := s.closeErr(); ce != nil {
					return ce.Code
				}
				return websocket.CloseAbnormalClosure
			}
		case <-deadline:
			t.Fatalf("%s: not closed within %s", s.name, within)
		}
	}
}

var _ = http.StatusOK
