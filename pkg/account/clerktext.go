package account

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Clerk's text is stored, not refused: its webhook payloads and token
// claims lose U+0000 (PostgreSQL refuses it in text and jsonb) and are cut to
// their columns' bounds, because Clerk would retry a refused event for days.
// Request bodies are not cleaned but refused, field by field, by the
// adapters' decoder (pkg/input).

// nulEscape is how U+0000 appears in JSON text (a raw NUL byte is not valid
// JSON).
var nulEscape = []byte(`\u0000`)

// stripNUL removes U+0000 from s and replaces bytes that are not UTF-8 with
// U+FFFD: what PostgreSQL refuses, for data that must be cleaned, not refused.
func stripNUL(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

// clip cuts s to at most n runes (for data that must be kept within a
// column's bounds, not refused).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// cleanJSON returns payload with U+0000 removed from every string and key, at any
// depth. A payload without NULs is returned as it is; invalid JSON is
// returned unchanged for the caller's decoder to refuse. Numbers keep their
// exact text.
func cleanJSON(payload []byte) []byte {
	if !bytes.Contains(payload, nulEscape) {
		return payload
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return payload
	}
	out, err := json.Marshal(cleanAny(v))
	if err != nil {
		return payload
	}
	return out
}

func cleanAny(v any) any {
	switch t := v.(type) {
	case string:
		return stripNUL(t)
	case []any:
		for i := range t {
			t[i] = cleanAny(t[i])
		}
		return t
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[stripNUL(k)] = cleanAny(e)
		}
		return out
	}
	return v
}
