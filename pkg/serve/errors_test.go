package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/serve"
)

// A request whose client went away is logged as such, with 499, not as a
// server error; a cancellation the client did not cause stays a 500.
func TestErrorHandlerClientGone(t *testing.T) {
	canceled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	for _, c := range []struct {
		name       string
		ctx        context.Context
		err        error
		wantStatus int
		wantLevel  string
	}{
		{"client gone mid-transaction", canceled(), apperr.Wrap(fmt.Errorf("begin: %w", context.Canceled), "market change"), serve.StatusClientClosed, "INFO"},
		{"server-side cancellation, client still there", context.Background(), apperr.Wrap(context.Canceled, "market change"), 500, "ERROR"},
		{"client gone, the driver dropped the connection", canceled(), apperr.Wrap(fmt.Errorf("driver: bad connection"), "market change"), serve.StatusClientClosed, "INFO"},
		{"deadline of the server's own", context.Background(), apperr.Wrap(context.DeadlineExceeded, "market change"), 500, "ERROR"},
		{"plain failure", context.Background(), apperr.Wrap(fmt.Errorf("boom"), "market change"), 500, "ERROR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			e := echo.New()
			e.HTTPErrorHandler = serve.ErrorHandler(slog.New(slog.NewTextHandler(&logs, nil)))
			e.GET("/x", func(echo.Context) error { return c.err })
			req := httptest.NewRequest(http.MethodGet, "/x", nil).WithContext(c.ctx)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != c.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, c.wantStatus)
			}
			if !strings.Contains(logs.String(), "level="+c.wantLevel) {
				t.Fatalf("log %q, want level %s", logs.String(), c.wantLevel)
			}
		})
	}
}

// Request ids made by the server are 32 hex digits, distinct.
func TestNewRequestIDs(t *testing.T) {
	e := echo.New()
	e.Use(serve.RequestID())
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	seen := map[string]bool{}
	for range 1000 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		id := rec.Header().Get(echo.HeaderXRequestID)
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("request id %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		kind apperr.Kind
		want int
	}{
		{apperr.Invalid, http.StatusBadRequest},
		{apperr.Unauthenticated, http.StatusUnauthorized},
		{apperr.Forbidden, http.StatusForbidden},
		{apperr.NotFound, http.StatusNotFound},
		{apperr.Conflict, http.StatusConflict},
		{apperr.Throttled, http.StatusTooManyRequests},
		{apperr.Unavailable, http.StatusServiceUnavailable},
		{apperr.Internal, http.StatusInternalServerError},
		{apperr.Kind("no-such-kind"), http.StatusInternalServerError}, // unknown kinds are 500, never 200
	} {
		if got := serve.Status(tc.kind); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.kind, got, tc.want)
		}
	}
}
