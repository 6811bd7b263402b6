package testutil

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"hermez/pkg/apperr"
)

// ErrorKeys are the keys of a JSON error body, sorted (nil when the body is
// not a JSON object).
func ErrorKeys(body []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DetailText asserts that body is exactly api.md's error shape
// {"detail": text} (one key, a non-empty text) and returns the text.
func DetailText(t testing.TB, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, body)
	}
	d, _ := m["detail"].(string)
	if keys := ErrorKeys(body); strings.Join(keys, ",") != "detail" || d == "" {
		t.Fatalf("error body keys %v, want exactly [detail] with a text: %s", keys, body)
	}
	return d
}

// FieldsOf is the field messages of err; the test fails unless err is a
// validation error (apperr.Invalid, a 400).
func FieldsOf(t testing.TB, err error) apperr.Fields {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("want a 400 field error, got %v", err)
	}
	return e.Fields
}

// Ptr is a pointer to a copy of v (optional fields of inputs and rows).
// Tests inside pkg/httpapi and pkg/consoleweb keep their own: pkg/testutil
// imports pkg/app, which imports them.
func Ptr[T any](v T) *T { return &v }

// Context is a context for one test: canceled once the test and its cleanups
// end, and after two minutes at the latest so a stuck database call fails.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
