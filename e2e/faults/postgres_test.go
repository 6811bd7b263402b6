package faults

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"hermez/pkg/testutil"
)

// pgProxy is a TCP proxy to the shared PostgreSQL that the test can cut
// (every connection dropped, new ones closed at once) and restore: a
// PostgreSQL outage for the processes, with the shared server untouched. The
// listener stays open while cut, so no other process takes its port.
type pgProxy struct {
	target string
	port   int
	ln     net.Listener
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{target: target, port: ln.Addr().(*net.TCPAddr).Port, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// cut drops every proxied connection and closes new ones at once.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
}

// restore lets connections through again.
func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// PostgreSQL unreachable for 3 s (through a proxy the test cuts): web answers
// fast 5xx (never hangs), readyz 503 on web and worker; once it is back,
// requests succeed again at once and events flow to the sockets.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	needPostgres(t)
	redisURL, prefix := testutil.Redis(t)
	s := newSystem(t, redisURL, prefix)
	u, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, u.Host)
	u.Host = fmt.Sprintf("127.0.0.1:%d", proxy.port)
	s.env = append(s.env, "DATABASE_URL="+u.String()) // the last one wins
	w := s.startWorker("worker")
	web := s.startWeb(0)
	a := newAPI(web.url)
	client := s.token("user_pg_client")
	quote := s.createQuote(a, client, 5000)
	ws := []*watcher{watch([]string{w.url}, "/ws/deliveries/quotes/"+quote+"/", client)}
	defer ws[0].close()
	if n := settle(ws, quote, 5000, 10*time.Second); n != 0 {
		t.Fatal("socket not up")
	}

	proxy.cut()
	cut := time.Now()
	var slowest time.Duration
	errors5xx, answered := 0, 0
	for time.Since(cut) < 3*time.Second {
		start := time.Now()
		code, _, err := a.do("PATCH", "/deliveries/api/quotes/"+quote+"/", client, map[string]any{"client_price": 5001})
		slowest = max(slowest, time.Since(start))
		if err != nil {
			t.Fatalf("request during the outage got no answer: %v", err)
		}
		answered++
		if code >= 500 {
			errors5xx++
		}
		time.Sleep(50 * time.Millisecond)
	}
	web.waitStatus(t, "/readyz", 503, 3*time.Second)
	w.waitStatus(t, "/readyz", 503, 3*time.Second)
	proxy.restore()
	back := time.Now()
	var recovered time.Duration
	for {
		code, _, err := a.do("PATCH", "/deliveries/api/quotes/"+quote+"/", client, map[string]any{"client_price": 5002})
		if err == nil && code == 200 {
			recovered = time.Since(back)
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatalf("no recovery 10 s after PostgreSQL came back: %d %v", code, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := settle(ws, quote, 5002, 10*time.Second); n != 0 {
		t.Fatalf("socket shows %d after the outage, database 5002", ws[0].price(quote))
	}
	web.waitStatus(t, "/readyz", 200, 5*time.Second)
	w.waitStatus(t, "/readyz", 200, 5*time.Second)
	figure(t, "postgres-outage", "PostgreSQL cut 3 s: %d writes answered (%d with 5xx), slowest answer %s; first write accepted %s after it came back; socket on the new state",
		answered, errors5xx, slowest.Round(time.Millisecond), recovered.Round(time.Millisecond))
	if errors5xx == 0 || slowest > 2*time.Second {
		t.Fatalf("outage answers: %d 5xx, slowest %s", errors5xx, slowest)
	}
}
