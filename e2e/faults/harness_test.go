// Package faults breaks a running system the way an operator would and checks
// what docs/realtime.md's "Guarantees" and docs/api.md's "Operations" promise: real
// processes (web and two workers, built from cmd/ once) on a real PostgreSQL
// database of their own and Redis — its own redis-server on a free port for
// the cases that kill, pause or restart it — with a test JWKS standing in for
// Clerk. PostgreSQL outages go through a TCP proxy the test cuts (the shared
// server is never touched). Each case logs its figures (`FIGURE` lines, copied
// into BENCHMARKS.md "Faults").
//
// Needs TEST_DATABASE_URL (PostgreSQL: the processes share one database);
// cases that own a Redis need redis-server on the PATH. Either missing: skip.
package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hermez/pkg/testutil"
)

func needPostgres(t *testing.T) {
	t.Helper()
	if !testutil.IsPostgres() {
		t.Skip("fault suite: needs PostgreSQL (TEST_DATABASE_URL); web and workers share one database")
	}
}

func needRedisServer(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("fault suite: redis-server not on the PATH")
	}
	return bin
}

// figure logs one measured figure in a greppable form.
func figure(t *testing.T, name string, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s: %s", name, fmt.Sprintf(format, args...))
}

// proc is one running binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	port int
	url  string
	out  *testutil.SyncBuffer
	done chan error
}

// spawn starts bin serving on port (0: a free one) without waiting.
func spawn(t *testing.T, name, bin, dir string, env []string, port int) *proc {
	t.Helper()
	if port == 0 {
		port = testutil.FreePort(t)
	}
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...), fmt.Sprintf("PORT=%d", port))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, port: port, url: fmt.Sprintf("http://127.0.0.1:%d", port), out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s output (last 4 KB) ---\n%s", name, tail(out.String(), 4096))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (p *proc) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// waitStatus polls path until it answers want.
func (p *proc) waitStatus(t *testing.T, path string, want int, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second} // readyz waits up to 2 s for a check
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		res, err := client.Get(p.url + path)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		if p.exited() {
			err := <-p.done
			p.done <- err
			t.Fatalf("%s exited (%v):\n%s", p.name, err, tail(p.out.String(), 4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s %s not %d within %s:\n%s", p.name, path, want, within, tail(p.out.String(), 4096))
}

func (p *proc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// kill9 kills the process and waits for it.
func (p *proc) kill9() {
	p.signal(syscall.SIGKILL)
	err := <-p.done
	p.done <- err
}

// wait waits for the process to exit.
func (p *proc) wait(within time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		return fmt.Errorf("%s did not exit within %s", p.name, within)
	}
}

// redisServer is a redis-server of the test's own, on a fixed free port so it
// can be killed and started again at the same address.
type redisServer struct {
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func newRedisServer(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{bin: needRedisServer(t), port: testutil.FreePort(t), dir: t.TempDir()}
	r.start(t)
	t.Cleanup(func() { r.kill() })
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	r.done = done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
	}
	t.Fatal("redis-server did not answer")
}

// kill is kill -9.
func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
	}
}

func (r *redisServer) pause()  { _ = r.cmd.Process.Signal(syscall.SIGSTOP) }
func (r *redisServer) resume() { _ = r.cmd.Process.Signal(syscall.SIGCONT) }

// system is one database, one Redis, a Clerk stand-in and the processes on them.
type system struct {
	t        *testing.T
	webBin   string
	workBin  string
	dir      string
	dbURL    string
	jwks     *testutil.JWKS
	env      []string
	category string
}

// newSystem prepares a database (cloned from the migrated, seeded template)
// and the environment of every process; redisURL/prefix name the Redis.
func newSystem(t *testing.T, redisURL, prefix string, extra ...string) *system {
	t.Helper()
	needPostgres(t)
	web, worker := testutil.Binaries(t)
	s := &system{t: t, webBin: web, workBin: worker, dir: t.TempDir(), dbURL: testutil.NewDatabaseURL(t), jwks: testutil.NewJWKS(t)}
	s.env = append([]string{
		"DATABASE_URL=" + s.dbURL, "REDIS_URL=" + redisURL, "REDIS_PREFIX=" + prefix,
		"CLERK_FRONTEND_API_URL=" + s.jwks.URL, "SECRET_KEY=faults-" + strings.Repeat("s", 40), "DEBUG=false",
		"SHUTDOWN_DRAIN_SECONDS=1", "SHUTDOWN_TIMEOUT_SECONDS=5",
		// The shared test server has 100 connections for every package and helper.
		"DATABASE_MAX_CONNECTIONS=4",
		// One test user opens many sockets; nothing here measures the throttles.
		"WS_MAX_SOCKETS_PER_USER=0", "THROTTLE_USER_WRITES=0", "THROTTLE_QUOTES=0", "THROTTLE_ANON=0",
	}, extra...)
	return s
}

func (s *system) startWeb(port int, extra ...string) *proc {
	s.t.Helper()
	return s.startReady("web", s.webBin, port, extra)
}

func (s *system) startWorker(name string, extra ...string) *proc {
	s.t.Helper()
	return s.startReady(name, s.workBin, 0, extra)
}

// startReady starts a process and waits for readyz 200. A free port can be
// taken by another process (other test packages run meanwhile) between
// freePort and the child's listen: then it tries another one.
func (s *system) startReady(name, bin string, port int, extra []string) *proc {
	s.t.Helper()
	env := append(append([]string{}, s.env...), extra...)
	for attempt := 1; ; attempt++ {
		p := spawn(s.t, name, bin, s.dir, env, port)
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !p.exited(); time.Sleep(20 * time.Millisecond) {
			if res, err := http.Get(p.url + "/healthz"); err == nil {
				res.Body.Close()
				break
			}
		}
		if p.exited() && strings.Contains(p.out.String(), "address already in use") && port == 0 && attempt < 3 {
			continue
		}
		p.waitStatus(s.t, "/readyz", 200, 30*time.Second)
		return p
	}
}

func (s *system) token(sub string) string { return s.jwks.Token(s.t, sub) }

// users are the tokens of n users (prefix_00, prefix_01, …) whose rows
// exist: each has asked web for its profile once.
func (s *system) users(a *api, prefix string, n int) []string {
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = s.token(fmt.Sprintf("%s_%02d", prefix, i))
		a.must(s.t, "GET", "/user/api/me/", tokens[i], nil, 200)
	}
	return tokens
}

// api is a JSON client of the web process.
type api struct {
	base   string
	client *http.Client
}

func newAPI(base string) *api {
	return &api{base: base, client: &http.Client{Timeout: 15 * time.Second}}
}

// do sends a JSON request and decodes a JSON object answer.
func (a *api) do(method, path, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, err
	}
	var m map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &m); err != nil {
			return res.StatusCode, nil, err
		}
	}
	return res.StatusCode, m, nil
}

func (a *api) must(t *testing.T, method, path, token string, body any, want int) map[string]any {
	t.Helper()
	code, m, err := a.do(method, path, token, body)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %v %v, want %d", method, path, code, m, err, want)
	}
	return m
}

// list GETs a JSON array of objects and wants 200.
func (a *api) list(t *testing.T, path, token string) []map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	return out
}

// category is the id of a seeded category.
func (s *system) categoryID(a *api, token string) string {
	s.t.Helper()
	if s.category != "" {
		return s.category
	}
	cats := a.list(s.t, "/deliveries/api/categories/", token)
	if len(cats) == 0 {
		s.t.Fatal("no category seeded")
	}
	s.category = cats[0]["id"].(string)
	return s.category
}

// createQuote creates a pending quote of the token's user at price.
func (s *system) createQuote(a *api, token string, price int) string {
	s.t.Helper()
	m := a.must(s.t, "POST", "/deliveries/api/quotes/", token, map[string]any{
		"category_id": s.categoryID(a, token), "client_price": price, "payment_method": "efectivo",
		"pickup_address": "Carrera 33 # 42-18, Bucaramanga", "delivery_address": "Calle 56 # 17A-23, Bucaramanga",
	}, 201)
	return m["id"].(string)
}

// priceOf reads client_price ("1234.00") as a whole number; -1 when absent.
func priceOf(q map[string]any) int64 {
	s, _ := q["client_price"].(string)
	whole, _, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// dbPrice is the quote's price as the API reads it now.
func dbPrice(t *testing.T, a *api, token, quoteID string) int64 {
	t.Helper()
	m := a.must(t, "GET", "/deliveries/api/quotes/"+quoteID+"/", token, nil, 200)
	return priceOf(m)
}
