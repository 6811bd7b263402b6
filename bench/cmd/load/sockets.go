package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"hermez/bench/load"
)

// sock is one open socket whose reader keeps the receipt time of the last
// few quote_created events (bounded).
type sock struct {
	c    *websocket.Conn
	mu   sync.Mutex
	seen []receipt
	// initials counts initial_quotes after the one dial reads (a placed
	// socket's fresh snapshot); errs counts error frames.
	initials atomic.Int32
	errs     atomic.Int32
}

type receipt struct {
	id string
	at time.Time
}

const keepReceipts = 32

func (s *sock) read() {
	for {
		bp, err := readFrame(s.c)
		if err != nil {
			return
		}
		at := time.Now()
		msg := *bp
		id, ok := quoteCreatedID(msg)
		if !ok {
			switch {
			case isInitialQuotes(msg):
				s.initials.Add(1)
			case bytes.HasPrefix(msg, errorPrefix):
				s.errs.Add(1)
			}
		}
		frameBufs.Put(bp)
		if !ok {
			continue
		}
		s.mu.Lock()
		if len(s.seen) == keepReceipts {
			copy(s.seen, s.seen[1:])
			s.seen = s.seen[:keepReceipts-1]
		}
		s.seen = append(s.seen, receipt{id, at})
		s.mu.Unlock()
	}
}

// frameBufs holds the buffers frames are read into: one per frame being
// read, not one per socket, and none allocated per frame (ReadMessage's
// io.ReadAll allocates and grows one for every frame).
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readFrame reads the next data message of c into a pooled buffer (give it
// back with frameBufs.Put once done with the bytes).
func readFrame(c *websocket.Conn) (*[]byte, error) {
	_, r, err := c.NextReader()
	if err != nil {
		return nil, err
	}
	bp := frameBufs.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			*bp = b
			return bp, nil
		}
		if err != nil {
			*bp = b[:0]
			frameBufs.Put(bp)
			return nil, err
		}
	}
}

// wsReadBuffer is the read buffer of the tool's sockets: a whole
// quote_created frame (about 1–2 KB) comes in with one read syscall.
const wsReadBuffer = 4096

var (
	createdPrefix = []byte(`{"type":"quote_created","data":{"id":"`)
	createdType   = []byte(`"quote_created"`)
	initialPrefix = []byte(`{"type":"initial_quotes"`)
	initialType   = []byte(`"initial_quotes"`)
	errorPrefix   = []byte(`{"type":"error"`)
)

// isInitialQuotes tells whether msg is an initial_quotes snapshot (the
// server writes "type" first; any other layout is decoded).
func isInitialQuotes(msg []byte) bool {
	if bytes.HasPrefix(msg, initialPrefix) {
		return true
	}
	if !bytes.Contains(msg, initialType) || bytes.HasPrefix(msg, createdPrefix) {
		return false
	}
	var f struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(msg, &f) == nil && f.Type == "initial_quotes"
}

// quoteCreatedID returns the quote id of a quote_created frame. The server
// writes "type" then "data" with "id" first, so the fast path reads the id
// without decoding the whole quote (thousands of sockets share the cores
// with the server); any other layout falls back to JSON decoding.
func quoteCreatedID(msg []byte) (string, bool) {
	if !bytes.Contains(msg, createdType) {
		return "", false
	}
	if bytes.HasPrefix(msg, createdPrefix) {
		rest := msg[len(createdPrefix):]
		if end := bytes.IndexByte(rest, '"'); end > 0 {
			return string(rest[:end]), true
		}
	}
	var f struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal(msg, &f) != nil || f.Type != "quote_created" || f.Data.ID == "" {
		return "", false
	}
	return f.Data.ID, true
}

func (s *sock) receivedAt(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.seen {
		if r.id == id {
			return r.at, true
		}
	}
	return time.Time{}, false
}

// dial opens one socket with the bare JWT as the subprotocol (as the
// frontend does) and reads its initial message.
func (b *bench) dial(ctx context.Context, path, token string) (*websocket.Conn, error) {
	return b.dialTo(ctx, b.o.wsTarget, path, token)
}

// dialTo is dial to the socket base URL base.
func (b *bench) dialTo(ctx context.Context, base, path, token string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Subprotocols: []string{token},
		ReadBufferSize: wsReadBuffer, WriteBufferSize: 1024}
	c, res, err := d.DialContext(ctx, base+path, nil)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial %s: %w (status %d)", path, err, res.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	if expectsInitial(path) {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil {
			c.Close()
			return nil, fmt.Errorf("initial message on %s: %w", path, err)
		}
		_ = c.SetReadDeadline(time.Time{})
	}
	return c, nil
}

// openSockets opens n sockets on path with at most dialers handshakes in
// flight, bounded by -open-timeout; tokens are reused round-robin.
func (b *bench) openSockets(ctx context.Context, path string, n int, toks []string, dialLat *load.Recorder) ([]*sock, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.openTimeout)
	defer cancel()
	socks := make([]*sock, n)
	sem := make(chan struct{}, b.o.dialers)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			c, err := b.dial(ctx, path, toks[i%len(toks)])
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				dialLat.Error(err)
				return
			}
			dialLat.Add(time.Since(t0))
			s := &sock{c: c}
			socks[i] = s
			go s.read()
		}(i)
	}
	wg.Wait()
	open := socks[:0]
	for _, s := range socks {
		if s != nil {
			open = append(open, s)
		}
	}
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(b.out, "note: %d of %d sockets failed to open; first error: %v\n", f, n, firstErr.Load())
	}
	if len(open) == 0 {
		return nil, errors.New("no socket opened")
	}
	return open, nil
}

func closeAll(socks []*sock) {
	for _, s := range socks {
		_ = s.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = s.c.Close()
	}
}

type socketReport struct {
	Scenario     string  `json:"scenario"`
	Sockets      int     `json:"sockets"`
	Requested    int     `json:"requested"`
	OpenSeconds  float64 `json:"open_s"`
	DialP50ms    float64 `json:"dial_p50_ms"`
	DialP99ms    float64 `json:"dial_p99_ms"`
	RSSBefore    int64   `json:"rss_before_bytes,omitempty"`
	RSSAfter     int64   `json:"rss_after_bytes,omitempty"`
	RSSPerSocket float64 `json:"rss_per_socket_bytes,omitempty"`
	Events       int     `json:"events,omitempty"`
	Received     int64   `json:"received,omitempty"`
	Missing      int64   `json:"missing,omitempty"`
	P50ms        float64 `json:"p50_ms,omitempty"`
	P99ms        float64 `json:"p99_ms,omitempty"`
	Maxms        float64 `json:"max_ms,omitempty"`
	HTTPP50ms    float64 `json:"http_p50_ms,omitempty"`
	HTTPP99ms    float64 `json:"http_p99_ms,omitempty"`
	AfterRespP50 float64 `json:"after_response_p50_ms,omitempty"`
	AfterRespP99 float64 `json:"after_response_p99_ms,omitempty"`
	NoFileLimit  uint64  `json:"nofile_limit"`
}

func (b *bench) socketsPath(def string) string {
	if b.o.wsPath != "" {
		return b.o.wsPath
	}
	return def
}

// socketsIdle opens N sockets on new_quotes and reports the server's RSS growth per socket.
func (b *bench) socketsIdle(ctx context.Context) error {
	o := b.o
	lim, err := load.RaiseNoFile(load.NoFileTarget(o.sockets))
	if err != nil {
		fmt.Fprintln(b.out, "note:", err)
	}
	toks, err := b.tokens("socket", min(o.sockets, o.users))
	if err != nil {
		return err
	}
	var before int64
	if o.pid > 0 {
		if before, err = load.RSS(o.pid); err != nil {
			return err
		}
	}
	dialLat := load.NewRecorder(o.maxSamples)
	t0 := time.Now()
	socks, err := b.openSockets(ctx, b.socketsPath("/ws/deliveries/new-quotes/"), o.sockets, toks, dialLat)
	if err != nil {
		return err
	}
	defer closeAll(socks)
	openTook := time.Since(t0)
	sleep(ctx, o.settle)
	st := dialLat.Stats()
	r := socketReport{Scenario: o.scenario, Sockets: len(socks), Requested: o.sockets, OpenSeconds: openTook.Seconds(),
		DialP50ms: msf(st.P50), DialP99ms: msf(st.P99), NoFileLimit: lim}
	line := fmt.Sprintf("scenario=sockets-idle sockets=%d/%d open=%.1fs dial_p50=%s dial_p99=%s", len(socks), o.sockets, openTook.Seconds(), ms(st.P50), ms(st.P99))
	if o.pid > 0 {
		after, err := load.RSS(o.pid)
		if err != nil {
			return err
		}
		r.RSSBefore, r.RSSAfter = before, after
		r.RSSPerSocket = float64(after-before) / float64(len(socks))
		line += fmt.Sprintf(" rss_before=%.1fMiB rss_after=%.1fMiB rss_per_socket=%.1fKB",
			float64(before)/(1<<20), float64(after)/(1<<20), r.RSSPerSocket/1000)
	} else {
		line += " (pass -pid to measure the server's RSS)"
	}
	b.report(line, r)
	sleep(ctx, o.hold)
	return nil
}

// socketsFanout opens N sockets on new_quotes, then creates quotes over HTTP
// one at a time and measures, per socket, the time from the POST to receipt.
func (b *bench) socketsFanout(ctx context.Context) error {
	o := b.o
	lim, err := load.RaiseNoFile(load.NoFileTarget(o.sockets))
	if err != nil {
		fmt.Fprintln(b.out, "note:", err)
	}
	toks, err := b.tokens("socket", min(o.sockets, o.users))
	if err != nil {
		return err
	}
	client, err := b.token(o.userPrefix + "_fanout_client")
	if err != nil {
		return err
	}
	cat, err := b.firstCategory(ctx, client)
	if err != nil {
		return err
	}
	dialLat := load.NewRecorder(o.maxSamples)
	t0 := time.Now()
	socks, err := b.openSockets(ctx, b.socketsPath("/ws/deliveries/new-quotes/"), o.sockets, toks, dialLat)
	if err != nil {
		return err
	}
	defer closeAll(socks)
	openTook := time.Since(t0)
	sleep(ctx, o.settle)
	lat := load.NewRecorder(o.maxSamples)
	httpLat := load.NewRecorder(o.events)
	var missing int64
	for ev := 0; ev < o.events && ctx.Err() == nil; ev++ {
		if ev > 0 {
			sleep(ctx, time.Second)
		}
		start := time.Now()
		body, err := b.client.do(ctx, "POST", o.target+"/deliveries/api/quotes/", client, quoteBody(cat, ev), 201, true)
		if err != nil {
			return err
		}
		httpLat.Add(time.Since(start))
		qid, err := id(body)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(o.eventWait)
		pending := socks
		for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			rest := pending[:0:0]
			for _, s := range pending {
				if at, ok := s.receivedAt(qid); ok {
					lat.Add(at.Sub(start))
				} else {
					rest = append(rest, s)
				}
			}
			pending = rest
			if len(pending) > 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
		missing += int64(len(pending))
	}
	st, hst, dst := lat.Stats(), httpLat.Stats(), dialLat.Stats()
	r := socketReport{Scenario: o.scenario, Sockets: len(socks), Requested: o.sockets, OpenSeconds: openTook.Seconds(),
		DialP50ms: msf(dst.P50), DialP99ms: msf(dst.P99), Events: o.events, Received: st.Count, Missing: missing,
		P50ms: msf(st.P50), P99ms: msf(st.P99), Maxms: msf(st.Max), HTTPP50ms: msf(hst.P50), HTTPP99ms: msf(hst.P99), NoFileLimit: lim}
	b.report(fmt.Sprintf("scenario=sockets-fanout sockets=%d events=%d received=%d missing=%d p50=%s p99=%s max=%s (from POST sent; POST p50=%s)",
		len(socks), o.events, st.Count, missing, ms(st.P50), ms(st.P99), ms(st.Max), ms(hst.P50)), r)
	return nil
}

// publishLatency keeps one socket on the client's own quotes group and
// creates quotes at idle, measuring POST sent → quote_created received (an
// upper bound of publish → receipt) and POST answered → received.
func (b *bench) publishLatency(ctx context.Context) error {
	o := b.o
	client, err := b.token(o.userPrefix + "_publish_client")
	if err != nil {
		return err
	}
	cat, err := b.firstCategory(ctx, client)
	if err != nil {
		return err
	}
	c, err := b.dial(ctx, b.socketsPath("/ws/deliveries/users/me/quotes/"), client)
	if err != nil {
		return err
	}
	s := &sock{c: c}
	go s.read()
	defer closeAll([]*sock{s})
	e2e, httpLat, after := load.NewRecorder(o.events), load.NewRecorder(o.events), load.NewRecorder(o.events)
	var missing int64
	for i := 0; i < o.events && ctx.Err() == nil; i++ {
		sleep(ctx, o.interval)
		start := time.Now()
		body, err := b.client.do(ctx, "POST", o.target+"/deliveries/api/quotes/", client, quoteBody(cat, i), 201, true)
		if err != nil {
			return err
		}
		answered := time.Now()
		httpLat.Add(answered.Sub(start))
		qid, err := id(body)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if at, ok := s.receivedAt(qid); ok {
				e2e.Add(at.Sub(start))
				if d := at.Sub(answered); d > 0 {
					after.Add(d)
				} else {
					after.Add(0) // the event arrived before the HTTP answer
				}
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				missing++
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	st, hst, ast := e2e.Stats(), httpLat.Stats(), after.Stats()
	r := socketReport{Scenario: o.scenario, Sockets: 1, Requested: 1, Events: o.events, Received: st.Count, Missing: missing,
		P50ms: msf(st.P50), P99ms: msf(st.P99), Maxms: msf(st.Max), HTTPP50ms: msf(hst.P50), HTTPP99ms: msf(hst.P99),
		AfterRespP50: msf(ast.P50), AfterRespP99: msf(ast.P99)}
	b.report(fmt.Sprintf("scenario=publish-latency events=%d received=%d missing=%d post_to_receipt p50=%s p99=%s max=%s | post p50=%s p99=%s | answer_to_receipt p50=%s p99=%s",
		o.events, st.Count, missing, ms(st.P50), ms(st.P99), ms(st.Max), ms(hst.P50), ms(hst.P99), ms(ast.P50), ms(ast.P99)), r)
	return nil
}

// deliveryPath is /ws/deliveries/{delivery_id}/, the one socket with no initial message.
var deliveryPath = regexp.MustCompile(`^/ws/deliveries/[0-9a-fA-F-]{36}/?$`)

func expectsInitial(path string) bool { return !deliveryPath.MatchString(path) }

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
