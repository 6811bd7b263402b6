package apperr_test

import (
	"errors"
	"fmt"
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
