package serve_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"hermez/pkg/serve"
)

// Composed runs its middleware in order around the handler Echo found for
// each request (a route's, or the 404 and 405 answers), as e.Use of each did.
func TestComposedRunsInOrderAroundTheRoute(t *testing.T) {
	var trace []string
	mark := func(name string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				trace = append(trace, name)
				return next(c)
			}
		}
	}
	e := echo.New()
	e.Use(serve.Composed(mark("a"), mark("b"), mark("c")))
	e.GET("/x/", func(c echo.Context) error { trace = append(trace, "x"); return c.String(http.StatusOK, "x") })
	e.GET("/y/", func(c echo.Context) error { trace = append(trace, "y"); return c.String(http.StatusOK, "y") })
	for _, c := range []struct {
		method, path string
		status       int
		trace        string
	}{
		{"GET", "/x/", 200, "a b c x"},
		{"GET", "/y/", 200, "a b c y"},
		{"GET", "/z/", 404, "a b c"},
		{"POST", "/x/", 405, "a b c"},
	} {
		trace = nil
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || strings.Join(trace, " ") != c.trace {
			t.Errorf("%s %s: status %d, ran %q; want %d, %q", c.method, c.path, rec.Code, trace, c.status, c.trace)
		}
	}
}
