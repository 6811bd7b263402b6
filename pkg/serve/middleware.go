// Package serve is what the web and worker processes share for serving HTTP:
// the middleware stack (request id, request log and metrics, recovery, NUL
// and Host checks, body limit, the client-IP rule), the one mapping of
// errors to HTTP answers, /healthz, /readyz and /metrics, the anonymous
// throttle and the ways a request carries its token. It holds no route of
// the API or of the sockets (pkg/httpapi, pkg/ws).
package serve

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
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

// RequestIDOf is the request id RequestID gave this request.
func RequestIDOf(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// ValidRequestID is the rule for a client's X-Request-ID: 1–64 characters of
// [A-Za-z0-9._-]. Anything else is replaced, never echoed or logged.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch ch := id[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '.', ch == '_', ch == '-':
		default:
			return false
		}
	}
	return true
}

// RequestID takes the client's X-Request-ID when ValidRequestID allows it,
// else makes a new one; the response carries it, and so does the request
// (a forwarded socket upgrade passes it on to the worker).
func RequestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			id := r.Header.Get(echo.HeaderXRequestID)
			if !ValidRequestID(id) {
				id = newID()
				r.Header.Set(echo.HeaderXRequestID, id)
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			return next(c)
		}
	}
}

// RejectNUL answers 404 for a path that holds U+0000 or is not UTF-8 (a path
// id with either names nothing, and PostgreSQL refuses both) and 400 for such
// a query, before any handler or the database sees it.
func RejectNUL() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if !cleanText(r.URL.Path) {
				return apperr.NotFoundErr()
			}
			for _, v := range c.ParamValues() {
				if !cleanText(v) {
					return apperr.NotFoundErr()
				}
			}
			if r.URL.RawQuery != "" && (!cleanText(r.URL.RawQuery) || strings.Contains(r.URL.RawQuery, "%")) {
				for k, vs := range c.QueryParams() {
					for _, v := range append([]string{k}, vs...) {
						if !cleanText(v) {
							return apperr.New(apperr.Invalid, textProblem(v))
						}
					}
				}
			}
			return next(c)
		}
	}
}

// msgBadEncoding refuses text that is not UTF-8.
const msgBadEncoding = "El texto no es UTF-8 válido."

func textProblem(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return input.MsgNUL
	}
	return msgBadEncoding
}

// cleanText is text PostgreSQL takes: valid UTF-8 without U+0000.
func cleanText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
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
			metrics.HTTPRequests.WithLabelValues(route, c.Request().Method, statusLabel(status)).Inc()
			metrics.HTTPDuration.WithLabelValues(route, c.Request().Method).Observe(d.Seconds())
			level := slog.LevelInfo
			if probePaths[c.Request().URL.Path] {
				level = slog.LevelDebug
			}
			// Typed attributes: the same line without boxing each value.
			log.LogAttrs(c.Request().Context(), level, "request", slog.String("request_id", RequestIDOf(c)),
				slog.String("method", c.Request().Method), slog.String("route", route),
				slog.String("path", logPath(c.Request().URL.Path)), slog.Int("status", status),
				slog.String("ip", c.RealIP()), slog.Float64("duration_ms", float64(d.Microseconds())/1000))
			return nil
		}
	}
}

// statusLabels are the statuses as metric labels, made once (strconv.Itoa
// allocates for every number past 99).
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// maxLoggedPath bounds the client-written path in a log line.
const maxLoggedPath = 256

// logPath is the path as logged: at most maxLoggedPath bytes (the route
// pattern, logged beside it, says what was matched).
func logPath(p string) string {
	if len(p) <= maxLoggedPath {
		return p
	}
	return p[:maxLoggedPath] + "…"
}

// Recover turns panics into a logged 500 JSON answer.
func Recover(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic", "request_id", RequestIDOf(c), "err", err, "stack", string(stack))
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
		ExposeHeaders:    []string{echo.HeaderXRequestID, echo.HeaderRetryAfter},
		MaxAge:           600,
	})
}

// CommonOptions configure the middleware stack shared by web and worker.
type CommonOptions struct {
	// DeploymentHost enables the Host check (docs/config.md DEPLOYMENT_HOST).
	DeploymentHost string
	// TrustedProxyHops is docs/config.md's client-IP rule (TRUSTED_PROXY_HOPS).
	TrustedProxyHops int
}

// Common installs the middleware stack shared by web and worker, then the
// process's own (more, in order, inside the common ones), and the client-IP
// rule (c.RealIP() everywhere: logs, throttles, the staff login limit).
//
// They are installed as one Echo middleware composed once (Composed): call
// Common after no other e.Use, and add no e.Use after it.
func Common(e *echo.Echo, log *slog.Logger, o CommonOptions, more ...echo.MiddlewareFunc) {
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(log)
	e.IPExtractor = ClientIP(o.TrustedProxyHops)
	e.Pre(TrailingSlash())
	e.Use(Composed(append([]echo.MiddlewareFunc{
		RequestID(),
		RequestLog(log),
		Recover(log),
		RejectNUL(),
		HostCheck(o.DeploymentHost),
		middleware.BodyLimit("1MiB"), // = MaxBody ("1M" would be 10^6 bytes)
	}, more...)...))
}

// Composed is mws as one Echo middleware whose chain is built once. Echo
// builds its middleware chain around each request's handler for every
// request — one closure per middleware per request, most of the allocations
// a cached GET made in the stack (issue 23 §2); this chain is built here and
// ends by calling the handler Echo found for the request (c.Handler(), which
// is what Echo passes to its middleware as next). So it must be the last
// middleware given to e.Use: one added after it would be skipped.
func Composed(mws ...echo.MiddlewareFunc) echo.MiddlewareFunc {
	h := func(c echo.Context) error { return c.Handler()(c) }
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return func(echo.HandlerFunc) echo.HandlerFunc { return h }
}
