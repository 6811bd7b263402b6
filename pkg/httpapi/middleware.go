package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"hermez/pkg/metrics"
)

// MaxBody is the request body limit.
const MaxBody = 1 << 20

// probePaths answer without Host check or trailing-slash rewrite.
var probePaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/openapi.json": true}

// TrailingSlash rewrites (never redirects) a path without its trailing slash
// to the slashed route, so /deliveries/api?status=… answers like /deliveries/api/.
// Probe paths and file names (with a dot in the last segment) are left alone.
func TrailingSlash() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			p := r.URL.Path
			if p != "" && !strings.HasSuffix(p, "/") && !probePaths[p] {
				last := p[strings.LastIndexByte(p, '/')+1:]
				if !strings.Contains(last, ".") {
					r.URL.Path = p + "/"
					if r.URL.RawPath != "" {
						r.URL.RawPath += "/"
					}
				}
			}
			return next(c)
		}
	}
}

// HostCheck is Django's ALLOWED_HOSTS: with a deployment host set, other Host
// headers (port ignored) get 400, except localhost, 127.0.0.1 and the probes.
func HostCheck(deploymentHost string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if deploymentHost == "" {
			return next
		}
		return func(c echo.Context) error {
			r := c.Request()
			if probePaths[r.URL.Path] || r.URL.Path == "/user/webhooks/clerk/" || r.URL.Path == "/user/webhooks/clerk" {
				return next(c)
			}
			host := strings.ToLower(r.Host)
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			host = strings.Trim(host, "[]")
			if host == deploymentHost || host == "localhost" || host == "127.0.0.1" || host == "::1" {
				return next(c)
			}
			return c.JSON(http.StatusBadRequest, detail("Host no permitido: "+r.Host))
		}
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// RequestLog logs every request once with its id, route, status and duration,
// and records the Prometheus metrics.
func RequestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			metrics.HTTPRequests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
			metrics.HTTPDuration.WithLabelValues(route, c.Request().Method).Observe(d.Seconds())
			level := slog.LevelInfo
			if probePaths[c.Request().URL.Path] {
				level = slog.LevelDebug
			}
			log.Log(c.Request().Context(), level, "request", "request_id", requestID(c), "method", c.Request().Method,
				"route", route, "path", c.Request().URL.Path, "status", status, "duration_ms", float64(d.Microseconds())/1000)
			return nil
		}
	}
}

// Recover turns panics into a logged 500 JSON answer.
func Recover(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic", "request_id", requestID(c), "err", err, "stack", string(stack))
			return err
		},
	})
}

// CORS allows the configured origins with credentials; preflights answer without auth.
func CORS(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:     origins,
		AllowCredentials: true,
		AllowMethods:     []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID, "X-CSRFToken", "Accept"},
		ExposeHeaders:    []string{echo.HeaderXRequestID},
		MaxAge:           600,
	})
}

// Common installs the middleware stack shared by web and worker.
func Common(e *echo.Echo, log *slog.Logger, deploymentHost string) {
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(log)
	e.Pre(TrailingSlash())
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		Generator: func() string { return newID() },
	}))
	e.Use(RequestLog(log))
	e.Use(Recover(log))
	e.Use(HostCheck(deploymentHost))
	e.Use(middleware.BodyLimit("1MiB")) // = MaxBody ("1M" would be 10^6 bytes)
}
