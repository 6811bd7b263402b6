package testutil

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The socket helpers of the tests that open the worker's WebSockets (pkg/ws,
// and the console's suspension and cancellation tests in pkg/consoleweb).

// SocketURL is the ws:// address of path on the server at base (http://…).
func SocketURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// DialSocket opens the socket at base+path with token as the only
// subprotocol, as the frontend sends it (none when token is empty). The
// socket is closed when the test ends.
func DialSocket(t testing.TB, base, path, token string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if token != "" {
		d.Subprotocols = []string{token}
	}
	c, res, err := d.Dial(SocketURL(base, path), nil)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, res, err
}

// ReadFrame reads one text frame as a JSON object within timeout, failing
// the test when none comes, the frame is binary or it is not a JSON object.
func ReadFrame(t testing.TB, c *websocket.Conn, timeout time.Duration) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	kind, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if kind != websocket.TextMessage {
		t.Fatalf("frame kind %d, want text", kind)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return m
}

// ReadFrameOfType reads frames until one whose "type" is typ, failing the
// test when none comes within timeout.
func ReadFrameOfType(t testing.TB, c *websocket.Conn, typ string, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %s frame within %s", typ, timeout)
		}
		if m := ReadFrame(t, c, left); m["type"] == typ {
			return m
		}
	}
}

// CloseCode reads until the socket ends and returns the close code
// (websocket.CloseAbnormalClosure, 1006, when it ended without a close frame)
// and the reason, failing the test when it is still open after timeout.
func CloseCode(t testing.TB, c *websocket.Conn, timeout time.Duration) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("socket still open after %s", timeout)
		}
		return websocket.CloseAbnormalClosure, err.Error()
	}
}
