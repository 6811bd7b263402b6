package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// Render: every apperr kind and every echo.HTTPError the stack raises, one
// row each, with the exact status and JSON body; a 5xx never shows its text.
func TestRender(t *testing.T) {
	nonField := apperr.Fields{}
	nonField.Add(apperr.NonField, "No puede calificarse a sí mismo.")
	nonField.Add(apperr.NonField, "segundo")
	for _, c := range []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"invalid, a message", apperr.New(apperr.Invalid, "Estado no válido."), 400, `{"detail":"Estado no válido."}`},
		{"invalid, one field", apperr.Field("name", apperr.MsgRequired), 400, `{"name":["Este campo es requerido."]}`},
		{"invalid, non_field_errors", nonField.Err(), 400,
			`{"detail":"No puede calificarse a sí mismo.","non_field_errors":["No puede calificarse a sí mismo.","segundo"]}`},
		{"unauthenticated", apperr.NotAuthenticated("Token expirado.", errors.New("exp")), 401, `{"detail":"Token expirado."}`},
		{"forbidden", apperr.ForbiddenErr(), 403, `{"detail":"Usted no tiene permiso para realizar esta acción."}`},
		{"not found", apperr.NotFoundErr(), 404, `{"detail":"No encontrado."}`},
		{"conflict", apperr.New(apperr.Conflict, "Ya existe."), 409, `{"detail":"Ya existe."}`},
		{"throttled", apperr.New(apperr.Throttled, "Espere."), 429, `{"detail":"Espere."}`},
		{"unavailable", apperr.New(apperr.Unavailable, "Sin Redis."), 503, `{"detail":"Sin Redis."}`},
		{"internal hides its message", apperr.New(apperr.Internal, "pq: secret"), 500, `{"detail":"Error interno del servidor."}`},
		{"wrapped cause", apperr.Wrap(errors.New("db down"), "load user"), 500, `{"detail":"Error interno del servidor."}`},
		{"unknown kind is a 500 that hides its message", apperr.New(apperr.Kind("teapot"), "secret"), 500, `{"detail":"Error interno del servidor."}`},
		{"apperr wrapped by fmt", fmt.Errorf("handler: %w", apperr.NotFoundErr()), 404, `{"detail":"No encontrado."}`},
		{"echo 404", echo.ErrNotFound, 404, `{"detail":"No encontrado."}`},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, 413, `{"detail":"La solicitud es demasiado grande (máximo 1 MiB)."}`},
		{"echo 401", echo.ErrUnauthorized, 401, `{"detail":"Las credenciales de autenticación no se proveyeron."}`},
		{"echo 400", echo.NewHTTPError(400, "syntax error at offset 3"), 400, `{"detail":"JSON mal formado."}`},
		{"echo 503", echo.ErrServiceUnavailable, 503, `{"detail":"Servicio no disponible."}`},
		{"echo 502 hides its message", echo.NewHTTPError(502, "upstream 10.0.0.3 refused"), 502, `{"detail":"Error interno del servidor."}`},
		{"echo other 4xx keeps its message", echo.NewHTTPError(418, "tetera"), 418, `{"detail":"tetera"}`},
		{"plain error", errors.New("boom"), 500, `{"detail":"Error interno del servidor."}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := serve.Render(c.err)
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			if status != c.status || string(b) != c.body {
				t.Errorf("Render = %d %s; want %d %s", status, b, c.status, c.body)
			}
		})
	}
}

// ErrorHandler: what Render leaves to the request — the 405's method, the
// favorite route's message, 401's WWW-Authenticate, HEAD without a body, an
// answer already sent left alone — and the log level of each status.
func TestErrorHandler(t *testing.T) {
	e := echo.New()
	var logs bytes.Buffer
	e.HTTPErrorHandler = serve.ErrorHandler(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	fail := func(err error) echo.HandlerFunc { return func(echo.Context) error { return err } }
	e.GET("/401/", fail(apperr.NotAuthenticated(apperr.MsgNotAuth, nil)))
	e.GET("/403/", fail(apperr.ForbiddenErr()))
	e.GET("/404/", fail(apperr.NotFoundErr()))
	e.HEAD("/404/", fail(apperr.NotFoundErr()))
	e.GET("/500/", fail(apperr.Wrap(errors.New("db down"), "load")))
	e.GET("/sent/", func(c echo.Context) error {
		_ = c.String(http.StatusOK, "partial")
		return apperr.Wrap(errors.New("late"), "after the answer")
	})
	e.POST(serve.FavoriteRoute, func(c echo.Context) error {
		if c.Param("id") == "field" {
			return apperr.Field("id", "malo")
		}
		return apperr.NotFoundErr()
	})
	for _, c := range []struct {
		method, path string
		status       int
		body         string // "" for none
		wwwAuth      string
		level        string
	}{
		{"GET", "/401/", 401, `{"detail":"Las credenciales de autenticación no se proveyeron."}`, `Bearer realm="api"`, "INFO"},
		{"GET", "/403/", 403, `{"detail":"Usted no tiene permiso para realizar esta acción."}`, "", "INFO"},
		{"GET", "/404/", 404, `{"detail":"No encontrado."}`, "", "DEBUG"},
		{"GET", "/500/", 500, `{"detail":"Error interno del servidor."}`, "", "ERROR"},
		{"GET", "/nowhere/", 404, `{"detail":"No encontrado."}`, "", "DEBUG"},
		{"DELETE", "/404/", 405, `{"detail":"Método \"DELETE\" no permitido."}`, "", "DEBUG"},
		{"HEAD", "/404/", 404, "", "", "DEBUG"},
		{"POST", "/user/api/me/addresses/x/add-favorite/", 404, `{"detail":"No encontrado.","message":"No encontrado."}`, "", "DEBUG"},
		{"POST", "/user/api/me/addresses/field/add-favorite/", 400, `{"id":["malo"]}`, "", "DEBUG"},
		{"GET", "/sent/", 200, "partial", "", ""}, // committed: nothing added, nothing logged
	} {
		logs.Reset()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		got := strings.TrimSpace(rec.Body.String())
		if rec.Code != c.status || got != c.body || rec.Header().Get("WWW-Authenticate") != c.wwwAuth {
			t.Errorf("%s %s: %d %q (WWW-Authenticate %q); want %d %q (%q)", c.method, c.path,
				rec.Code, got, rec.Header().Get("WWW-Authenticate"), c.status, c.body, c.wwwAuth)
		}
		switch {
		case c.level == "" && logs.Len() != 0:
			t.Errorf("%s %s: logged %q, want nothing", c.method, c.path, logs.String())
		case c.level != "" && !strings.Contains(logs.String(), "level="+c.level+" ") ||
			c.level != "" && !strings.Contains(logs.String(), fmt.Sprintf("status=%d", c.status)):
			t.Errorf("%s %s: logged %q, want level %s and status %d", c.method, c.path, logs.String(), c.level, c.status)
		}
	}
}
