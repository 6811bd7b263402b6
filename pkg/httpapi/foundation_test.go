package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/config"
	"hermez/pkg/httpapi"
	"hermez/pkg/input"
	"hermez/pkg/serve"
	"hermez/pkg/testutil"
)

func send(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func jsonBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d content type %q, want JSON: %s", rec.Code, ct, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return m
}

func TestReadyzTurns503WhenDatabaseUnreachable(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	res := w.Do(t, "GET", "/readyz", "", nil)
	if res.Status != 200 {
		t.Fatalf("readyz %d: %s", res.Status, res.Body)
	}
	if m := res.Map(t); m["status"] != "ok" || m["database"] != "ok" {
		t.Fatalf("readyz body %s", res.Body)
	}
	// The database goes away.
	if err := w.Store.Close(); err != nil {
		t.Fatal(err)
	}
	res = w.Do(t, "GET", "/readyz", "", nil)
	if res.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d %s", res.Status, res.Body)
	}
	if m := res.Map(t); m["status"] != "unavailable" || m["database"] != "unavailable" {
		t.Fatalf("readyz body %s", res.Body)
	}
	// Liveness does not depend on the database.
	if res := w.Do(t, "GET", "/healthz", "", nil); res.Status != 200 {
		t.Fatalf("healthz %d", res.Status)
	}
}

func TestReadyzChecksEveryDependency(t *testing.T) {
	redisDown := false
	e := httpapi.New(httpapi.Deps{Config: config.Defaults(), Log: testutil.Logger(), Checks: []serve.Check{
		{Name: "database", Ping: func(context.Context) error { return nil }},
		{Name: "redis", Ping: func(context.Context) error {
			if redisDown {
				return errors.New("connection refused")
			}
			return nil
		}},
	}})
	rec := send(t, e, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Fatalf("readyz %d %s", rec.Code, rec.Body)
	}
	redisDown = true
	rec = send(t, e, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 {
		t.Fatalf("readyz with Redis down: %d %s", rec.Code, rec.Body)
	}
	if m := jsonBody(t, rec); m["redis"] != "unavailable" || m["database"] != "ok" {
		t.Fatalf("body %s", rec.Body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/healthz"},
		{"POST", "/readyz"},
		{"DELETE", "/user/api/me/"},
		{"DELETE", "/user/api/me"},
	} {
		res := w.Do(t, c.method, c.path, w.Token(t, "user_405"), nil)
		if res.Status != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: %d %s", c.method, c.path, res.Status, res.Body)
		}
		want := `Método "` + c.method + `" no permitido.`
		if testutil.DetailText(t, res.Body) != want {
			t.Fatalf("%s %s: body %s, want detail %q", c.method, c.path, res.Body, want)
		}
		if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") {
			t.Fatalf("%s %s: Allow %q", c.method, c.path, allow)
		}
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	for _, p := range []string{"/nope", "/user/api/nope", "/deliveries/api/nothing/here/", "/static/app.js"} {
		res := w.Do(t, "GET", p, "", nil)
		if res.Status != 404 {
			t.Fatalf("%s: %d", p, res.Status)
		}
		if testutil.DetailText(t, res.Body) != apperr.MsgNotFound {
			t.Fatalf("%s: %s", p, res.Body)
		}
	}
}

// bodyEcho is the web Echo plus a route that decodes a body like every handler.
func bodyEcho(t *testing.T) *echo.Echo {
	e := httpapi.New(httpapi.Deps{Config: config.Defaults(), Log: testutil.Logger()})
	e.POST("/test/body/", func(c echo.Context) error {
		b, err := httpapi.ReadBody(c)
		if err != nil {
			return err
		}
		return c.JSON(200, map[string]int{"keys": len(b)})
	})
	return e
}

func TestMalformedJSON(t *testing.T) {
	// The decoder and the renderer, directly.
	for _, raw := range []string{"{", "[1,2]", `"x"`, "null", "{\"a\":}", "nope"} {
		_, err := input.Decode([]byte(raw))
		if err == nil {
			t.Fatalf("Decode(%q) accepted", raw)
		}
		status, body := serve.Render(err)
		d, ok := body.(serve.Detail)
		if status != 400 || !ok || d != apperr.NewDetail(apperr.MsgMalformed) {
			t.Fatalf("Render(Decode(%q)) = %d %#v", raw, status, body)
		}
	}
	// Over HTTP.
	e := bodyEcho(t)
	req := httptest.NewRequest("POST", "/test/body/", strings.NewReader(`{"a": 1,`))
	req.Header.Set("Content-Type", "application/json")
	rec := send(t, e, req)
	if rec.Code != 400 {
		t.Fatalf("malformed JSON: %d %s", rec.Code, rec.Body)
	}
	if m := jsonBody(t, rec); m["detail"] != apperr.MsgMalformed {
		t.Fatalf("body %s", rec.Body)
	}
	req = httptest.NewRequest("POST", "/test/body", strings.NewReader(`{"a": 1}`))
	if rec := send(t, e, req); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"keys":1`) {
		t.Fatalf("good JSON: %d %s", rec.Code, rec.Body)
	}
}

func TestOversizedBody(t *testing.T) {
	big := strings.Repeat("x", serve.MaxBody+1)
	w := testutil.NewWeb(t, testutil.WebOptions{})
	res := w.Do(t, "POST", "/user/api/me/", w.Token(t, "user_big"), `{"a":"`+big+`"}`)
	if res.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized with Content-Length: %d %s", res.Status, res.Body)
	}
	testutil.DetailText(t, res.Body)
	// Without Content-Length (chunked): the limit applies while reading.
	e := bodyEcho(t)
	req := httptest.NewRequest("POST", "/test/body/", io.MultiReader(strings.NewReader(`{"a":"`), strings.NewReader(big), strings.NewReader(`"}`)))
	req.ContentLength = -1
	rec := send(t, e, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized chunked: %d %s", rec.Code, rec.Body)
	}
	jsonBody(t, rec)
	// Just under the limit is fine.
	ok := `{"a":"` + strings.Repeat("x", serve.MaxBody-100) + `"}`
	if rec := send(t, e, httptest.NewRequest("POST", "/test/body/", strings.NewReader(ok))); rec.Code != 200 {
		t.Fatalf("body under the limit: %d %s", rec.Code, rec.Body)
	}
}

func TestHostCheck(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.DeploymentHost = "api.example.com" }})
	tok := w.Token(t, "user_host")
	cases := []struct {
		host, path string
		status     int
	}{
		{"evil.com", "/user/api/me/", 400},
		{"evil.com:443", "/user/api/me/", 400},
		{"api.example.com.evil.com", "/user/api/me/", 400},
		{"api.example.com", "/user/api/me/", 200},
		{"api.example.com:443", "/user/api/me/", 200},
		{"API.EXAMPLE.COM", "/user/api/me/", 200},
		{"localhost", "/user/api/me/", 200},
		{"localhost:8000", "/user/api/me/", 200},
		{"127.0.0.1:8000", "/user/api/me/", 200},
		{"evil.com", "/healthz", 200},
		{"evil.com", "/readyz", 200},
		{"evil.com", "/nope/", 400},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", w.URL+c.path, nil)
		req.Host = c.host
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("Host %s %s: %d, want %d: %s", c.host, c.path, res.StatusCode, c.status, b)
			continue
		}
		if c.status == 400 {
			testutil.DetailText(t, b)
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) {
		c.CORSAllowedOrigins = []string{"https://app.example.com"}
	}})
	preflight := func(origin, path string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", w.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, p := range []string{"/user/api/me/", "/user/api/me"} {
		res := preflight("https://app.example.com", p)
		if res.StatusCode >= 300 {
			t.Fatalf("preflight %s: %d (must answer without auth)", p, res.StatusCode)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
			t.Fatalf("preflight %s: Allow-Origin %q", p, got)
		}
		if res.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("preflight %s: no Allow-Credentials", p)
		}
		if !strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Fatalf("preflight %s: Allow-Headers %q", p, res.Header.Get("Access-Control-Allow-Headers"))
		}
	}
	if got := preflight("https://evil.example.com", "/user/api/me/").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("foreign origin allowed: %q", got)
	}
	// A simple request from the allowed origin carries the headers too.
	req, _ := http.NewRequest("GET", w.URL+"/user/api/me/", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Authorization", "Bearer "+w.Token(t, "user_cors"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("GET with Origin: %d %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestTrailingSlashRewrittenNotRedirected(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok := w.Token(t, "user_slash")
	with := w.Do(t, "GET", "/user/api/me/", tok, nil)
	without := w.Do(t, "GET", "/user/api/me", tok, nil)
	if with.Status != 200 || without.Status != 200 {
		t.Fatalf("with slash %d, without %d (%s)", with.Status, without.Status, without.Body)
	}
	if string(with.Body) != string(without.Body) {
		t.Fatalf("different answers:\n%s\n%s", with.Body, without.Body)
	}
	// No redirect even for a client that does not follow them.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", w.URL+"/user/api/me?x=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("slashless with a query: %d", res.StatusCode)
	}
}

func TestRequestIDAndMetrics(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	req, _ := http.NewRequest("GET", w.URL+"/healthz", nil)
	req.Header.Set("X-Request-ID", "req-from-proxy-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "req-from-proxy-1" {
		t.Fatalf("X-Request-ID %q, want the incoming id", got)
	}
	a, b := w.Do(t, "GET", "/healthz", "", nil), w.Do(t, "GET", "/healthz", "", nil)
	if a.Header.Get("X-Request-ID") == "" || a.Header.Get("X-Request-ID") == b.Header.Get("X-Request-ID") {
		t.Fatalf("request ids %q %q", a.Header.Get("X-Request-ID"), b.Header.Get("X-Request-ID"))
	}
	m := w.Do(t, "GET", "/metrics", "", nil)
	if m.Status != 200 || !strings.Contains(string(m.Body), "# TYPE") {
		t.Fatalf("metrics %d %.200s", m.Status, m.Body)
	}
}

func TestPanicIsJSON500(t *testing.T) {
	e := httpapi.New(httpapi.Deps{Config: config.Defaults(), Log: testutil.Logger()})
	e.GET("/test/panic/", func(echo.Context) error { panic("boom") })
	rec := send(t, e, httptest.NewRequest("GET", "/test/panic/", nil))
	if rec.Code != 500 {
		t.Fatalf("panic: %d", rec.Code)
	}
	if m := jsonBody(t, rec); m["detail"] != apperr.MsgInternal || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("panic body %s", rec.Body)
	}
}
