package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/realtime"
)

// dialBare opens n sockets on srv as the listeners do (the token as the
// subprotocol) and checks the handshake and the initial frame.
func dialBare(t *testing.T, url string, n int) []*websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"the.token"}, ReadBufferSize: 1024, WriteBufferSize: 1024}
	out := make([]*websocket.Conn, n)
	for i := range out {
		c, res, err := d.Dial(url+"/ws/deliveries/new-quotes/", nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if got := res.Header.Get("Sec-Websocket-Protocol"); got != "the.token" {
			t.Fatalf("subprotocol echoed %q", got)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil || !isInitialQuotes(msg) {
			t.Fatalf("initial frame %q: %v", msg, err)
		}
		out[i] = c
		t.Cleanup(func() { c.Close() })
	}
	return out
}

func waitLen(t *testing.T, s *bareWS, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.Len() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d sockets, want %d", s.Len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func createdFrame(id string) []byte {
	return []byte(`{"type":"quote_created","data":{"id":"` + id + `","price":"12.50","status":"pending"}}`)
}

func TestBareWSWritesEachEventToEverySocket(t *testing.T) {
	for _, writers := range []int{1, 0, 3} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			s := newBareWS(writers, slog.New(slog.NewTextHandler(io.Discard, nil)))
			srv := httptest.NewServer(s)
			defer srv.Close()
			const n = 150
			socks := dialBare(t, "ws"+strings.TrimPrefix(srv.URL, "http"), n)
			waitLen(t, s, n)
			fanned := make(chan int, 2)
			s.fannedOut = func(k int) { fanned <- k }

			// Another group's frame is not written; the new_quotes frames are, in order, byte for byte.
			s.Dispatch(realtime.Message{Group: realtime.GroupUserQuotes("u1"), Payload: createdFrame("other")})
			for _, id := range []string{"q1", "q2"} {
				s.Dispatch(realtime.Message{Group: realtime.GroupNewQuotes, Resource: realtime.ResourceQuote(id), Payload: createdFrame(id)})
				if k := <-fanned; k != n {
					t.Fatalf("fan-out wrote %d sockets, want %d", k, n)
				}
			}
			for i, c := range socks {
				for _, id := range []string{"q1", "q2"} {
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					kind, msg, err := c.ReadMessage()
					if err != nil || kind != websocket.TextMessage || !bytes.Equal(msg, createdFrame(id)) {
						t.Fatalf("socket %d: got %d %q, %v; want %q", i, kind, msg, err, createdFrame(id))
					}
					if got, ok := quoteCreatedID(msg); !ok || got != id {
						t.Fatalf("listener reads id %q %v", got, ok)
					}
				}
			}

			// A socket that goes is no longer written.
			socks[0].Close()
			waitLen(t, s, n-1)
			s.Dispatch(realtime.Message{Group: realtime.GroupNewQuotes, Payload: createdFrame("q3")})
			if k := <-fanned; k != n-1 {
				t.Fatalf("after a close the fan-out wrote %d sockets, want %d", k, n-1)
			}
		})
	}
}

func TestBareWSFlags(t *testing.T) {
	ok := bareWSOptions{addr: "127.0.0.1:9", writers: 1, redisURL: "redis://127.0.0.1:6379/0"}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	bad := map[string]func(o *bareWSOptions){
		"not loopback":   func(o *bareWSOptions) { o.addr = "10.0.0.1:80" },
		"writers < 0":    func(o *bareWSOptions) { o.writers = -1 },
		"writers > 1024": func(o *bareWSOptions) { o.writers = 1025 },
		"ping < 0":       func(o *bareWSOptions) { o.ping = -time.Second },
		"ping < 1s":      func(o *bareWSOptions) { o.ping = time.Millisecond },
		"no broker":      func(o *bareWSOptions) { o.redisURL = "" },
		"two brokers":    func(o *bareWSOptions) { o.clusterURL = "redis://127.0.0.1:7000" },
	}
	for name, mod := range bad {
		o := ok
		mod(&o)
		if err := o.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The flags reach the options, and run refuses bad ones before listening.
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	defineFlags(fs, &o)
	if err := fs.Parse([]string{"-serve-bare-ws", "127.0.0.1:0", "-bare-writers", "0", "-bare-ping", "25s", "-redis-url", "redis://127.0.0.1:1/0", "-redis-prefix", "p:"}); err != nil {
		t.Fatal(err)
	}
	if o.bareWS.addr != "127.0.0.1:0" || o.bareWS.writers != 0 || o.bareWS.ping != 25*time.Second || o.bareWS.redisURL != "redis://127.0.0.1:1/0" || o.bareWS.prefix != "p:" {
		t.Fatalf("flags not applied: %+v", o.bareWS)
	}
	o.bareWS.addr = "192.0.2.1:80"
	if err := run(o); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("run with a non-loopback address: %v", err)
	}
}

// TestBareWSThroughRedis runs the mode as cluster.sh does, against the test
// Redis: an event published as web publishes it reaches the sockets as the
// listeners read them.
func TestBareWSThroughRedis(t *testing.T) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		t.Skip("TEST_REDIS_URL not set")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	prefix := fmt.Sprintf("barews%d:", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveBareWS(ctx, bareWSOptions{addr: addr, writers: 0, redisURL: url, prefix: prefix}, time.Minute)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveBareWS: %v", err)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conns := dialBare(t, "ws://"+addr, 20)
	socks := make([]*sock, len(conns))
	for i, c := range conns {
		socks[i] = &sock{c: c}
		_ = c.SetReadDeadline(time.Time{})
		go socks[i].read()
	}
	rc, err := realtime.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pub := &realtime.RedisPublisher{Client: rc, Prefix: prefix}
	msg := realtime.RawMessage(realtime.GroupNewQuotes, "quote_created", createdFrame("q-redis")).About(realtime.ResourceQuote("q-redis"), 1, false)
	if err := pub.Publish(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	for i, s := range socks {
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, ok := s.receivedAt("q-redis"); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("socket %d never received the published event", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// The ping walk pings each socket once per round, in turn, wrapping around.
func TestBareWSPingsEachSocketInTurn(t *testing.T) {
	s := newBareWS(1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s)
	defer srv.Close()
	const n = 10
	socks := dialBare(t, "ws"+strings.TrimPrefix(srv.URL, "http"), n)
	waitLen(t, s, n)
	pings := make([]atomic.Int32, n)
	for i, c := range socks {
		c.SetPingHandler(func(string) error { pings[i].Add(1); return nil })
		_ = c.SetReadDeadline(time.Time{})
		go func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
	}
	conns := s.sockets()
	s.pingShare(conns, 4)
	s.pingShare(conns, 4)
	s.pingShare(conns, 4) // 12: two sockets pinged twice
	want := 12
	for deadline := time.Now().Add(5 * time.Second); ; {
		got, twice := 0, 0
		for i := range pings {
			p := int(pings[i].Load())
			got += p
			if p == 2 {
				twice++
			}
		}
		if got == want && twice == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pings (%d sockets twice), want %d (2)", got, twice, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
