package testutil

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
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
