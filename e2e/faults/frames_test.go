package faults

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// frameReader follows one socket path on a worker, reconnecting after any
// close (a worker closes with 1012 after a Redis outage), and keeps each frame
// of one type with the time it arrived.
type frameReader struct {
	mu     sync.Mutex
	frames []arrival
	stop   atomic.Bool
	conn   *websocket.Conn
	done   chan struct{}
}

// arrival is one kept frame: when it arrived and its data.
type arrival struct {
	at   time.Time
	data json.RawMessage
}

func readFrames(url, path, token, frameType string) *frameReader {
	r := &frameReader{done: make(chan struct{})}
	u := "ws" + strings.TrimPrefix(url, "http") + path
	go func() {
		defer close(r.done)
		for !r.stop.Load() {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{token}}
			c, _, err := d.Dial(u, nil)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			r.mu.Lock()
			r.conn = c
			r.mu.Unlock()
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					break
				}
				var f struct {
					Type string
					Data json.RawMessage
				}
				if json.Unmarshal(b, &f) == nil && f.Type == frameType {
					r.mu.Lock()
					r.frames = append(r.frames, arrival{at: time.Now(), data: f.Data})
					r.mu.Unlock()
				}
			}
			c.Close()
		}
	}()
	return r
}

func (r *frameReader) close() {
	r.stop.Store(true)
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
	}
	r.mu.Unlock()
	<-r.done
}

// firstAfter is when the first kept frame after t that match accepts arrived
// (zero: none yet).
func (r *frameReader) firstAfter(t time.Time, match func(data json.RawMessage) bool) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.frames {
		if a.at.After(t) && match(a.data) {
			return a.at
		}
	}
	return time.Time{}
}
