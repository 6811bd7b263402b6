package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hermez/pkg/testutil"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	_ "github.com/jackc/pgx/v5/stdlib"
)

var binDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "hermez-web-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// binary builds ./cmd/<name> once per test process.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	out := filepath.Join(binDir, name)
	cmd := exec.Command(goTool, "build", "-o", out, "hermez/cmd/"+name)
	cmd.Dir = "."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/%s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// emptyEnv is an environment with nothing of Hermez in it.
func emptyEnv(home string, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}, extra...)
}

// syncBuffer collects a process's output safely.
// process is a started binary.
type process struct {
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan error
}

func start(t *testing.T, bin, dir string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitHealthy polls url until 200 (bounded: 60 s), failing if the process exits.
func waitHealthy(t *testing.T, p *process, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("process exited before serving: %v\n%s", err, p.out)
		default:
		}
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not healthy within 60 s\n%s", url, p.out)
}

// stop sends SIGTERM and requires exit status 0 within the drain deadline.
func stop(t *testing.T, p *process, within time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.out)
		}
	case <-time.After(within):
		t.Fatalf("still running %s after SIGTERM\n%s", within, p.out)
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func runOnce(t *testing.T, bin, dir string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// The whole single-process mode on a bare machine: nothing set, a temp dir.
func TestServeWithEmptyEnvironment(t *testing.T) {
	bin := binary(t, "web")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	p := start(t, bin, dir, emptyEnv(dir, "PORT="+strconv.Itoa(port)))
	waitHealthy(t, p, base+"/healthz")

	if _, err := os.Stat(filepath.Join(dir, "hermez.db")); err != nil {
		t.Fatalf("local mode did not create hermez.db: %v", err)
	}
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}
	if code, _ := get(t, base+"/metrics", ""); code != 200 {
		t.Fatalf("local mode /metrics on PORT: %d", code)
	}
	// A development token minted by the subcommand is accepted by the server.
	tok, stderr, err := runOnce(t, bin, dir, emptyEnv(dir), "token", "user_bare", "--name", "Ana Gómez")
	if err != nil {
		t.Fatalf("web token: %v\n%s", err, stderr)
	}
	code, body := get(t, base+"/user/api/me/", strings.TrimSpace(tok))
	if code != 200 || !strings.Contains(body, `"userid":"user_bare"`) || !strings.Contains(body, `"first_name":"Ana"`) {
		t.Fatalf("me with a dev token: %d %s", code, body)
	}
	if code, _ := get(t, base+"/user/api/me/", ""); code != 401 {
		t.Fatalf("me without a token: %d", code)
	}
	stop(t, p, 25*time.Second)
	if !strings.Contains(p.out.String(), "shutting down") {
		t.Fatalf("no drain logged:\n%s", p.out)
	}
	// DEBUG=false (the default): every log line is JSON.
	for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["msg"] == nil || m["level"] == nil {
			t.Fatalf("log line not JSON: %q", line)
		}
	}
}

func TestTokenPrintsOneJWT(t *testing.T) {
	bin := binary(t, "web")
	dir := t.TempDir()
	out, stderr, err := runOnce(t, bin, dir, emptyEnv(dir), "token", "user_x")
	if err != nil {
		t.Fatalf("web token: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout %q: want one line", out)
	}
	parts := strings.Split(lines[0], ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		t.Fatalf("not a JWT: %q", lines[0])
	}
	if _, err := os.Stat(filepath.Join(dir, ".hermez", "dev-jwt.pem")); err != nil {
		t.Fatalf("development key not kept under .hermez/: %v", err)
	}
	// Without a user id: a usage error, non-zero.
	if _, _, err := runOnce(t, bin, dir, emptyEnv(dir), "token"); err == nil {
		t.Fatal("token without a user id succeeded")
	}
	// Never in production.
	_, stderr, err = runOnce(t, bin, dir, emptyEnv(dir, "DATABASE_URL=postgres://x", "SECRET_KEY="+strings.Repeat("k", 40),
		"CLERK_FRONTEND_API_URL=https://clerk.example.com"), "token", "user_x")
	if err == nil {
		t.Fatalf("token minted in production\n%s", stderr)
	}
}

func TestUnsafeProductionRefusesToStart(t *testing.T) {
	bin := binary(t, "web")
	dir := t.TempDir()
	_, stderr, err := runOnce(t, bin, dir, emptyEnv(dir, "PORT="+strconv.Itoa(testutil.FreePort(t)), "DATABASE_URL=postgres://x", "DEBUG=false"))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("started with the default SECRET_KEY in production: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "SECRET_KEY") {
		t.Fatalf("message does not say SECRET_KEY:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "hermez.db")); err == nil {
		t.Fatal("a refused start created a database file")
	}
}

func TestUnknownCommand(t *testing.T) {
	bin := binary(t, "web")
	dir := t.TempDir()
	_, stderr, err := runOnce(t, bin, dir, emptyEnv(dir), "frobnicate")
	if err == nil || !strings.Contains(stderr, "frobnicate") {
		t.Fatalf("unknown command: %v %s", err, stderr)
	}
}

func TestMigrateAndSeedSubcommands(t *testing.T) {
	bin := binary(t, "web")
	dir := t.TempDir()
	for _, c := range []string{"migrate", "seed", "seed", "migrate"} {
		if _, stderr, err := runOnce(t, bin, dir, emptyEnv(dir), c); err != nil {
			t.Fatalf("web %s: %v\n%s", c, err, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hermez.db")); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerRefusesWithoutRedis(t *testing.T) {
	bin := binary(t, "worker")
	dir := t.TempDir()
	_, stderr, err := runOnce(t, bin, dir, emptyEnv(dir, "PORT="+strconv.Itoa(testutil.FreePort(t))))
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("worker started without REDIS_URL: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "REDIS_URL") {
		t.Fatalf("message does not say REDIS_URL:\n%s", stderr)
	}
}

// The worker serves its probes and drains on SIGTERM (its sockets come later).
func TestWorkerServes(t *testing.T) {
	redisURL := os.Getenv("TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = startMiniredis(t)
	}
	bin := binary(t, "worker")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	mport := testutil.FreePort(t)
	p := start(t, bin, dir, emptyEnv(dir, "PORT="+strconv.Itoa(port), "REDIS_URL="+redisURL, "MIGRATE_ON_START=true",
		"METRICS_PORT="+strconv.Itoa(mport)))
	waitHealthy(t, p, base+"/healthz")
	code, body := get(t, base+"/readyz", "")
	if code != 200 || !strings.Contains(body, `"redis":"ok"`) || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("worker readyz %d %s", code, body)
	}
	// METRICS_PORT: /metrics on the internal port only.
	if code, body := get(t, "http://127.0.0.1:"+strconv.Itoa(mport)+"/metrics", ""); code != 200 || !strings.Contains(body, "# TYPE") {
		t.Fatalf("worker metrics on METRICS_PORT: %d", code)
	}
	if code, body := get(t, base+"/metrics", ""); code != 404 || !strings.Contains(body, `"detail"`) {
		t.Fatalf("worker /metrics on the public port: %d %s", code, body)
	}
	stop(t, p, 25*time.Second)
}

func startMiniredis(t *testing.T) string {
	m := miniredis.RunT(t)
	return "redis://" + m.Addr()
}

// emptyPostgres creates an empty database on TEST_DATABASE_URL's server (dropped
// at cleanup); it skips without PostgreSQL.
func emptyPostgres(t *testing.T) (string, *sql.DB) {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("hermez_t_%d_%d_web", os.Getpid(), time.Now().UnixNano()%1e9)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	return u.String(), db
}

// In production mode serve migrates only with MIGRATE_ON_START=true.
func TestServeMigratesOnStartPostgres(t *testing.T) {
	dbURL, db := emptyPostgres(t)
	bin := binary(t, "web")
	dir := t.TempDir()
	port := testutil.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	env := emptyEnv(dir, "PORT="+strconv.Itoa(port), "DATABASE_URL="+dbURL, "DEBUG=false",
		"SECRET_KEY="+strings.Repeat("p", 48), "CLERK_FRONTEND_API_URL=http://127.0.0.1:1", "MIGRATE_ON_START=true")
	p := start(t, bin, dir, env)
	// Clerk is unreachable here: the process serves, but is not ready (it
	// could verify no token) and says why.
	waitHealthy(t, p, base+"/healthz")
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || !strings.Contains(string(body), `"jwks":"unavailable"`) || !strings.Contains(string(body), `"database":"ok"`) {
		t.Fatalf("readyz with Clerk unreachable: %d %s", res.StatusCode, body)
	}
	var tables int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('users','deliveries','goose_db_version')`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 3 {
		t.Fatalf("%d of 3 tables after MIGRATE_ON_START", tables)
	}
	if _, err := os.Stat(filepath.Join(dir, "hermez.db")); err == nil {
		t.Fatal("an SQLite file was created in production mode")
	}
	stop(t, p, 25*time.Second)
}
