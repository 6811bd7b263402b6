package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// apiLoad is one client per token, each alternately POSTing an address
// (never retried by the transport: a lost one shows) and GETting its
// profile, a pause between requests, until halt. The requests go to
// whatever backend dial (the test's load balancer) connects to.
type apiLoad struct {
	ok, drained, posted, reset, failed atomic.Int64

	mu       sync.Mutex
	failures []string
	wg       sync.WaitGroup
	stop     chan struct{}
}

type apiLoadOptions struct {
	tokens []string
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	pause  func() time.Duration // before each request
	// retryUnread retries (at most 4 times) a request whose connection was
	// reset before the server sent a byte: it read nothing, so did nothing.
	// The dial must return *countConn for the bytes to be counted.
	retryUnread bool
}

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

func startAPILoad(o apiLoadOptions) *apiLoad {
	l := &apiLoad{stop: make(chan struct{})}
	for i, tok := range o.tokens {
		l.wg.Go(func() {
			client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: o.dial, MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				case <-time.After(o.pause()):
				}
				l.request(client, o.retryUnread, tok, i, n)
			}
		})
	}
	return l
}

// request sends client i's n-th request and counts its outcome.
func (l *apiLoad) request(client *http.Client, retryUnread bool, tok string, i, n int) {
	post := n%2 == 0
	var (
		res *http.Response
		err error
	)
	for attempt := 0; attempt < 5; attempt++ {
		var req *http.Request
		if post {
			req, _ = http.NewRequest("POST", "http://web/user/api/me/addresses/", strings.NewReader(
				fmt.Sprintf(`{"name":"Casa %d-%d","type":"casa","address":"Calle %d # 1-2","city":"Bucaramanga"}`, i, n, n)))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req, _ = http.NewRequest("GET", "http://web/user/api/me/", nil)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		var (
			conn   *countConn
			before int64
		)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotConn: func(c httptrace.GotConnInfo) {
			if conn, _ = c.Conn.(*countConn); conn != nil {
				before = conn.read.Load()
			}
		}}))
		res, err = client.Do(req)
		if retryUnread && err != nil && conn != nil && conn.read.Load() == before &&
			(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			l.reset.Add(1)
			continue
		}
		break
	}
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode < 300 {
			l.ok.Add(1)
			if res.Close {
				l.drained.Add(1)
			}
			if post {
				l.posted.Add(1)
			}
			return
		}
		err = fmt.Errorf("status %d", res.StatusCode)
	}
	l.failed.Add(1)
	l.mu.Lock()
	l.failures = append(l.failures, fmt.Sprintf("post=%v: %v", post, err))
	l.mu.Unlock()
}

// halt stops the clients and waits for their last requests.
func (l *apiLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// firstFailures are the first five failures (after halt).
func (l *apiLoad) firstFailures() []string { return l.failures[:min(5, len(l.failures))] }
