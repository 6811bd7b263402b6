package serve_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"hermez/pkg/serve"
)

// /readyz names each check and is 503 when one fails; /healthz and
// /metrics answer without checks.
func TestHealth(t *testing.T) {
	var db, redis error
	var deadline time.Duration
	e := echo.New()
	serve.Health(e,
		serve.Check{Name: "db", Ping: func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			deadline = time.Until(d)
			return db
		}},
		serve.Check{Name: "redis", Ping: func(context.Context) error { return redis }})
	for _, c := range []struct {
		path      string
		db, redis error
		status    int
		body      string
	}{
		{"/healthz", errors.New("down"), nil, 200, `{"status":"ok"}`},
		{"/readyz", nil, nil, 200, `{"db":"ok","redis":"ok","status":"ok"}`},
		{"/readyz", nil, errors.New("down"), 503, `{"db":"ok","redis":"unavailable","status":"unavailable"}`},
		{"/readyz", errors.New("down"), errors.New("down"), 503, `{"db":"unavailable","redis":"unavailable","status":"unavailable"}`},
	} {
		db, redis = c.db, c.redis
		rec := serveOnce(e, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != c.status || strings.TrimSpace(rec.Body.String()) != c.body {
			t.Errorf("%s (db %v, redis %v): %d %s, want %d %s", c.path, c.db, c.redis, rec.Code, rec.Body, c.status, c.body)
		}
	}
	if deadline <= 0 || deadline > 2*time.Second {
		t.Errorf("a check runs with %s left, want at most 2 s", deadline)
	}
	rec := serveOnce(e, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "# TYPE ") {
		t.Errorf("/metrics: %d %.200s", rec.Code, rec.Body)
	}
}
