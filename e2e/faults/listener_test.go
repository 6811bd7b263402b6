package faults

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hermez/pkg/testutil"
)

// SIGTERMs of web while its clients keep opening new connections to it for
// the whole drain (every answer then carries `Connection: close`, so nearly
// every request is on a new connection): the "load balancer" routes every new
// connection to the old instance until it refuses them, and only then to the
// next one. At the end of the drain the listener closes: a connection then is
// refused (the balancer goes to the next instance) or, when it was still in
// the kernel's queue, reset before the server read a byte of it (the client
// retries it: nothing was read, so nothing was done). Every other request gets
// its answer — none is read and dropped — and no retried POST was committed
// twice.
func TestSIGTERMNewConnectionsThroughoutDrain(t *testing.T) {
	t.Parallel()
	url, prefix := testutil.Redis(t)
	s := newSystem(t, url, prefix)
	const clients, deploys = 48, 20
	old := s.startWeb(0)
	a := newAPI(old.url)
	tokens := s.users(a, "user_lc", clients)
	// The balancer: the first backend, else (refused) the next.
	var backends atomic.Pointer[[]string]
	backends.Store(&[]string{old.url})
	var rerouted atomic.Int64
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var err error
		for i, b := range *backends.Load() {
			var c net.Conn
			c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, strings.TrimPrefix(b, "http://"))
			if err == nil {
				if i > 0 {
					rerouted.Add(1)
				}
				return &countConn{Conn: c}, nil
			}
			// Refused, or reset while connecting (the listener closed with
			// the handshake under way): nothing was sent, try the next.
			if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
				return nil, err
			}
		}
		return nil, err
	}
	load := startAPILoad(apiLoadOptions{tokens: tokens, dial: dial, retryUnread: true,
		pause: func() time.Duration { return time.Duration(10+rand.IntN(50)) * time.Millisecond }})
	time.Sleep(300 * time.Millisecond)
	// The instance after next starts while the old one drains (the wall
	// time of the test is then about the drains').
	start := func() *proc { return spawn(t, "web", s.webBin, s.dir, s.env, 0) }
	ready := func(p *proc) *proc {
		if p.exited() && strings.Contains(p.out.String(), "address already in use") {
			return s.startWeb(0) // the free port was taken meanwhile
		}
		p.waitStatus(t, "/readyz", 200, 30*time.Second)
		return p
	}
	next := ready(start())
	var exitLongest time.Duration
	for d := 0; d < deploys; d++ {
		backends.Store(&[]string{old.url, next.url})
		begin := time.Now()
		old.signal(syscall.SIGTERM)
		var after *proc
		if d < deploys-1 {
			after = start()
		}
		if err := old.wait(15 * time.Second); err != nil {
			t.Fatalf("deploy %d: %v", d, err)
		}
		exitLongest = max(exitLongest, time.Since(begin))
		backends.Store(&[]string{next.url})
		old, next = next, nil
		if after != nil {
			next = ready(after)
		}
	}
	time.Sleep(200 * time.Millisecond)
	load.halt()

	// No retried POST was committed twice; every answered one is there.
	db, err := sql.Open("pgx", s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, dup int64
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT (user_id, name)) FROM addresses WHERE name LIKE 'Casa %-%'`).Scan(&rows, &dup); err != nil {
		t.Fatal(err)
	}
	figure(t, "sigterm-new-connections", "%d SIGTERMs of web (drain 1 s) under %d clients opening new connections throughout the drain: "+
		"%d answered (%d during drains, Connection: close), %d failed; %d reset before the server sent a byte and retried, "+
		"%d connections refused and rerouted to the next instance; POSTs answered %d = rows %d, duplicates %d; exit within %s of SIGTERM",
		deploys, clients, load.ok.Load(), load.drained.Load(), load.failed.Load(), load.reset.Load(), rerouted.Load(), load.posted.Load(), rows, dup,
		exitLongest.Round(10*time.Millisecond))
	if load.failed.Load() != 0 {
		t.Fatalf("%d requests failed: %v", load.failed.Load(), load.firstFailures())
	}
	if dup != 0 || rows != load.posted.Load() {
		t.Fatalf("POSTs answered %d, rows %d, duplicates %d", load.posted.Load(), rows, dup)
	}
	if load.drained.Load() < 100*deploys {
		t.Fatalf("only %d requests answered during the drains: the test did not load them", load.drained.Load())
	}
}
