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
)

// fakeServer speaks just enough of the API and the sockets for the tool's
// scenarios: it checks every token against the development key, answers
// quotes with an id and broadcasts quote_created to every socket.
type fakeServer struct {
	t      *testing.T
	iss    *auth.DevIssuer
	ids    atomic.Int64
	mu     sync.Mutex
	conns  map[*websocket.Conn]*sync.Mutex
	authed atomic.Int64
}

func (f *fakeServer) verify(tok string) bool {
	v := auth.NewVerifier(auth.VerifierConfig{Audience: "hermez-backend-api"})
	v.AddIssuer(auth.DevIssuerName, f.iss.Keyfunc)
	_, err := v.Verify(context.Background(), tok)
	return err == nil
}

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
		f.broadcast(fmt.Sprintf(`{"type":"quote_created","data":{"id":%q}}`, id))
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
	if len(protos) != 1 || !f.verify(protos[0]) {
		http.Error(w, `{"detail":"no"}`, http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{Subprotocols: protos, CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	mu := &sync.Mutex{}
	f.mu.Lock()
	f.conns[c] = mu
	f.mu.Unlock()
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"initial_quotes","quotes":[]}`))
	go func() {
		defer func() {
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
			c.Close()
		}()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
}

func (f *fakeServer) broadcast(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, mu := range f.conns {
		mu.Lock()
		_ = c.WriteMessage(websocket.TextMessage, []byte(msg))
		mu.Unlock()
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
	f := &fakeServer{t: t, iss: auth.NewDevIssuer(key, "hermez-backend-api"), conns: map[*websocket.Conn]*sync.Mutex{}}
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
