// Package e2e runs the real binaries as separate processes — web and worker —
// against PostgreSQL and Redis (TEST_DATABASE_URL / TEST_REDIS_URL; SQLite and
// miniredis otherwise) with a test JWKS server standing in for Clerk, and drives
// the whole story the way the frontend does.
package e2e

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hermez/pkg/testutil"
)

const (
	audience = "hermez-backend-api"
	kid      = "e2e-key-1"
)

// clerk is the test stand-in for Clerk: a JWKS endpoint and a token minter.
type clerk struct {
	srv     *httptest.Server
	key     *rsa.PrivateKey
	fetches int
	mu      sync.Mutex
}

func newClerk(t *testing.T) *clerk {
	c := &clerk{key: testutil.Key()}
	pub := c.key.PublicKey
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		c.fetches++
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// token mints a Clerk-like session token (template jwt-back-hermez).
func (c *clerk) token(t *testing.T, sub, first, last, email string) string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": c.srv.URL, "sub": sub, "aud": audience, "azp": "http://localhost:4321",
		"iat": now.Unix(), "nbf": now.Add(-5 * time.Second).Unix(), "exp": now.Add(time.Hour).Unix(),
		"first_name": first, "last_name": last, "username": strings.ToLower(first), "email": email,
		"image_url": "https://img.example.com/" + sub,
	})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// proc is one running binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	url  string
	out  *testutil.SyncBuffer
	done chan error
}

// start runs bin with args and env in dir, then waits for /readyz.
func start(t *testing.T, name, bin, dir string, env []string, args ...string) *proc {
	port := testutil.FreePort(t)
	out := &testutil.SyncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...), fmt.Sprintf("PORT=%d", port))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(p.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("%s exited early (%v):\n%s", name, err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s not ready in 60 s:\n%s", name, out.String())
	return nil
}

// run runs a one-off subcommand to completion.
func run(t *testing.T, bin, dir string, env []string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T, within time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(within):
		return fmt.Errorf("%s did not exit within %s", p.name, within)
	}
}

// system is web + worker on one database and one Redis.
type system struct {
	clerk  *clerk
	web    *proc
	worker *proc
}

func startSystem(t *testing.T) *system {
	webBin, workerBin := testutil.Binaries(t)
	dir := t.TempDir()
	c := newClerk(t)
	redisURL, prefix := testutil.Redis(t)
	env := []string{
		"CLERK_FRONTEND_API_URL=" + c.srv.URL,
		"CLERK_AUTHORIZED_PARTIES=http://localhost:4321",
		"REDIS_URL=" + redisURL, "REDIS_PREFIX=" + prefix,
		"SECRET_KEY=e2e-" + strings.Repeat("s", 40),
		"DEBUG=false", "EXPIRE_INTERVAL_SECONDS=1", "SHUTDOWN_TIMEOUT_SECONDS=8", "SHUTDOWN_DRAIN_SECONDS=1",
	}
	if dbURL := testutil.NewDatabaseURL(t); dbURL != "" {
		env = append(env, testutil.DatabaseEnv(dbURL)...)
	} else {
		env = append(env, "SQLITE_PATH="+filepath.Join(dir, "e2e.db"))
	}
	run(t, webBin, dir, env, "migrate")
	run(t, webBin, dir, env, "seed")
	s := &system{clerk: c}
	s.worker = start(t, "worker", workerBin, dir, env)
	s.web = start(t, "web", webBin, dir, append(env, "WORKER_URL="+strings.TrimPrefix(s.worker.url, "http://")))
	return s
}

// call sends one HTTP request to web and decodes the JSON answer.
func (s *system) call(t *testing.T, method, path, token string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.web.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}
