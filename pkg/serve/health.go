package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"hermez/pkg/metrics"
)

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Check is one readiness dependency.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Health registers /healthz, /readyz (503 when a check fails) and /metrics
// (with METRICS_PORT set, app.Serve hides it from the public port).
func Health(e *echo.Echo, checks ...Check) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		status, body := http.StatusOK, map[string]string{"status": "ok"}
		for _, ch := range checks {
			if err := ch.Ping(ctx); err != nil {
				status = http.StatusServiceUnavailable
				body["status"] = "unavailable"
				body[ch.Name] = "unavailable"
				c.Logger().Warnf("readiness check %s failed: %v", ch.Name, err)
			} else {
				body[ch.Name] = "ok"
			}
		}
		return c.JSON(status, body)
	})
	e.GET("/metrics", echo.WrapHandler(metrics.Handler()))
}
