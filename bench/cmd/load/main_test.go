package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"hermez/pkg/auth"
	"hermez/pkg/geo"
)

// fakeServer speaks just enough of the API and the sockets for the tool's
// scenarios: it checks every token against the development key, answers
// quotes with an id and broadcasts quote_created to every socket.
//
// Place, as the worker does it (place.md §4): a socket's `location` frame
// places its user (every socket of theirs gets a fresh initial_quotes); a
// quote with a pickup goes to the unplaced sockets and to those whose user is
// within fakeRadiusKm of it (to every socket when leak is set: a broken
// server), a quote without one to every socket.
type fakeServer struct {
	t      *testing.T
	iss    *auth.DevIssuer
	ids    atomic.Int64
	mu     sync.Mutex
	conns  map[*websocket.Conn]*fakeConn
	locs   map[string]geo.Point // under mu
	authed atomic.Int64
	leak   atomic.Bool
}

type fakeConn struct {
	mu   sync.Mutex // one writer at a time
	user string
}

const fakeRadiusKm = 10

// subject is the verified token's user ("" when it does not verify).
func (f *fakeServer) subject(tok string) string {
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api"})
	v.AddIssuer(auth.DevIssuerName, f.iss.Keyfunc)
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		return ""
	}
	return c.Subject
}

func (f *fakeServer) verify(tok string) bool { return f.subject(tok) != "" }

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/ws/") {
		f.socket(w, r)
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !f.verify(tok) {
		http.Error(w, `{"detail":"no"}`, http.StatusUnauthorized)
		return
	}
	f.authed.Add(1)
	w.Header().Set("Content-Type", "application/json")
	p := r.URL.Path
	switch {
	case r.Method == "GET" && p == "/user/api/me/":
		fmt.Fprint(w, `[{"userid":"x","current_vehicle":null}]`)
	case r.Method == "GET" && p == "/deliveries/api/categories/":
		fmt.Fprint(w, `[{"id":"7da29e50-50b9-4426-bbe9-712211b5c505","name":"Paquetes"}]`)
	case r.Method == "POST" && p == "/deliveries/api/quotes/":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["category_id"] == nil || body["pickup_address"] == body["delivery_address"] {
			http.Error(w, `{"non_field_errors":["bad"]}`, 400)
			return
		}
		id := fmt.Sprintf("q%d", f.ids.Add(1))
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"id":%q}`, id)
		msg := fmt.Sprintf(`{"type":"quote_created","data":{"id":%q}}`, id)
		lat, ok1 := body["pickup_latitude"].(float64)
		lng, ok2 := body["pickup_longitude"].(float64)
		if ok1 && ok2 {
			f.broadcastNear(msg, geo.Point{Lat: lat, Lng: lng})
		} else {
			f.broadcast(msg)
		}
	case r.Method == "POST" && strings.HasSuffix(p, "/offers/"):
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"id":"o%d"}`, f.ids.Add(1))
	case r.Method == "POST" && strings.HasSuffix(p, "/accept/"):
		w.WriteHeader(201)
		fmt.Fprint(w, `{"message":"ok","quote_deleted":true}`)
	default:
		http.Error(w, `{"detail":"No encontrado."}`, 404)
	}
}

func (f *fakeServer) socket(w http.ResponseWriter, r *http.Request) {
	protos := websocket.Subprotocols(r)
	user := ""
	if len(protos) == 1 {
		user = f.subject(protos[0])
	}
	if user == "" {
		http.Error(w, `{"detail":"no"}`, http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{Subprotocols: protos, CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	// The socket joins before its snapshot is written, holding its writer
	// lock while it writes it: an event waits for the snapshot (never before
	// it, never two writers), and no event is missed by a socket whose client
	// has read the snapshot but whose join has not run yet (the tool posts its
	// first quote once every socket has its snapshot, after -settle 10ms).
	fc := &fakeConn{user: user}
	fc.mu.Lock()
	f.mu.Lock()
	f.conns[c] = fc
	f.mu.Unlock()
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"initial_quotes","quotes":[]}`))
	fc.mu.Unlock()
	go func() {
		defer func() {
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
			c.Close()
		}()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			var loc struct {
				Type      string  `json:"type"`
				Latitude  float64 `json:"latitude"`
				Longitude float64 `json:"longitude"`
			}
			if json.Unmarshal(msg, &loc) == nil && loc.Type == "location" {
				f.place(user, geo.Point{Lat: loc.Latitude, Lng: loc.Longitude})
			}
		}
	}()
}

// place records user's location; each of their sockets gets a fresh snapshot.
func (f *fakeServer) place(user string, p geo.Point) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.locs[user] = p
	for c, fc := range f.conns {
		if fc.user == user {
			fc.mu.Lock()
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"initial_quotes","quotes":[]}`))
			fc.mu.Unlock()
		}
	}
}

func (f *fakeServer) broadcastNear(msg string, pickup geo.Point) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, fc := range f.conns {
		if loc, placed := f.locs[fc.user]; placed && !f.leak.Load() && geo.DistanceKm(loc, pickup) > fakeRadiusKm {
			continue
		}
		fc.mu.Lock()
		_ = c.WriteMessage(websocket.TextMessage, []byte(msg))
		fc.mu.Unlock()
	}
}

func (f *fakeServer) broadcast(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, fc := range f.conns {
		fc.mu.Lock()
		_ = c.WriteMessage(websocket.TextMessage, []byte(msg))
		fc.mu.Unlock()
	}
}

func setup(t *testing.T) (string, string, *fakeServer) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dev-jwt.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, iss: auth.NewDevIssuer(key, "hermez-backend-api"), conns: map[*websocket.Conn]*fakeConn{}, locs: map[string]geo.Point{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL, path, f
}

func runTool(t *testing.T, args ...string) string {
	t.Helper()
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	defineFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	b, err := newBench(o, &out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.run(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	return out.String()
}

func TestScenariosAgainstAFakeServer(t *testing.T) {
	url, key, f := setup(t)
	common := []string{"-target", url, "-dev-key", key, "-json"}

	out := runTool(t, append(common, "-scenario", "me", "-c", "4", "-duration", "300ms", "-warmup", "0", "-runs", "2", "-pause", "10ms")...)
	if !strings.Contains(out, "MEDIAN scenario=me") || !strings.Contains(out, " errors=0 ") || strings.Count(out, "scenario=me mode=saturation c=4 run=") != 2 {
		t.Fatalf("me: %s", out)
	}
	var rep httpReport
	line := strings.Split(out, "\n")[1]
	if err := json.Unmarshal([]byte(line), &rep); err != nil || rep.Ops == 0 || rep.ReqPerSec <= 0 || rep.P99ms < rep.P50ms {
		t.Fatalf("json line %q: %+v %v", line, rep, err)
	}

	out = runTool(t, append(common, "-scenario", "me", "-rate", "200", "-c", "4", "-duration", "500ms", "-warmup", "0")...)
	if !strings.Contains(out, "mode=fixed-rate") || !strings.Contains(out, "errors=0") {
		t.Fatalf("fixed rate: %s", out)
	}
	// Open loop: operation i is due at i/200 s, so 0.5 s schedules exactly 100
	// and never more; a loaded machine may start the last few after the run
	// ended (then they are not counted), hence no exact count.
	var fixed httpReport
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[1]), &fixed); err != nil || fixed.Ops > 100 || fixed.Ops < 50 {
		t.Fatalf("200/s for 0.5 s schedules 100 operations (at most, and most of them run): %+v %v\n%s", fixed, err, out)
	}

	before := f.ids.Load()
	out = runTool(t, append(common, "-scenario", "accept", "-c", "2", "-duration", "300ms", "-warmup", "0")...)
	if !strings.Contains(out, "errors=0") || f.ids.Load() == before {
		t.Fatalf("accept: %s", out)
	}

	out = runTool(t, append(common, "-scenario", "sockets-idle", "-sockets", "40", "-users", "3", "-settle", "10ms", "-pid", fmt.Sprint(os.Getpid()))...)
	if !strings.Contains(out, "sockets=40/40") || !strings.Contains(out, "rss_per_socket=") {
		t.Fatalf("sockets-idle: %s", out)
	}

	out = runTool(t, append(common, "-scenario", "sockets-fanout", "-sockets", "30", "-users", "3", "-settle", "10ms", "-events", "2")...)
	if !strings.Contains(out, "received=60 missing=0") {
		t.Fatalf("fanout: %s", out)
	}

	out = runTool(t, append(common, "-scenario", "publish-latency", "-events", "5", "-interval", "1ms")...)
	if !strings.Contains(out, "events=5 received=5 missing=0") {
		t.Fatalf("publish: %s", out)
	}
}

func TestRefusesNonLoopbackAndBadBounds(t *testing.T) {
	_, key, _ := setup(t)
	for _, args := range [][]string{
		{"-target", "http://192.168.0.10:8000"},
		{"-target", "http://127.0.0.1:8000", "-ws-target", "ws://example.com"},
		{"-runs", "50"},
		{"-sockets", "1000000"},
		{"-c", "0"},
		{"-scenario", "placed-fanout"}, // -interval 50ms: too short a window
		{"-scenario", "placed-fanout", "-interval", "1s", "-towns", "0"},
		{"-scenario", "placed-fanout", "-interval", "1s", "-towns", "1001"},
		{"-scenario", "placed-fanout", "-interval", "1s", "-radius-km", "23"}, // towns 50 km apart overlap
		{"-scenario", "placed-fanout", "-interval", "1s", "-radius-km", "0"},
		{"-scenario", "placed-fanout", "-interval", "1s", "-events", "100"},
		{"-scenario", "placed-fanout", "-interval", "1s", "-relocate", "1s"},
		{"-scenario", "placed-fanout", "-interval", "1s", "-ws-targets", "ws://127.0.0.1:8001,ws://example.com"},
		{"-scenario", "placed-fanout", "-interval", "1s", "-pids", "12,x"},
	} {
		var o options
		fs := flag.NewFlagSet("load", flag.ContinueOnError)
		defineFlags(fs, &o)
		if err := fs.Parse(append([]string{"-dev-key", key}, args...)); err != nil {
			t.Fatal(err)
		}
		if _, err := newBench(o, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestExpectsInitial(t *testing.T) {
	for p, want := range map[string]bool{
		"/ws/deliveries/new-quotes/":                                        true,
		"/ws/deliveries/users/me/quotes/":                                   true,
		"/ws/deliveries/3a580685-0b84-4e90-b54a-619bc99038c7/":              false,
		"/ws/deliveries/person/3a580685-0b84-4e90-b54a-619bc99038c7/stats/": true,
	} {
		if expectsInitial(p) != want {
			t.Errorf("%s: %v", p, !want)
		}
	}
}

func TestQuoteCreatedID(t *testing.T) {
	cases := map[string]string{
		`{"type":"quote_created","data":{"id":"3f5750d5-c077-4e65-a1ed-629046e8128b","client":{}}}`:    "3f5750d5-c077-4e65-a1ed-629046e8128b",
		`{"data": {"client": {}, "id": "abc"}, "type": "quote_created"}`:                               "abc",
		`{"type":"quote_updated","data":{"id":"x"}}`:                                                   "",
		`{"type":"initial_quotes","quotes":[{"id":"x","description":"quote_created"}]}`:                "",
		`{"type":"offer_made","data":{"id":"o","quote":{"id":"q","description":"\"quote_created\""}}}`: "",
	}
	for msg, want := range cases {
		got, ok := quoteCreatedID([]byte(msg))
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", msg, got, ok, want)
		}
	}
}

// placedLine is the JSON report of a placed-fanout run.
func placedLine(t *testing.T, out string) placedReport {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `{"scenario":"placed-fanout"`) {
			var r placedReport
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	t.Fatalf("no JSON report in\n%s", out)
	return placedReport{}
}

func TestPlacedFanoutAgainstAFakeServer(t *testing.T) {
	url, key, f := setup(t)
	args := []string{"-target", url, "-dev-key", key, "-json", "-scenario", "placed-fanout", "-sockets", "60", "-towns", "4",
		"-interval", "100ms", "-settle", "10ms", "-pid", fmt.Sprint(os.Getpid())}

	// Two socket targets (the same server): the sockets alternate between them.
	ws := "ws" + strings.TrimPrefix(url, "http")
	r := placedLine(t, runTool(t, append(args, "-events", "4", "-ws-targets", ws+","+ws+"/")...))
	// 60 users (one per socket) over 4 towns: 15 in each; 2 placed quotes
	// (15 sockets each), 2 without a pickup (60 each), 2 idle windows.
	p, u := r.PlacedQ, r.UnplacedQ
	if r.Sockets != 60 || r.Users != 60 || r.Placed != 60 || r.ErrorFrames != 0 {
		t.Fatalf("placement: %+v", r)
	}
	if p.Quotes != 2 || p.Expected != 30 || p.Received != 30 || p.Missing != 0 || p.Outside != 0 || p.Share != 0.25 {
		t.Fatalf("placed quotes: %+v", p)
	}
	if u.Quotes != 2 || u.Expected != 120 || u.Received != 120 || u.Missing != 0 || r.Idle.Quotes != 2 {
		t.Fatalf("unplaced quotes: %+v idle %+v", u, r.Idle)
	}
	if p.WindowS <= 0 || u.WindowS <= 0 || r.Idle.WindowS <= 0 || p.P99ms < p.P50ms {
		t.Fatalf("windows and latencies: %+v %+v %+v", p, u, r.Idle)
	}

	// A server that sends placed quotes to everyone is caught: one placed
	// quote reaches the 45 sockets of the other three towns.
	f.leak.Store(true)
	r = placedLine(t, runTool(t, append(args, "-events", "2")...))
	if r.PlacedQ.Outside != 45 || r.PlacedQ.Received != 15 || r.PlacedQ.Missing != 0 {
		t.Fatalf("leaking server: %+v", r.PlacedQ)
	}
}

func TestTownGrid(t *testing.T) {
	p := placedOptions{towns: 100, radiusKm: 10, townKm: 50}
	for a := 0; a < p.towns; a++ {
		for b := a + 1; b < p.towns; b++ {
			if d := geo.DistanceKm(townCentre(a, p), townCentre(b, p)); d < p.townKm-0.5 {
				t.Fatalf("towns %d and %d are %.2f km apart", a, b, d)
			}
		}
	}
	for u := range 5000 {
		pt, c := userPoint(u, p), townCentre(u%p.towns, p)
		if d := geo.DistanceKm(pt, c); d > spreadKm+0.01 {
			t.Fatalf("user %d is %.2f km from its town", u, d)
		}
		// in its own town's area, and in no other's
		for other := 0; other < p.towns; other++ {
			in := geo.DistanceKm(pt, townCentre(other, p)) <= p.radiusKm
			if in != (other == u%p.towns) {
				t.Fatalf("user %d: in the area of town %d = %v", u, other, in)
			}
		}
	}
	if c := townCentre(0, p); c.Lat < -4.3 || c.Lat > 13 || c.Lng < -79 || c.Lng > -66 {
		t.Fatalf("town 0 at %+v is not around Colombia", c)
	}
}
