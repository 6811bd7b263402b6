package apperr_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"hermez/pkg/apperr"
)

func TestFields(t *testing.T) {
	var f apperr.Fields
	if f.Err() != nil || f.Clone() == nil || len(f.Clone()) != 0 {
		t.Fatal("nil Fields: no error, an empty clone")
	}
	f = apperr.Fields{}
	f.Add("name", "a")
	c := f.Clone()
	c.Add("name", "b")
	c.Add("city", "c")
	if len(f["name"]) != 1 || f.Has("city") || !c.Has("city") || len(c["name"]) != 2 {
		t.Fatalf("the clone shares state with the original: %v %v", f, c)
	}
	e, ok := apperr.As(fmt.Errorf("wrapped: %w", c.Err()))
	if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 2 {
		t.Fatalf("Err is an Invalid error carrying the fields: %+v", e)
	}
}

func TestBodyRepeatsTheFirstNonFieldMessageAsDetail(t *testing.T) {
	f := apperr.Fields{}
	f.Add(apperr.NonField, "primero")
	f.Add(apperr.NonField, "segundo")
	f.Add("rating", "malo")
	e, _ := apperr.As(f.Err())
	b := e.Body()
	if b["detail"] != "primero" || len(b) != 3 {
		t.Fatalf("body %v", b)
	}
	e2, _ := apperr.As(apperr.Field("rating", "malo"))
	if _, has := e2.Body()["detail"]; has {
		t.Fatalf("a field-only error has no detail: %v", e2.Body())
	}
}

func TestWrapKeepsTheCause(t *testing.T) {
	cause := errors.New("db down")
	e := apperr.Wrap(cause, "load user")
	if !errors.Is(e, cause) || e.Kind != apperr.Internal {
		t.Fatalf("Wrap: %+v", e)
	}
}

// Error's text (what the logs show): the kind, the message or the sorted
// field names — bounded, since a client names fields — and the cause.
func TestErrorText(t *testing.T) {
	many := apperr.Fields{}
	for i := range 11 {
		many.Add(fmt.Sprintf("f%02d", i), "x")
	}
	long := apperr.Fields{}
	long.Add(strings.Repeat("k", 100), "x")
	for _, c := range []struct {
		err  error
		want string
	}{
		{apperr.New(apperr.Conflict, "Ya existe."), "conflict: Ya existe."},
		{apperr.NotFoundErr(), "not_found: No encontrado."},
		{apperr.ForbiddenErr(), "forbidden: " + apperr.MsgForbidden},
		{apperr.Field("name", "x"), "invalid: invalid fields [name]"},
		{many.Err(), "invalid: invalid fields [f00 f01 f02 f03 f04 f05 f06 f07 f08 f09 (+1)]"},
		{long.Err(), "invalid: invalid fields [" + strings.Repeat("k", 64) + "…]"},
		{apperr.Wrap(errors.New("db down"), "load user"), "internal: Error interno del servidor.: load user: db down"},
		{apperr.NotAuthenticated("Token expirado.", errors.New("exp 12:00")), "unauthenticated: Token expirado.: exp 12:00"},
		{apperr.NotAuthenticated("Token expirado.", nil), "unauthenticated: Token expirado."},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}

// As finds the error through wrapping, and only an *Error.
func TestAs(t *testing.T) {
	for _, c := range []struct {
		err  error
		kind apperr.Kind
		ok   bool
	}{
		{apperr.NotFoundErr(), apperr.NotFound, true},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", apperr.ForbiddenErr())), apperr.Forbidden, true},
		{errors.Join(errors.New("x"), apperr.New(apperr.Conflict, "c")), apperr.Conflict, true},
		{errors.New("plain"), "", false},
		{nil, "", false},
	} {
		e, ok := apperr.As(c.err)
		if ok != c.ok || ok && e.Kind != c.kind {
			t.Errorf("As(%v) = %v, %v; want %s, %v", c.err, e, ok, c.kind, c.ok)
		}
	}
}

// A Detail carries message only where WithMessage put it (the favorite route).
func TestDetailJSON(t *testing.T) {
	for _, c := range []struct {
		d    apperr.Detail
		want string
	}{
		{apperr.NewDetail("No encontrado."), `{"detail":"No encontrado."}`},
		{apperr.NewDetail("No encontrado.").WithMessage(), `{"detail":"No encontrado.","message":"No encontrado."}`},
	} {
		if b, _ := json.Marshal(c.d); string(b) != c.want {
			t.Errorf("%#v: %s, want %s", c.d, b, c.want)
		}
	}
	if got := apperr.MsgNoObject(7); got != `Clave primaria "7" inválida - objeto no existe.` {
		t.Errorf("MsgNoObject: %q", got)
	}
}
