package serve_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"hermez/pkg/input"
	"hermez/pkg/serve"
)

// serveOnce sends one request through e and returns the recorder.
func serveOnce(e *echo.Echo, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, r)
	return rec
}

// A path without its trailing slash reaches the slashed route (rewritten,
// never redirected); probes and file names are left as they are.
func TestTrailingSlash(t *testing.T) {
	e := echo.New()
	e.Pre(serve.TrailingSlash())
	e.Any("/*", func(c echo.Context) error {
		return c.String(http.StatusOK, c.Request().URL.Path+" "+c.Request().URL.RawPath)
	})
	for _, c := range []struct{ target, want string }{
		{"/deliveries/api?status=x", "/deliveries/api/ "},
		{"/deliveries/api/", "/deliveries/api/ "},
		{"/", "/ "},
		{"/healthz", "/healthz "},
		{"/readyz", "/readyz "},
		{"/metrics", "/metrics "},
		{"/openapi.json", "/openapi.json "},
		{"/static/app.js", "/static/app.js "},
		{"/a.b/c", "/a.b/c/ "},            // only the last segment's dot counts
		{"/x/a%2Fb", "/x/a/b/ /x/a%2Fb/"}, // the escaped form keeps pace
	} {
		rec := serveOnce(e, httptest.NewRequest("GET", c.target, nil))
		if rec.Code != 200 || rec.Body.String() != c.want {
			t.Errorf("%s: %d %q, want %q", c.target, rec.Code, rec.Body, c.want)
		}
	}
}

// The Host check: with a deployment host, other hosts get 400 except the
// local names, the probes and Clerk's webhook; without one, any host passes.
func TestHostCheck(t *testing.T) {
	for _, c := range []struct {
		deployment, host, path string
		status                 int
	}{
		{"", "evil.example", "/user/api/me/", 200},
		{"api.hermez.co", "api.hermez.co", "/user/api/me/", 200},
		{"api.hermez.co", "api.hermez.co:443", "/user/api/me/", 200},
		{"api.hermez.co", "API.Hermez.CO", "/user/api/me/", 200},
		{"api.hermez.co", "localhost:8000", "/user/api/me/", 200},
		{"api.hermez.co", "127.0.0.1", "/user/api/me/", 200},
		{"api.hermez.co", "[::1]:8000", "/user/api/me/", 200},
		{"api.hermez.co", "evil.example", "/user/api/me/", 400},
		{"api.hermez.co", "api.hermez.co.evil.example", "/user/api/me/", 400},
		{"api.hermez.co", "evil.example", "/healthz", 200},
		{"api.hermez.co", "evil.example", "/readyz", 200},
		{"api.hermez.co", "evil.example", "/user/webhooks/clerk/", 200},
		{"api.hermez.co", "evil.example", "/user/webhooks/clerk", 200},
	} {
		e := echo.New()
		e.Use(serve.HostCheck(c.deployment))
		e.Any("/*", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
		r := httptest.NewRequest("GET", c.path, nil)
		r.Host = c.host
		rec := serveOnce(e, r)
		if rec.Code != c.status {
			t.Errorf("deployment %q, Host %q, %s: %d, want %d", c.deployment, c.host, c.path, rec.Code, c.status)
		}
		if c.status == 400 && strings.TrimSpace(rec.Body.String()) != `{"detail":"Host no permitido: `+c.host+`"}` {
			t.Errorf("Host %q: body %s", c.host, rec.Body)
		}
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"": false, "a": true, "abc-123_x.Y": true, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"a b": false, "ñandú": false, "a/b": false, "id\x00": false, "<script>": false, "a,b": false,
	} {
		if got := serve.ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%.20q) = %v, want %v", id, got, want)
		}
	}
}

// The client's valid id is kept on the answer and the request; an invalid
// one is replaced on both (a forwarded socket upgrade passes it on).
func TestRequestIDKeepsOrReplaces(t *testing.T) {
	e := echo.New()
	e.Use(serve.RequestID())
	e.GET("/x/", func(c echo.Context) error {
		return c.String(http.StatusOK, c.Request().Header.Get(echo.HeaderXRequestID))
	})
	for _, c := range []struct {
		sent string
		kept bool
	}{{"client-id.1", true}, {"", false}, {"bad id", false}, {strings.Repeat("r", 65), false}} {
		r := httptest.NewRequest("GET", "/x/", nil)
		if c.sent != "" {
			r.Header.Set(echo.HeaderXRequestID, c.sent)
		}
		rec := serveOnce(e, r)
		got := rec.Header().Get(echo.HeaderXRequestID)
		if got != rec.Body.String() || c.kept != (got == c.sent) || !serve.ValidRequestID(got) {
			t.Errorf("sent %.20q: answered %q, request carried %q", c.sent, got, rec.Body)
		}
	}
}

// U+0000 or invalid UTF-8 in the path is a 404, in the query a 400 naming
// the problem, before the handler runs.
func TestRejectNUL(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = serve.ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(serve.RejectNUL())
	ran := false
	e.GET("/x/:id/", func(c echo.Context) error { ran = true; return c.NoContent(http.StatusNoContent) })
	for _, c := range []struct {
		target string
		status int
		detail string
	}{
		{"/x/ok/?q=caf%C3%A9", 204, ""},
		{"/x/ok/?q=100%25", 204, ""},
		{"/x/a%00b/", 404, "No encontrado."},
		{"/x/a%FFb/", 404, "No encontrado."},
		{"/x/ok/?q=a%00", 400, input.MsgNUL},
		{"/x/ok/?a%00=1", 400, input.MsgNUL},
		{"/x/ok/?q=%FF", 400, "El texto no es UTF-8 válido."},
	} {
		ran = false
		rec := serveOnce(e, httptest.NewRequest("GET", c.target, nil))
		var body struct{ Detail string }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != c.status || body.Detail != c.detail || ran != (c.status == 204) {
			t.Errorf("%s: %d %s (handler ran: %v), want %d %q", c.target, rec.Code, rec.Body, ran, c.status, c.detail)
		}
	}
}

// logLines decodes the JSON log lines of buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// The whole stack (Common): one request line per request with its route,
// status, id and client IP (the hops rule), the error answered once; a
// panic is a logged 500; the body limit is 1 MiB exactly.
func TestCommonStack(t *testing.T) {
	var buf bytes.Buffer
	e := echo.New()
	serve.Common(e, slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		serve.CommonOptions{TrustedProxyHops: 1})
	e.GET("/quotes/:id/", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"ip": c.RealIP()}) })
	e.GET("/boom/", func(echo.Context) error { panic("kaput") })
	e.POST("/body/", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int{"n": len(b)})
	})
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	for _, c := range []struct {
		method, target string
		body           int // bytes of body
		status         int
		answer         string
		route, level   string
	}{
		{"GET", "/quotes/7", 0, 200, `{"ip":"203.0.113.7"}`, "/quotes/:id/", "INFO"},
		{"GET", "/nope/", 0, 404, `{"detail":"No encontrado."}`, "unmatched", "INFO"},
		{"GET", "/boom/", 0, 500, `{"detail":"Error interno del servidor."}`, "/boom/", "INFO"},
		{"POST", "/body/", serve.MaxBody, 200, `{"n":1048576}`, "/body/", "INFO"},
		{"POST", "/body/", serve.MaxBody + 1, 413, `{"detail":"La solicitud es demasiado grande (máximo 1 MiB)."}`, "/body/", "INFO"},
		{"GET", "/healthz", 0, 200, "", "/healthz", "DEBUG"},
	} {
		buf.Reset()
		r := httptest.NewRequest(c.method, c.target, strings.NewReader(strings.Repeat("x", c.body)))
		r.RemoteAddr = "10.0.0.9:5000"
		r.Header.Set(echo.HeaderXForwardedFor, "6.6.6.6, 203.0.113.7")
		rec := serveOnce(e, r)
		if rec.Code != c.status || strings.TrimSpace(rec.Body.String()) != c.answer {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.target, rec.Code, rec.Body, c.status, c.answer)
			continue
		}
		var request map[string]any
		for _, l := range logLines(t, &buf) {
			if l["msg"] == "request" {
				if request != nil {
					t.Errorf("%s %s: two request lines", c.method, c.target)
				}
				request = l
			}
		}
		if request == nil || request["route"] != c.route || request["level"] != c.level || request["status"] != float64(c.status) ||
			request["ip"] != "203.0.113.7" || request["request_id"] != rec.Header().Get(echo.HeaderXRequestID) {
			t.Errorf("%s %s: request line %v, want route %s, level %s, status %d", c.method, c.target, request, c.route, c.level, c.status)
		}
	}
}

// A client-written path is logged cut to 256 bytes.
func TestRequestLogBoundsThePath(t *testing.T) {
	var buf bytes.Buffer
	e := echo.New()
	e.Use(serve.RequestLog(slog.New(slog.NewJSONHandler(&buf, nil))))
	e.GET("/*", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for _, n := range []int{255, 256, 257, 50000} {
		buf.Reset()
		path := "/" + strings.Repeat("p", n-1)
		serveOnce(e, httptest.NewRequest("GET", path, nil))
		lines := logLines(t, &buf)
		want := path
		if n > 256 {
			want = path[:256] + "…"
		}
		if len(lines) != 1 || lines[0]["path"] != want {
			t.Errorf("path of %d bytes logged as %.300v", n, lines)
		}
	}
}

// CORS: a preflight from an allowed origin is answered with credentials and
// the exposed headers; another origin gets no allow header.
func TestCORS(t *testing.T) {
	e := echo.New()
	e.Use(serve.CORS([]string{"https://app.hermez.co"}))
	e.GET("/x/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	for _, c := range []struct {
		origin, allow string
	}{{"https://app.hermez.co", "https://app.hermez.co"}, {"https://evil.example", ""}} {
		r := httptest.NewRequest("OPTIONS", "/x/", nil)
		r.Header.Set("Origin", c.origin)
		r.Header.Set("Access-Control-Request-Method", "PATCH")
		rec := serveOnce(e, r)
		h := rec.Header()
		if rec.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != c.allow {
			t.Errorf("preflight from %s: %d, allow %q", c.origin, rec.Code, h.Get("Access-Control-Allow-Origin"))
		}
		if c.allow != "" && (h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PATCH")) {
			t.Errorf("preflight from %s: headers %v", c.origin, h)
		}
	}
	r := httptest.NewRequest("GET", "/x/", nil)
	r.Header.Set("Origin", "https://app.hermez.co")
	if h := serveOnce(e, r).Header(); !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("Retry-After not exposed: %v", h)
	}
}
