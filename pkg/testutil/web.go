package testutil

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hermez/pkg/account"
	"hermez/pkg/app"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// Key is one RSA key shared by the tests of a process (generating keys is slow).
func Key() *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// Config is the default configuration for a test: the development issuer on
// (DEBUG=true with PostgreSQL), its key in a temp dir.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.Debug = true
	cfg.DevKeyDir = t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(Key())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DevKeyDir, "dev-jwt.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Logger discards below warnings unless HERMEZ_TEST_LOG is set.
func Logger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("HERMEZ_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Recorder is an in-process Publisher that keeps every frame for sockets, in
// order. Announcements of users' locations between processes
// (realtime.GroupUserLocation, published asynchronously after a location is
// kept) are not frames for sockets and are not kept: they would land in
// whichever Take comes next.
type Recorder struct {
	mu   sync.Mutex
	msgs []realtime.Message
}

// Publish implements realtime.Publisher.
func (r *Recorder) Publish(_ context.Context, msgs ...realtime.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if realtime.UserOfLocationGroup(m.Group) == "" {
			r.msgs = append(r.msgs, m)
		}
	}
	return nil
}

// Take returns the frames recorded so far and forgets them.
func (r *Recorder) Take() []realtime.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// Web is the whole web process behind httptest.
type Web struct {
	URL      string
	Server   *httptest.Server
	Store    *store.Store
	Config   config.Config
	App      *app.Web
	Dev      *auth.DevIssuer
	Recorder *Recorder // the publisher, unless the options gave another broker
}

// WebOptions adjust NewWeb.
type WebOptions struct {
	Config func(*config.Config) // edit the configuration
	Broker *app.Broker          // default: a Recorder
	Store  *store.Store         // default: NewStore(t)
}

// NewWeb starts the web process (same wiring as cmd/web) on its own database.
func NewWeb(t testing.TB, o WebOptions) *Web {
	t.Helper()
	cfg := Config(t)
	st := o.Store
	if st == nil {
		st = NewStore(t)
	}
	if st.Dialect == store.Postgres {
		cfg.DatabaseURL = "postgres://test" // not local mode; the store is already open
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	rec := &Recorder{}
	broker := o.Broker
	if broker == nil {
		broker = &app.Broker{Publisher: rec}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := app.BuildWeb(ctx, cfg, Logger(), st, broker)
	if err != nil {
		t.Fatalf("build web: %v", err)
	}
	stopBackground := app.StartBackground(ctx, w.Background...)
	t.Cleanup(stopBackground) // before the store's cleanup closes it
	srv := httptest.NewServer(w.Handler)
	t.Cleanup(srv.Close)
	return &Web{URL: srv.URL, Server: srv, Store: st, Config: cfg, App: w, Dev: w.Dev, Recorder: rec}
}

// Token mints a development token for userid.
func (w *Web) Token(t testing.TB, userid string) string {
	t.Helper()
	tok, err := w.Dev.Mint(userid, auth.TokenOptions{Name: "Test " + userid, Email: userid + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v (failing the test on bad JSON).
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes an object body.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// Do sends a request with an optional token and JSON body (a string is sent as is).
func (w *Web) Do(t testing.TB, method, path, token string, body any) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, w.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// SetStaff sets a user's staff flag in the database, as `web staff` does from
// another process, and makes this web process forget its cached row (another
// process would see the change within auth.DefaultUserTTL).
func (w *Web) SetStaff(t testing.TB, userID string, on bool) {
	t.Helper()
	if err := account.New(w.Store, nil, nil).SetStaff(context.Background(), nil, userID, on, account.UnknownCreate); err != nil {
		t.Fatal(err)
	}
	w.App.Auth.Forget(userID)
}

// UnpublishedFrames returns the frames of st's outbox rows not yet marked
// published, in publish order (a row holds one change's frames).
func UnpublishedFrames(t testing.TB, st *store.Store) []realtime.Message {
	t.Helper()
	var rows []store.OutboxEvent
	if err := st.DB.Where("published_at IS NULL").Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	var msgs []realtime.Message
	for _, r := range rows {
		frames, err := realtime.RowFrames(r)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, frames...)
	}
	return msgs
}
