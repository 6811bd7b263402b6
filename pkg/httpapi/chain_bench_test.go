package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"hermez/pkg/app"
	"hermez/pkg/testutil"
)

// chainWeb is the web process's handler as production builds it for the
// benchmarks of the middleware chain: Clerk tokens (RS256 against a JWKS),
// JSON request logs at info level (to io.Discard: the encoding is paid, the
// write is not), the throttles of config.md's defaults unless throttlesOff.
func chainWeb(b *testing.B, throttlesOff bool) (http.Handler, string) {
	b.Helper()
	j := testutil.NewJWKS(b)
	cfg := testutil.Config(b)
	cfg.Debug = false
	cfg.ClerkFrontendAPIURL, cfg.ClerkJWTIssuer = j.URL, j.URL
	if throttlesOff {
		cfg.ThrottleUserWrites, cfg.ThrottleQuotes, cfg.ThrottleAnon = "0", "0", "0"
	}
	st := testutil.NewStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w, err := app.BuildWeb(ctx, cfg, log, st, &app.Broker{Publisher: &testutil.Recorder{}})
	if err != nil {
		b.Fatal(err)
	}
	return w.Handler, j.Token(b, "user_chain")
}

// serveOnce sends one request through h and fails on another status.
func serveOnce(b *testing.B, h http.Handler, path, tok string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "192.0.2.10:40000"
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
	}
	return rec
}

// BenchmarkChain is one authenticated GET through the whole Echo stack of
// web (request id, request log and metrics, recovery, input hygiene, body
// limit, CORS, the anonymous throttle, FinishWithoutClient, authentication,
// the handler and its JSON), in process, so allocations per request are
// tracked (-benchmem); "bare" writes the same answer's bytes from a plain
// http.HandlerFunc: what the chain costs is the difference.
//
//	go test -run '^$' -bench BenchmarkChain -benchmem ./pkg/httpapi/
func BenchmarkChain(b *testing.B) {
	for _, c := range []struct {
		name         string
		path         string
		throttlesOff bool
	}{
		{"categories", "/deliveries/api/categories/", false},
		{"categories-throttles-off", "/deliveries/api/categories/", true},
		{"me", "/user/api/me/", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			h, tok := chainWeb(b, c.throttlesOff)
			serveOnce(b, h, c.path, tok) // first sight creates the user; caches fill
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serveOnce(b, h, c.path, tok)
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		h, tok := chainWeb(b, true)
		rec := serveOnce(b, h, "/deliveries/api/categories/", tok)
		body, ctype := rec.Body.Bytes(), rec.Header().Get("Content-Type")
		bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		})
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			serveOnce(b, bare, "/deliveries/api/categories/", tok)
		}
	})
}
