// Package apperr is the one error type of the business layer: a kind (what the
// serving layer maps to an HTTP status: serve.Status), a message in Spanish
// (what the UI shows), and field messages for validation errors. Services
// return it; pkg/serve renders it once.
package apperr

import (
	"errors"
	"fmt"
	"sort"
)

// Kind classifies an error.
type Kind string

const (
	Invalid         Kind = "invalid"         // 400, field errors or a refused state
	Unauthenticated Kind = "unauthenticated" // 401
	Forbidden       Kind = "forbidden"       // 403
	NotFound        Kind = "not_found"       // 404
	Conflict        Kind = "conflict"        // 409
	Throttled       Kind = "throttled"       // 429 (with Retry-After)
	Unavailable     Kind = "unavailable"     // 503
	Internal        Kind = "internal"        // 500
)

// NonField is the key DRF uses for errors that span fields.
const NonField = "non_field_errors"

// Standard messages, as DRF phrased them in Spanish.
const (
	MsgRequired     = "Este campo es requerido."
	MsgNotFound     = "No encontrado."
	MsgForbidden    = "Usted no tiene permiso para realizar esta acción."
	MsgNotAuth      = "Las credenciales de autenticación no se proveyeron."
	MsgInternal     = "Error interno del servidor."
	MsgMalformed    = "JSON mal formado."
	MsgInvalidValue = "Valor inválido."
)

// MsgNoObject is DRF's message for a primary key that names no row (a
// related field: a category, a vehicle, a user).
func MsgNoObject(pk any) string {
	return fmt.Sprintf("Clave primaria \"%v\" inválida - objeto no existe.", pk)
}

// Error is the business error.
type Error struct {
	Kind    Kind
	Message string              // detail/error text for non-field errors
	Fields  map[string][]string // validation messages by field (Kind Invalid)
	Err     error               // wrapped cause, logged, never shown
}

func (e *Error) Error() string {
	msg := e.Message
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			if len(k) > 64 { // a client may name a field anything: bounded in logs
				k = k[:64] + "…"
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 10 {
			keys = append(keys[:10], fmt.Sprintf("(+%d)", len(keys)-10))
		}
		msg = fmt.Sprintf("invalid fields %v", keys)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// New makes an error of a kind with a message.
func New(kind Kind, msg string) *Error { return &Error{Kind: kind, Message: msg} }

// Wrap makes an internal error that keeps its cause for the logs.
func Wrap(err error, context string) *Error {
	return &Error{Kind: Internal, Message: MsgInternal, Err: fmt.Errorf("%s: %w", context, err)}
}

// Field makes a validation error on one field.
func Field(field, msg string) *Error {
	return &Error{Kind: Invalid, Fields: map[string][]string{field: {msg}}}
}

// NotAuthenticated is an authentication failure (401): msg for the client
// ("Token expirado.", …), reason for the logs only.
func NotAuthenticated(msg string, reason error) *Error {
	return &Error{Kind: Unauthenticated, Message: msg, Err: reason}
}

// NotFoundErr is the 404 "No encontrado.".
func NotFoundErr() *Error { return New(NotFound, MsgNotFound) }

// ForbiddenErr is the 403 "no tiene permiso".
func ForbiddenErr() *Error { return New(Forbidden, MsgForbidden) }

// Detail is the body of every error that is not about one field: one text
// under one key (docs/api.md "Errors": three of the frontend's actions join every
// key of an error body into what they show). Message is set only on the
// address favorite's errors (that action reads message); empty, it is left out.
type Detail struct {
	Detail  string `json:"detail"`
	Message string `json:"message,omitempty"`
}

// NewDetail is the Detail of msg.
func NewDetail(msg string) Detail { return Detail{Detail: msg} }

// WithMessage is d with its text also under message (the favorite route).
func (d Detail) WithMessage() Detail { d.Message = d.Detail; return d }

// Body is the JSON body of a validation error: DRF's field map, plus, when a
// rule spans fields (non_field_errors), detail holding its first message so
// the frontend shows it.
func (e *Error) Body() map[string]any {
	out := make(map[string]any, len(e.Fields)+1)
	for k, v := range e.Fields {
		out[k] = v
	}
	if nf := e.Fields[NonField]; len(nf) > 0 {
		out["detail"] = nf[0]
	}
	return out
}

// Fields collects validation messages; Err returns nil when none were added.
type Fields map[string][]string

// Add appends a message to a field.
func (f Fields) Add(field, msg string) { f[field] = append(f[field], msg) }

// Clone is a copy of f (nil-safe) that a service adds its own errors to
// without touching the caller's map (an input's decoding errors).
func (f Fields) Clone() Fields {
	out := make(Fields, len(f))
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Has tells whether a field already has a message.
func (f Fields) Has(field string) bool { return len(f[field]) > 0 }

// Err is nil without messages, else an Invalid error carrying them.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Fields: map[string][]string(f)}
}

// As extracts the *Error from err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
