package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
)

// Detail is the shape of every non-validation error: {"detail": text}.
type Detail = apperr.Detail

// FavoriteRoute is the one route whose error bodies also carry the text under
// message (api.md "Errors": the frontend's favorite action reads message).
const FavoriteRoute = "/user/api/me/addresses/:id/add-favorite/"

func detail(msg string) Detail { return apperr.NewDetail(msg) }

// Status is the HTTP status of an error of kind k: the one mapping of the
// business layer's kinds to HTTP, used by the API's JSON answers (Render)
// and the console's pages alike. An unknown kind is a 500, never a 200.
func Status(k apperr.Kind) int {
	if s, ok := kindStatus[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

var kindStatus = map[apperr.Kind]int{
	apperr.Invalid:         http.StatusBadRequest,
	apperr.Unauthenticated: http.StatusUnauthorized,
	apperr.Forbidden:       http.StatusForbidden,
	apperr.NotFound:        http.StatusNotFound,
	apperr.Conflict:        http.StatusConflict,
	apperr.Throttled:       http.StatusTooManyRequests,
	apperr.Unavailable:     http.StatusServiceUnavailable,
	apperr.Internal:        http.StatusInternalServerError,
}

// Render maps any error to its status and DRF-shaped JSON body. It is the one
// place where errors become HTTP.
func Render(err error) (int, any) {
	if e, ok := apperr.As(err); ok {
		status := Status(e.Kind)
		if e.Kind == apperr.Invalid && len(e.Fields) > 0 {
			return status, e.Body()
		}
		msg := e.Message
		if status == http.StatusInternalServerError {
			msg = apperr.MsgInternal
		}
		return status, detail(msg)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, detail(apperr.MsgNotFound)
		case http.StatusRequestEntityTooLarge:
			return he.Code, detail("La solicitud es demasiado grande (máximo 1 MiB).")
		case http.StatusUnauthorized:
			return he.Code, detail(apperr.MsgNotAuth)
		case http.StatusBadRequest:
			return he.Code, detail(apperr.MsgMalformed)
		case http.StatusServiceUnavailable:
			return he.Code, detail("Servicio no disponible.")
		}
		if he.Code >= 500 {
			return he.Code, detail(apperr.MsgInternal)
		}
		return he.Code, detail(fmt.Sprint(he.Message))
	}
	return http.StatusInternalServerError, detail(apperr.MsgInternal)
}

// maxLoggedErr bounds an error's text in a log line: a refused token's
// claims or a client-named field can end up in it.
const maxLoggedErr = 1024

func logErr(err error) string {
	msg := err.Error()
	if len(msg) > maxLoggedErr {
		msg = msg[:maxLoggedErr] + "…"
	}
	return msg
}

// StatusClientClosed is the status logged and counted for a request whose
// client went away before its answer (nothing is sent).
const StatusClientClosed = 499

// ClientGone tells whether the request's client closed the connection
// before its answer (net/http cancels the request's context then). Whatever
// error followed (context canceled, a connection the driver dropped mid-query)
// is a consequence, and the transaction it interrupted rolled back.
func ClientGone(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// ErrorHandler is Echo's HTTPErrorHandler: every error answers JSON.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if ClientGone(c.Request().Context()) {
			// Nobody reads this answer: not a server error. 499 is the
			// status proxies log for it (nginx's "client closed request").
			log.Info("client closed the connection before the answer; its transaction rolled back",
				"request_id", RequestIDOf(c), "method", c.Request().Method, "path", logPath(c.Request().URL.Path),
				"status", StatusClientClosed, "err", logErr(err))
			c.Response().WriteHeader(StatusClientClosed)
			return
		}
		status, body := Render(err)
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed {
			body = detail(fmt.Sprintf("Método %q no permitido.", c.Request().Method))
		}
		if d, ok := body.(Detail); ok && c.Path() == FavoriteRoute {
			body = d.WithMessage()
		}
		if status == http.StatusUnauthorized {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="api"`)
		}
		level := slog.LevelDebug
		switch {
		case status >= 500:
			level = slog.LevelError
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			level = slog.LevelInfo
		}
		log.Log(c.Request().Context(), level, "request failed", "request_id", RequestIDOf(c),
			"method", c.Request().Method, "path", logPath(c.Request().URL.Path), "status", status, "err", logErr(err))
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, body)
		}
		if err != nil {
			log.Error("write error response", "err", err)
		}
	}
}
