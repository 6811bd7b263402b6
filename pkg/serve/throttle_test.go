package serve_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/serve"
	"hermez/pkg/throttle"
)

// Throttled sets Retry-After to the wait rounded up (at least 1 s) and
// returns the 429 with DRF's text carrying the same number.
func TestThrottled(t *testing.T) {
	for _, c := range []struct {
		retry time.Duration
		want  int
	}{{0, 1}, {300 * time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {59 * time.Second, 59}} {
		rec := httptest.NewRecorder()
		ctx := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), rec)
		err := serve.Throttled(ctx, throttle.Decision{RetryAfter: c.retry})
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Throttled || e.Message != throttle.Message(c.want) ||
			rec.Header().Get("Retry-After") != strconv.Itoa(c.want) {
			t.Errorf("RetryAfter %s: %v, Retry-After %q; want %d s", c.retry, err, rec.Header().Get("Retry-After"), c.want)
		}
	}
}

// AnonThrottle counts per client IP every request without a valid token
// (refused tokens included) and lets through preflights, probes, Clerk's
// webhook, valid tokens and (when web forwards them) socket paths.
func TestAnonThrottle(t *testing.T) {
	now := time.Now() // the clock stands still: only the counts move
	newEcho := func(l *throttle.Limiter, forwarded bool) *echo.Echo {
		e := echo.New()
		e.HTTPErrorHandler = serve.ErrorHandler(slog.New(slog.DiscardHandler))
		e.Use(serve.AnonThrottle(l, func(_ context.Context, tok string) bool { return tok == "good" }, forwarded))
		e.Any("/*", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
		return e
	}
	limiter := func(n int) *throttle.Limiter {
		return &throttle.Limiter{Scope: throttle.ScopeAnon, Rate: throttle.Rate{N: n, Period: time.Minute}, Store: throttle.NewMemory(), Now: func() time.Time { return now }}
	}
	type req struct {
		method, path, ip, auth, proto string
		status                        int
	}
	get := func(path, ip string, status int) req { return req{"GET", path, ip, "", "", status} }
	for _, c := range []struct {
		name      string
		l         *throttle.Limiter
		forwarded bool
		reqs      []req
	}{
		{"two per minute, then 429", limiter(2), false, []req{
			get("/deliveries/api/", "1.1.1.1", 204), get("/deliveries/api/", "1.1.1.1", 204), get("/deliveries/api/", "1.1.1.1", 429),
			get("/deliveries/api/", "2.2.2.2", 204), // another IP, another count
		}},
		{"exempt paths and preflights are not counted", limiter(1), false, []req{
			get("/healthz", "1.1.1.1", 204), get("/readyz", "1.1.1.1", 204), get("/metrics", "1.1.1.1", 204),
			{"POST", "/user/webhooks/clerk/", "1.1.1.1", "", "", 204}, {"OPTIONS", "/deliveries/api/", "1.1.1.1", "", "", 204},
			get("/deliveries/api/", "1.1.1.1", 204), get("/deliveries/api/", "1.1.1.1", 429),
		}},
		{"a valid token passes, a refused one counts", limiter(1), false, []req{
			{"GET", "/user/api/me/", "1.1.1.1", "Bearer good", "", 204}, {"GET", "/user/api/me/", "1.1.1.1", "Bearer good", "", 204},
			{"GET", "/user/api/me/", "1.1.1.1", "Bearer guess", "", 204}, {"GET", "/user/api/me/", "1.1.1.1", "Bearer guess2", "", 429},
			{"GET", "/user/api/me/", "1.1.1.1", "Bearer good", "", 204},
		}},
		{"a socket's token is its subprotocol", limiter(1), false, []req{
			{"GET", "/ws/x/", "1.1.1.1", "", "good", 204}, {"GET", "/ws/x/", "1.1.1.1", "", "good", 204},
			get("/ws/x/", "1.1.1.1", 204), get("/ws/x/", "1.1.1.1", 429),
		}},
		{"sockets forwarded to the worker are counted there", limiter(1), true, []req{
			get("/ws/x/", "1.1.1.1", 204), get("/ws/x/", "1.1.1.1", 204), get("/x/", "1.1.1.1", 204), get("/x/", "1.1.1.1", 429),
		}},
		{"no limiter", nil, false, []req{get("/x/", "1.1.1.1", 204), get("/x/", "1.1.1.1", 204)}},
		{"disabled rate", limiter(0), false, []req{get("/x/", "1.1.1.1", 204), get("/x/", "1.1.1.1", 204)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEcho(c.l, c.forwarded)
			for i, q := range c.reqs {
				r := httptest.NewRequest(q.method, q.path, nil)
				r.RemoteAddr = q.ip + ":4000"
				if q.auth != "" {
					r.Header.Set("Authorization", q.auth)
				}
				if q.proto != "" {
					r.Header.Set("Sec-WebSocket-Protocol", q.proto)
				}
				rec := serveOnce(e, r)
				if rec.Code != q.status {
					t.Fatalf("request %d %s %s from %s: %d, want %d", i, q.method, q.path, q.ip, rec.Code, q.status)
				}
				if q.status == 429 && (rec.Header().Get("Retry-After") != "60" || !strings.Contains(rec.Body.String(), "60 segundos")) {
					t.Fatalf("429: Retry-After %q, body %s", rec.Header().Get("Retry-After"), rec.Body)
				}
			}
		})
	}
}
