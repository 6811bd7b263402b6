package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/testutil"
)

// On SIGTERM (ctx done) Serve stops accepting, lets the in-flight request
// finish, and returns nil.
func TestServeDrainsInFlightRequests(t *testing.T) {
	cfg := config.Defaults()
	cfg.Port = testutil.FreePort(t)
	cfg.ShutdownSeconds = 10
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, cfg, testutil.Logger(), mux) }()

	base := "http://127.0.0.1:" + strconv.Itoa(cfg.Port)
	client := &http.Client{Timeout: 15 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := client.Get(base + "/fast")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		res, err := client.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- result{status: res.StatusCode, body: string(b)}
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("slow request never reached the handler")
	}
	cancel() // SIGTERM

	// New connections are refused while the in-flight request drains.
	refused := false
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(cfg.Port), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Fatal("still accepting connections after shutdown began")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the in-flight request finished: %v", err)
	default:
	}
	close(release)
	r := <-slow
	if r.err != nil || r.status != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after draining")
	}
}

// A port already taken is a clear error, not a hang.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := config.Defaults()
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	err = app.Serve(context.Background(), cfg, testutil.Logger(), http.NotFoundHandler())
	if err == nil {
		t.Fatal("Serve on a taken port succeeded")
	}
}

// With METRICS_PORT set, /metrics answers on that internal port only; the
// public port gives the API's JSON 404. Profiles (/debug/pprof/) likewise.
func TestServeMetricsOnInternalPort(t *testing.T) {
	cfg := config.Defaults()
	cfg.Port, cfg.MetricsPort = testutil.FreePort(t), testutil.FreePort(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "public metrics") })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, cfg, testutil.Logger(), mux) }()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(port int, path string) (int, string) {
		res, err := client.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get(cfg.MetricsPort, "/metrics"); code == 200 {
			break
		}
		if time.Now().After(end) {
			t.Fatal("metrics port never answered")
		}
	}
	if code, body := get(cfg.MetricsPort, "/metrics"); code != 200 || !strings.Contains(body, "# TYPE") {
		t.Fatalf("internal /metrics: %d %.100s", code, body)
	}
	if code, body := get(cfg.Port, "/metrics"); code != 404 || !strings.Contains(body, `"detail"`) {
		t.Fatalf("public /metrics: %d %s", code, body)
	}
	if code, _ := get(cfg.Port, "/healthz"); code != 200 {
		t.Fatalf("public /healthz: %d", code)
	}
	if code, _ := get(cfg.MetricsPort, "/healthz"); code != 404 {
		t.Fatalf("the internal port serves only /metrics, got %d for /healthz", code)
	}
	if code, body := get(cfg.MetricsPort, "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("internal /debug/pprof/: %d %.100s", code, body)
	}
	if code, _ := get(cfg.Port, "/debug/pprof/"); code != 404 {
		t.Fatalf("profiles must not be on the public port, got %d", code)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// On SIGTERM with a drain: /readyz answers 503 at once, every other answer
// still comes (on kept-alive connections too) with `Connection: close`, new
// connections are still accepted for the drain, and only then does the
// process stop accepting.
func TestServeDrainsBeforeShuttingDown(t *testing.T) {
	cfg := config.Defaults()
	cfg.Port = testutil.FreePort(t)
	cfg.ShutdownDrainSeconds = "1"
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) })
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, cfg, testutil.Logger(), mux) }()
	base := "http://127.0.0.1:" + strconv.Itoa(cfg.Port)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (*http.Response, error) {
		res, err := client.Get(base + path)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, err
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := get("/readyz"); err == nil && res.StatusCode == 200 {
			if res.Close {
				t.Fatal("Connection: close before any shutdown")
			}
			break
		}
		if time.Now().After(end) {
			t.Fatal("server never ready")
		}
	}
	cancel() // SIGTERM
	start := time.Now()
	var res *http.Response
	var err error
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if res, err = get("/readyz"); err == nil && res.StatusCode == 503 {
			break
		}
	}
	if err != nil || res.StatusCode != 503 || !res.Close {
		t.Fatalf("readyz after SIGTERM: %v %v", res, err)
	}
	if ready := time.Since(start); ready > 500*time.Millisecond {
		t.Fatalf("readyz took %s to turn 503", ready)
	}
	// Still serving, every answer closing its connection; new connections accepted.
	for i := range 5 {
		res, err := get("/fast")
		if err != nil || res.StatusCode != 200 || !res.Close {
			t.Fatalf("request %d during the drain: %v %v", i, res, err)
		}
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Skip("machine too slow to observe the 1 s drain")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned during the drain: %v", err)
	default:
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("Serve returned after %s, before the 1 s drain", took)
	}
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(cfg.Port), time.Second); err == nil {
		t.Fatal("still accepting after the drain and shutdown")
	}
}

// A connection accepted before the listener closed whose request comes only
// after (while the process shuts down) gets its answer — net/http's Shutdown
// alone reads such a request and drops it — and one that never sends
// anything is closed, not waited for until the timeout.
func TestServeAnswersConnectionsAcceptedBeforeListenerClosed(t *testing.T) {
	cfg := config.Defaults()
	cfg.Port = testutil.FreePort(t)
	cfg.ShutdownDrainSeconds = "0"
	cfg.ShutdownSeconds = 10
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- app.Serve(ctx, cfg, testutil.Logger(), mux) }()
	addr := "127.0.0.1:" + strconv.Itoa(cfg.Port)
	var late, silent net.Conn
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			late = c
			break
		}
		if time.Now().After(end) {
			t.Fatalf("server never accepted: %v", err)
		}
	}
	defer late.Close()
	silent, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond) // both accepted
	begin := time.Now()
	cancel() // SIGTERM, no drain: the listener closes at once
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(end) {
			t.Fatal("listener still open after SIGTERM")
		}
	}
	if _, err := io.WriteString(late, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = late.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(late)
	if !strings.HasPrefix(string(b), "HTTP/1.1 200") || !strings.Contains(string(b), "Connection: close") || !strings.HasSuffix(string(b), "ok") {
		t.Fatalf("request sent after the listener closed, on a connection accepted before: %q", b)
	}
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("silent connection: read %d, %v; want it closed", n, err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if took := time.Since(begin); took > 4*time.Second {
		t.Fatalf("Serve took %s: the silent connection was waited for", took)
	}
}
