package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"hermez/bench/load"
	"hermez/pkg/realtime"
)

// The bare fan-out server (-serve-bare-ws): the limit of issue 23 §3 at the
// scale of bench/cluster.sh. It accepts the same socket upgrades a worker
// does (any path; the token subprotocol is echoed, never checked), sends one
// initial_quotes frame (what a new_quotes listener reads first), and receives
// the new_quotes group from the same broker the workers use (the same
// subscriber code, the same REDIS_PREFIX), so an event reaches it exactly as
// it reaches a worker: a POST quote, the outbox, SPUBLISH. On each event it
// prepares the broker frame's payload once (the bytes a worker writes, whose
// quote id the listeners match to the POST's time) and writes that one
// websocket.PreparedMessage to every socket it holds, in a plain loop
// (-bare-writers 1) or from that many goroutines each writing a contiguous
// share (0: GOMAXPROCS). It logs a "fan-out" line like a worker's (event
// received → last write), which cluster.sh reads the same way.

// bareInitial is the first frame of every socket (the listeners read one
// initial message on /ws/deliveries/new-quotes/).
var bareInitial = []byte(`{"type":"initial_quotes","data":[]}`)

type bareWS struct {
	writers int // goroutines per fan-out (≥ 1)
	log     *slog.Logger
	up      websocket.Upgrader

	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
	list  []*websocket.Conn // conns as a slice, rebuilt after a change
	dirty bool

	ready     atomic.Bool
	fannedOut func(sockets int) // tests: an event was written to every socket

	// writes orders the fan-outs, the ping walks and the initial frames
	// (one writer per socket at a time, as gorilla requires).
	writes   sync.Mutex
	pingNext int // the ping walk's place in the sockets (under writes)
}

// bareWSPing is the ping control frame, prepared once.
var bareWSPing = func() *websocket.PreparedMessage {
	pm, err := websocket.NewPreparedMessage(websocket.PingMessage, nil)
	if err != nil {
		panic(err)
	}
	return pm
}()

func newBareWS(writers int, log *slog.Logger) *bareWS {
	if writers <= 0 {
		writers = runtime.GOMAXPROCS(0)
	}
	return &bareWS{writers: writers, log: log, conns: map[*websocket.Conn]struct{}{},
		// The worker's upgrader buffers (pkg/ws handler.go); a prepared
		// message is written without the write buffer.
		up: websocket.Upgrader{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{}, CheckOrigin: func(*http.Request) bool { return true }}}
}

func (s *bareWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/readyz" {
		if !s.ready.Load() {
			http.Error(w, "not subscribed yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	var hdr http.Header
	if p := websocket.Subprotocols(r); len(p) > 0 {
		hdr = http.Header{"Sec-Websocket-Protocol": {p[0]}}
	}
	c, err := s.up.Upgrade(w, r, hdr)
	if err != nil {
		return // the upgrader answered
	}
	// The socket joins before its initial frame is written, as a worker's
	// does: a listener that has read its initial frame gets every event
	// published after that. The frame is written holding writes, so a
	// fan-out that already took the socket writes after it (one writer at a
	// time, the initial frame first).
	s.writes.Lock()
	s.add(c)
	err = c.WriteMessage(websocket.TextMessage, bareInitial)
	s.writes.Unlock()
	if err != nil {
		s.remove(c)
		_ = c.Close()
		return
	}
	// This goroutine is the socket's reader (gorilla answers pings and the
	// close frame) until the peer goes.
	for {
		if _, _, err := c.NextReader(); err != nil {
			break
		}
	}
	s.remove(c)
	_ = c.Close()
}

func (s *bareWS) add(c *websocket.Conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.dirty = true
	s.mu.Unlock()
}

func (s *bareWS) remove(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.dirty = true
	s.mu.Unlock()
}

// sockets is the sockets held now, as a slice (not to be modified).
func (s *bareWS) sockets() []*websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirty {
		s.list = make([]*websocket.Conn, 0, len(s.conns))
		for c := range s.conns {
			s.list = append(s.list, c)
		}
		s.dirty = false
	}
	return s.list
}

// Len is the number of sockets held.
func (s *bareWS) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Dispatch is the broker's handler: every new_quotes frame is written to
// every socket before it returns.
func (s *bareWS) Dispatch(msg realtime.Message) {
	if msg.Group != realtime.GroupNewQuotes {
		return
	}
	at := time.Now()
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, msg.Payload)
	if err != nil {
		s.log.Error("prepare frame", "err", err)
		return
	}
	conns := s.sockets()
	s.writes.Lock()
	s.writeAll(conns, pm)
	s.writes.Unlock()
	took := time.Since(at)
	if len(conns) == 0 {
		return // a bare server of a scenario not running now
	}
	s.log.Info("fan-out", "group", msg.Group, "resource", msg.Resource, "sockets", len(conns),
		"took_ms", float64(took.Microseconds())/1000, "writers", s.writers, "bytes", len(msg.Payload))
	if s.fannedOut != nil {
		s.fannedOut(len(conns))
	}
}

// writeAll writes pm to every socket: one loop, or s.writers goroutines
// each looping over a contiguous share. A socket whose write fails is
// closed (its reader then removes it).
func (s *bareWS) writeAll(conns []*websocket.Conn, pm *websocket.PreparedMessage) {
	loop := func(share []*websocket.Conn) {
		for _, c := range share {
			if err := c.WritePreparedMessage(pm); err != nil {
				_ = c.Close()
			}
		}
	}
	n := len(conns)
	k := min(s.writers, n)
	if k <= 1 {
		loop(conns)
		return
	}
	per := (n + k - 1) / k
	var wg sync.WaitGroup
	for i := 0; i < n; i += per {
		wg.Add(1)
		go func(share []*websocket.Conn) {
			defer wg.Done()
			loop(share)
		}(conns[i:min(i+per, n)])
	}
	wg.Wait()
}

// pingLoop pings every socket once per interval like a worker (pkg/ws:
// PingInterval, 25 s), spread over it: each second the next share of the
// sockets, each ping one prepared control frame written in a plain loop.
func (s *bareWS) pingLoop(ctx context.Context, interval time.Duration) {
	step := min(time.Second, interval)
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			conns := s.sockets()
			s.pingShare(conns, (len(conns)*int(step)+int(interval)-1)/int(interval))
		}
	}
}

// pingShare pings the next k sockets (wrapping around).
func (s *bareWS) pingShare(conns []*websocket.Conn, k int) {
	if len(conns) == 0 {
		return
	}
	s.writes.Lock()
	defer s.writes.Unlock()
	for range min(k, len(conns)) {
		if s.pingNext >= len(conns) {
			s.pingNext = 0
		}
		if err := conns[s.pingNext].WritePreparedMessage(bareWSPing); err != nil {
			_ = conns[s.pingNext].Close()
		}
		s.pingNext++
	}
}

// bareWSOptions are the flags of -serve-bare-ws.
type bareWSOptions struct {
	addr       string
	writers    int
	ping       time.Duration // 0: no pings
	redisURL   string
	clusterURL string
	prefix     string
}

func (o bareWSOptions) validate() error {
	if err := load.CheckLoopback("http://" + o.addr); err != nil {
		return err
	}
	switch {
	case o.writers < 0 || o.writers > 1024:
		return errors.New("-bare-writers must be 0..1024 (0: GOMAXPROCS)")
	case o.ping < 0 || (o.ping > 0 && o.ping < time.Second):
		return errors.New("-bare-ping must be 0 (no pings) or at least 1s")
	case (o.redisURL == "") == (o.clusterURL == ""):
		return errors.New("-serve-bare-ws needs exactly one of -redis-url and -redis-cluster-url (default: $REDIS_URL, $REDIS_CLUSTER_URL)")
	}
	return nil
}

// subscriber opens the broker subscriber the workers use for the same URL.
func (o bareWSOptions) subscriber(log *slog.Logger) (realtime.Subscriber, func() error, error) {
	if o.clusterURL != "" {
		c, err := realtime.OpenRedisCluster(o.clusterURL)
		if err != nil {
			return nil, nil, err
		}
		return realtime.NewClusterSubscriber(c, o.prefix, log), c.Close, nil
	}
	c, err := realtime.OpenRedis(o.redisURL)
	if err != nil {
		return nil, nil, err
	}
	return realtime.NewRedisSubscriber(c, o.prefix, log), c.Close, nil
}

// serveBareWS runs the bare fan-out server until -serve-for or a signal.
func serveBareWS(ctx context.Context, o bareWSOptions, serveFor time.Duration) error {
	if err := o.validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if lim, err := load.RaiseNoFile(load.NoFileTarget(maxSockets)); err != nil {
		log.Warn("descriptor limit", "limit", lim, "err", err)
	}
	sub, closeClient, err := o.subscriber(log)
	if err != nil {
		return err
	}
	defer closeClient()
	s := newBareWS(o.writers, log)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, serveFor)
	defer cancel()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close() // hijacked sockets are not the server's: the process ends with them
	}()
	runErr := make(chan error, 1)
	go func() { runErr <- sub.Run(ctx, s.Dispatch, nil) }()
	for {
		err := sub.Subscribe(ctx, realtime.GroupNewQuotes)
		if err == nil {
			break
		}
		log.Warn("subscribe new_quotes; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	s.ready.Store(true)
	if o.ping > 0 {
		go s.pingLoop(ctx, o.ping)
	}
	log.Info("bare fan-out server", "addr", ln.Addr().String(), "writers", s.writers, "ping", o.ping.String(), "serve_for", serveFor.String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve bare websockets: %w", err)
	}
	cancel()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}
