package faults

import (
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// watcher is a client socket that keeps the state of quotes as the frontend
// would: its snapshot, then every frame; when the socket ends (1012, 1001, a
// reset) it reconnects — to the next worker in urls — and starts again from
// a fresh snapshot, as the frontend does.
//
// The order rule is checked per connection ("session"): a frame showing an
// older price of a quote than one the session already showed is a violation
// (prices only go up in these tests).
type watcher struct {
	urls  []string
	path  string
	token string

	mu         sync.Mutex
	prices     map[string]int64 // quote id → price shown (absent: not shown)
	sessions   int
	violations int
	frames     int
	codes      map[int]int // close codes seen (1006: no close frame)
	conn       *websocket.Conn

	stop atomic.Bool
	done chan struct{}
}

func watch(urls []string, path, token string) *watcher {
	w := &watcher{urls: urls, path: path, token: token, prices: map[string]int64{}, codes: map[int]int{}, done: make(chan struct{})}
	go w.run()
	return w
}

func (w *watcher) run() {
	defer close(w.done)
	for i := 0; !w.stop.Load(); i++ {
		url := "ws" + strings.TrimPrefix(w.urls[i%len(w.urls)], "http") + w.path
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{w.token}}
		c, _, err := d.Dial(url, nil)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		w.conn = c
		w.sessions++
		w.mu.Unlock()
		code := w.session(c)
		c.Close()
		w.mu.Lock()
		w.conn = nil
		if !w.stop.Load() {
			w.codes[code]++
		}
		w.mu.Unlock()
		if code == websocket.CloseServiceRestart || code == websocket.CloseGoingAway {
			i-- // same worker again: it is up (1001: the next try moves on if it is gone)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// session reads one connection to its end and returns the close code.
func (w *watcher) session(c *websocket.Conn) int {
	shown := map[string]int64{}
	for {
		_, raw, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			var ne net.Error
			if errors.As(err, &ne) {
				return websocket.CloseAbnormalClosure
			}
			return websocket.CloseAbnormalClosure
		}
		var f struct {
			Type   string           `json:"type"`
			Data   map[string]any   `json:"data"`
			Quotes []map[string]any `json:"quotes"`
		}
		if json.Unmarshal(raw, &f) != nil {
			continue
		}
		w.mu.Lock()
		if f.Quotes != nil { // a snapshot: the whole state
			w.prices = map[string]int64{}
			for _, q := range f.Quotes {
				id, _ := q["id"].(string)
				w.prices[id] = priceOf(q)
				shown[id] = priceOf(q)
			}
		} else if id, _ := f.Data["id"].(string); id != "" && strings.HasPrefix(f.Type, "quote_") {
			p := priceOf(f.Data)
			if old, ok := shown[id]; ok && p < old {
				w.violations++
			}
			shown[id] = max(shown[id], p)
			w.frames++
			if f.Type == "quote_deleted" || f.Type == "quote_expired" || f.Type == "quote_accepted" {
				delete(w.prices, id)
			} else {
				w.prices[id] = p
			}
		}
		w.mu.Unlock()
	}
}

// price is the price this socket shows for quote (-1: not shown).
func (w *watcher) price(quote string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p, ok := w.prices[quote]; ok {
		return p
	}
	return -1
}

// connected tells whether a socket is open now.
func (w *watcher) connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conn != nil
}

func (w *watcher) close() {
	w.stop.Store(true)
	w.mu.Lock()
	if w.conn != nil {
		w.conn.Close()
	}
	w.mu.Unlock()
	<-w.done
}

// stats sums a set of watchers.
type watchStats struct {
	sessions, violations, frames int
	codes                        map[int]int
}

func sum(ws []*watcher) watchStats {
	s := watchStats{codes: map[int]int{}}
	for _, w := range ws {
		w.mu.Lock()
		s.sessions += w.sessions
		s.violations += w.violations
		s.frames += w.frames
		for c, n := range w.codes {
			s.codes[c] += n
		}
		w.mu.Unlock()
	}
	return s
}
