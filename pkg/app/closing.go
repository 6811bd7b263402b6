package app

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// firstRequestGrace is how long, after the listener closed, a connection
// accepted before it may take to send its first request. A client that
// connects sends at once; one still silent after this is a pre-connection
// and gets closed (it never sent anything: retrying is safe).
const firstRequestGrace = time.Second

// newConns tracks the connections that have not sent their first request yet
// (http.StateNew). net/http's Shutdown drops a request it reads after the
// shutdown began without an answer (conn.serve returns right after
// readRequest), so Serve closes the listener first and waits for these to
// turn active (or closes them when silent) before it calls Shutdown.
type newConns struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	changed chan struct{} // closed and replaced on every change
}

func newNewConns() *newConns {
	return &newConns{conns: map[net.Conn]struct{}{}, changed: make(chan struct{})}
}

// connState is the http.Server's ConnState hook.
func (n *newConns) connState(c net.Conn, st http.ConnState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if st == http.StateNew {
		n.conns[c] = struct{}{}
	} else if _, ok := n.conns[c]; ok {
		delete(n.conns, c)
	} else {
		return
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// wait returns once no connection is new, or at the deadline after closing
// those still silent; it returns how many it closed.
func (n *newConns) wait(ctx context.Context, grace time.Duration) int {
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for {
		n.mu.Lock()
		left, changed := len(n.conns), n.changed
		n.mu.Unlock()
		if left == 0 {
			return 0
		}
		select {
		case <-changed:
		case <-timer.C:
			return n.closeAll()
		case <-ctx.Done():
			return n.closeAll()
		}
	}
}

func (n *newConns) closeAll() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	for c := range n.conns {
		_ = c.Close()
	}
	return len(n.conns)
}
