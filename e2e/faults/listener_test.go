package faults

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"hermez/pkg/testutil"
)

// countConn counts the bytes a client connection read.
type countConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

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
	tokens := make([]string, clients)
	for i := range tokens {
		tokens[i] = s.token(fmt.Sprintf("user_lc_%02d", i))
		a.must(t, "GET", "/user/api/me/", tokens[i], nil, 200) // the user row exists
	}
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
	var (
		ok, drained, posted, reset, failed atomic.Int64
		mu                                 sync.Mutex
		failures                           []string
		wg                                 sync.WaitGroup
		stop                               = make(chan struct{})
	)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(10+rand.IntN(50)) * time.Millisecond):
				}
				var (
					res  *http.Response
					err  error
					post = n%2 == 0
				)
				for attempt := 0; attempt < 5; attempt++ {
					// POSTs are not retried by the transport: a lost one shows.
					var req *http.Request
					if post {
						req, _ = http.NewRequest("POST", "http://web/user/api/me/addresses/", strings.NewReader(
							fmt.Sprintf(`{"name":"Casa %d-%d","type":"casa","address":"Calle %d # 1-2","city":"Bucaramanga"}`, i, n, n)))
						req.Header.Set("Content-Type", "application/json")
					} else {
						req, _ = http.NewRequest("GET", "http://web/user/api/me/", nil)
					}
					req.Header.Set("Authorization", "Bearer "+tokens[i])
					var conn *countConn
					var before int64
					req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(c httptrace.GotConnInfo) {
						conn, _ = c.Conn.(*countConn)
						if conn != nil {
							before = conn.read.Load()
						}
					}}))
					res, err = client.Do(req)
					// A reset before the server sent a byte: it read nothing.
					if err != nil && conn != nil && conn.read.Load() == before &&
						(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
						reset.Add(1)
						continue
					}
					break
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode < 300 {
						ok.Add(1)
						if res.Close {
							drained.Add(1)
						}
						if post {
							posted.Add(1)
						}
						continue
					}
					err = fmt.Errorf("status %d", res.StatusCode)
				}
				failed.Add(1)
				mu.Lock()
				failures = append(failures, fmt.Sprintf("post=%v: %v", post, err))
				mu.Unlock()
			}
		}(i)
	}
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
	close(stop)
	wg.Wait()

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
		deploys, clients, ok.Load(), drained.Load(), failed.Load(), reset.Load(), rerouted.Load(), posted.Load(), rows, dup,
		exitLongest.Round(10*time.Millisecond))
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed: %v", failed.Load(), failures[:min(5, len(failures))])
	}
	if dup != 0 || rows != posted.Load() {
		t.Fatalf("POSTs answered %d, rows %d, duplicates %d", posted.Load(), rows, dup)
	}
	if drained.Load() < 100*deploys {
		t.Fatalf("only %d requests answered during the drains: the test did not load them", drained.Load())
	}
}
