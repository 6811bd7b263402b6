package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
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
	// The loops web runs beside HTTP, as in production: among them the
	// outbox's batched published marks (without them every write would mark
	// its own frames with an UPDATE of its own, which web does not do).
	b.Cleanup(app.StartBackground(ctx, w.Background...))
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

// BenchmarkChainQuote is one POST /deliveries/api/quotes/ through the whole
// Echo stack of web, as BenchmarkChain, with the body the load tool's quote
// scenario sends: authentication, validation, the transaction (the quote, its
// history row, the outbox row of its three frames), the publish after commit
// (to a recorder), the answer, and the published marks batched by web's
// background loop. On PostgreSQL (TEST_DATABASE_URL) it pays
// the database's round trips too; allocations per request are web's own.
//
//	go test -run '^$' -bench BenchmarkChainQuote -benchmem ./pkg/httpapi/
func BenchmarkChainQuote(b *testing.B) {
	h, tok := chainWeb(b, true)
	var cats []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(serveOnce(b, h, "/deliveries/api/categories/", tok).Body.Bytes(), &cats); err != nil || len(cats) == 0 {
		b.Fatalf("categories: %v", err)
	}
	body := `{"category_id":"` + cats[0].ID + `","client_price":12000,"payment_method":"efectivo",` +
		`"pickup_address":"Carrera 33 # 42-1, Bucaramanga","delivery_address":"Calle 56 # 17A-23, Ricaurte, Bucaramanga",` +
		`"description":"Caja mediana (carga de prueba)","observations":["Frágil"],"estimated_weight":3.5,"estimated_size":"Mediano"}`
	post := func() {
		b.Helper()
		req := httptest.NewRequest(http.MethodPost, "/deliveries/api/quotes/", strings.NewReader(body))
		req.RemoteAddr = "192.0.2.10:40000"
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Errorf("POST quote: status %d: %s", rec.Code, rec.Body)
		}
	}
	if post(); b.Failed() { // the first one warms the statement cache
		return
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	// 32 requests in flight per core, as the load tool's c=64 on two cores:
	// one at a time, every request would wait for its commit alone, and the
	// process's CPU would be mostly going to sleep and waking up.
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post()
		}
	})
	// The time per request is mostly waiting for the database's commits; the
	// process's own CPU (user + system, getrusage) per request is what web spends.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is this process's CPU time so far (user + system), in ns.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
