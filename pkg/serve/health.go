package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"hermez/pkg/metrics"
)

// newID is a request id: 32 hex digits, a random prefix drawn once per
// process and a counter, so ids are unique across processes and restarts
// without reading the system's random source on every request (3 % of
// web's CPU on GET categories/, issue 23). A request id names a request in
// the logs; it is no secret (a client may choose its own).
func newID() string {
	var b [32]byte
	hex.Encode(b[:16], idPrefix[:])
	n := idCounter.Add(1)
	for i := 31; i >= 16; i-- {
		b[i] = hexDigits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

var (
	idPrefix  = func() (p [8]byte) { _, _ = rand.Read(p[:]); return p }()
	idCounter atomic.Uint64
)

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
