// Package input reads request bodies the way DRF did: numbers or numeric
// strings for integers and decimals, unknown fields ignored, every problem
// collected as a field message (apperr.Fields) instead of failing the decode.
// The adapters decode with it — the HTTP API, and the staff console whose form
// values become a Body — so both validate alike. Text that must be cleaned
// rather than refused (Clerk's data) is pkg/store's (text.go).
package input

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/geo"
	"hermez/pkg/optional"
)

// Messages (DRF's, in Spanish).
const (
	MsgRequired = apperr.MsgRequired
	MsgNull     = "Este campo no puede ser nulo."
	MsgBlank    = "Este campo no puede estar en blanco."
	MsgInteger  = "Se requiere un número entero válido."
	MsgNumber   = "Introduzca un número válido."
	MsgNUL      = "Caracteres nulos no están permitidos."
	MsgBool     = "Debe ser un valor booleano válido."
	MsgString   = "No es una cadena válida."
	MsgUUID     = "Debe ser un UUID válido."
	MsgList     = "Se esperaba una lista de elementos."
	MsgFloat    = "Se requiere un número válido."
)

// Body is a decoded JSON object, field by field.
type Body map[string]json.RawMessage

// Decode reads a JSON object. An empty body is an empty object; anything else
// that is not an object is a 400 "JSON mal formado."
func Decode(b []byte) (Body, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return Body{}, nil
	}
	var m Body
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, apperr.New(apperr.Invalid, apperr.MsgMalformed)
	}
	if err := m.checkNUL(); err != nil {
		return nil, err
	}
	return m, nil
}

// nulEscape is how U+0000 appears in JSON text (a raw NUL byte is not valid
// JSON and fails the decode). PostgreSQL refuses it in text and jsonb, so a
// string that carries it is refused here, once, for every route: the field
// error names the top-level field whose value (at any depth) or name holds it.
var nulEscape = []byte(`\u0000`)

func (b Body) checkNUL() error {
	f := apperr.Fields{}
	for k, raw := range b {
		switch {
		case strings.ContainsRune(k, 0):
			f.Add(apperr.NonField, MsgNUL)
		case hasNUL(raw):
			f.Add(k, MsgNUL)
		}
	}
	return f.Err()
}

// hasNUL tells whether a JSON value holds U+0000 in any string. The escape is
// looked for on the raw text first (the common case costs one scan); a match
// is confirmed by decoding, since `\\u0000` (an escaped backslash) is not one.
func hasNUL(raw json.RawMessage) bool {
	if !bytes.Contains(raw, nulEscape) {
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return true
	}
	return anyNUL(v)
}

func anyNUL(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.ContainsRune(t, 0)
	case []any:
		for _, e := range t {
			if anyNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range t {
			if strings.ContainsRune(k, 0) || anyNUL(e) {
				return true
			}
		}
	}
	return false
}

// FromStrings makes a Body from form values (each a JSON string).
// Form values are not checked for NUL here: String and StringList refuse them
// when read.
func FromStrings(values map[string]string) Body {
	m := Body{}
	for k, v := range values {
		b, _ := json.Marshal(v)
		m[k] = b
	}
	return m
}

// Set puts a value (marshalled) into the body.
func (b Body) Set(key string, v any) {
	raw, _ := json.Marshal(v)
	b[key] = raw
}

// Has tells whether key was sent (null included).
func (b Body) Has(key string) bool { _, ok := b[key]; return ok }

// IsNull tells whether key was sent as null.
func (b Body) IsNull(key string) bool {
	raw, ok := b[key]
	return ok && string(bytes.TrimSpace(raw)) == "null"
}

// First returns the first of keys that was sent ("" when none): for aliases.
func (b Body) First(keys ...string) string {
	for _, k := range keys {
		if b.Has(k) {
			return k
		}
	}
	return ""
}

// unquote is json.Unmarshal(raw, s) for a JSON string; one with nothing to
// unescape or replace (no backslash, no control character, valid UTF-8) is
// read directly, without the decoder.
func unquote(raw []byte, s *string) error {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		body := raw[1 : n-1]
		plain := true
		for _, c := range body {
			if c < 0x20 || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(body) {
			*s = string(body)
			return nil
		}
	}
	return json.Unmarshal(raw, s)
}

// scalarText returns the text of a JSON string or number.
func (b Body) scalarText(key string) (string, bool) {
	raw := bytes.TrimSpace(b[key])
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if unquote(raw, &s) != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	}
	if raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') {
		return string(raw), true
	}
	return "", false
}

// String reads a string field. ok is false when absent or invalid (a message is
// added when invalid). null reads as nil with ok true when nullable.
type StringOpts struct {
	Required   bool
	Nullable   bool
	AllowBlank bool
	MaxLen     int
	Choices    []string
}

// String reads key as a string (trimmed of nothing: DRF trims whitespace, so do we).
func (b Body) String(key string, f apperr.Fields, o StringOpts) (val *string, sent bool) {
	raw, ok := b[key]
	if !ok {
		if o.Required {
			f.Add(key, MsgRequired)
		}
		return nil, false
	}
	if b.IsNull(key) {
		if !o.Nullable {
			f.Add(key, MsgNull)
		}
		return nil, o.Nullable
	}
	var s string
	trim := bytes.TrimSpace(raw)
	switch {
	case len(trim) > 0 && trim[0] == '"':
		if unquote(trim, &s) != nil {
			f.Add(key, MsgString)
			return nil, false
		}
	case len(trim) > 0 && (trim[0] == '-' || (trim[0] >= '0' && trim[0] <= '9')):
		s = string(trim) // DRF accepts numbers for CharField
	case string(trim) == "true" || string(trim) == "false":
		s = string(trim)
	default:
		f.Add(key, MsgString)
		return nil, false
	}
	if strings.IndexByte(s, 0) >= 0 {
		f.Add(key, MsgNUL)
		return nil, false
	}
	s = strings.TrimSpace(s)
	if s == "" && !o.AllowBlank {
		if o.Nullable && !o.Required {
			return nil, true
		}
		f.Add(key, MsgBlank)
		return nil, false
	}
	if o.MaxLen > 0 && len([]rune(s)) > o.MaxLen {
		f.Add(key, fmt.Sprintf("Asegúrese de que este campo no tenga más de %d caracteres.", o.MaxLen))
		return nil, false
	}
	if len(o.Choices) > 0 && s != "" {
		valid := false
		for _, c := range o.Choices {
			if c == s {
				valid = true
				break
			}
		}
		if !valid {
			f.Add(key, fmt.Sprintf("%q no es una elección válida.", s))
			return nil, false
		}
	}
	return &s, true
}

// Column range of an `integer` column: the default bounds of Int.
const (
	MinInt32 = math.MinInt32
	MaxInt32 = math.MaxInt32
)

// maxNumberLen bounds the text of a number (DRF's MAX_STRING_LENGTH): longer
// input is refused before it is parsed.
const maxNumberLen = 1000

// IntOpts are the rules of an integer field. Min and Max are inclusive; both
// zero means the range of an `integer` column. RangeMsg, when set, replaces
// DRF's "menor/mayor o igual" messages (a %d in it gets the bound it broke).
type IntOpts struct {
	Required, Nullable bool
	Min, Max           int64
	RangeMsg           string
}

// MsgMax and MsgMin are DRF's range messages.
func MsgMax(n int64) string {
	return fmt.Sprintf("Asegúrese de que este valor sea menor o igual a %d.", n)
}
func MsgMin(n int64) string {
	return fmt.Sprintf("Asegúrese de que este valor sea mayor o igual a %d.", n)
}

// Int reads an integer within the range of an `integer` column.
func (b Body) Int(key string, f apperr.Fields, required, nullable bool) (val *int64, sent bool) {
	return b.IntIn(key, f, IntOpts{Required: required, Nullable: nullable})
}

// plainInt is an integer as DRF takes it: digits, optionally with a ".0…" tail.
var plainInt = regexp.MustCompile(`^[+-]?[0-9]+(\.0*)?$`)

// IntIn reads an integer (JSON number or numeric string) and checks its range:
// a value outside it is a field error, never wrapped or truncated. ok is false
// when absent or invalid.
func (b Body) IntIn(key string, f apperr.Fields, o IntOpts) (val *int64, sent bool) {
	if !b.Has(key) {
		if o.Required {
			f.Add(key, MsgRequired)
		}
		return nil, false
	}
	if b.IsNull(key) {
		if !o.Nullable {
			f.Add(key, MsgNull)
		}
		return nil, o.Nullable
	}
	s, ok := b.scalarText(key)
	if !ok || s == "" {
		if ok && s == "" && o.Nullable && !o.Required {
			return nil, true
		}
		f.Add(key, MsgInteger)
		return nil, false
	}
	lo, hi := o.Min, o.Max
	if lo == 0 && hi == 0 {
		lo, hi = MinInt32, MaxInt32
	}
	n, cmp, valid := parseInt(s, lo, hi)
	switch {
	case !valid:
		f.Add(key, MsgInteger)
		return nil, false
	case cmp > 0:
		f.Add(key, rangeMsg(o.RangeMsg, hi, MsgMax))
		return nil, false
	case cmp < 0:
		f.Add(key, rangeMsg(o.RangeMsg, lo, MsgMin))
		return nil, false
	}
	return &n, true
}

func rangeMsg(custom string, bound int64, drf func(int64) string) string {
	switch {
	case custom == "":
		return drf(bound)
	case strings.Contains(custom, "%d"):
		return fmt.Sprintf(custom, bound)
	}
	return custom
}

// parseInt reads s as an integer and compares it with [lo, hi]: cmp is -1
// below, +1 above, 0 inside (then n is the value). valid is false when s is no
// integer: text, a fraction, an infinity, or longer than maxNumberLen. The
// comparison is exact whatever the size of s (2^64+5 is above, not 5).
func parseInt(s string, lo, hi int64) (n int64, cmp int, valid bool) {
	if len(s) > maxNumberLen {
		return 0, 0, false
	}
	if plainInt.MatchString(s) {
		if i := strings.IndexByte(s, '.'); i >= 0 {
			s = s[:i]
		}
		v, ok := new(big.Int).SetString(strings.TrimPrefix(s, "+"), 10)
		if !ok {
			return 0, 0, false
		}
		switch {
		case v.Cmp(big.NewInt(hi)) > 0:
			return 0, 1, true
		case v.Cmp(big.NewInt(lo)) < 0:
			return 0, -1, true
		}
		return v.Int64(), 0, true
	}
	// A JSON number in exponent form (2.5e1): accepted when it is a whole
	// number, as DRF does for the float it becomes; 1e309 is no integer.
	if !strings.ContainsAny(s, "eE") {
		return 0, 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) || x != math.Trunc(x) {
		return 0, 0, false
	}
	switch {
	case x > float64(hi):
		return 0, 1, true
	case x < float64(lo):
		return 0, -1, true
	}
	return int64(x), 0, true
}

// msgMaxDigits refuses a number with more than maxDigits digits.
func msgMaxDigits(maxDigits int32) string {
	return fmt.Sprintf("Asegúrese de que no haya más de %d dígitos en total.", maxDigits)
}

// Decimal reads a decimal with at most maxDigits digits and places decimals.
// Like DRF: more digits than the column holds, more decimals than places (a
// tail of zeros aside), or more whole digits than maxDigits-places are field
// errors; nothing is rounded away.
func (b Body) Decimal(key string, f apperr.Fields, maxDigits, places int32, required, nullable bool) (val *decimal.Decimal, sent bool) {
	if !b.Has(key) {
		if required {
			f.Add(key, MsgRequired)
		}
		return nil, false
	}
	if b.IsNull(key) {
		if !nullable {
			f.Add(key, MsgNull)
		}
		return nil, nullable
	}
	s, ok := b.scalarText(key)
	if ok && s == "" && nullable && !required {
		return nil, true
	}
	if ok && len(s) > maxNumberLen {
		f.Add(key, msgMaxDigits(maxDigits))
		return nil, false
	}
	if !ok || strings.ContainsAny(s, "eE") {
		f.Add(key, MsgNumber)
		return nil, false
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		f.Add(key, MsgNumber)
		return nil, false
	}
	whole, frac := digitCounts(s)
	switch {
	case whole+frac > int(maxDigits):
		f.Add(key, msgMaxDigits(maxDigits))
		return nil, false
	case frac > int(places):
		f.Add(key, fmt.Sprintf("Asegúrese de que no haya más de %d decimales.", places))
		return nil, false
	case whole > int(maxDigits-places):
		f.Add(key, fmt.Sprintf("Asegúrese de que no haya más de %d dígitos antes del punto decimal.", maxDigits-places))
		return nil, false
	}
	d = d.Round(places)
	return &d, true
}

// digitCounts counts the significant whole digits (leading zeros aside) and
// the decimals (trailing zeros aside) of a plain decimal text.
func digitCounts(s string) (whole, frac int) {
	s = strings.TrimLeft(s, "+-")
	w, fr, _ := strings.Cut(s, ".")
	w = strings.TrimLeft(w, "0")
	fr = strings.TrimRight(fr, "0")
	return len(w), len(fr)
}

// Bool reads true/false (also "true"/"false", 1/0 like DRF).
func (b Body) Bool(key string, f apperr.Fields, required bool) (val bool, sent bool) {
	if !b.Has(key) {
		if required {
			f.Add(key, MsgRequired)
		}
		return false, false
	}
	raw := strings.Trim(strings.ToLower(string(bytes.TrimSpace(b[key]))), `"`)
	switch raw {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	f.Add(key, MsgBool)
	return false, false
}

// UUID reads a UUID string. Nullable null → (nil, true).
func (b Body) UUID(key string, f apperr.Fields, required, nullable bool) (val *uuid.UUID, sent bool) {
	if !b.Has(key) {
		if required {
			f.Add(key, MsgRequired)
		}
		return nil, false
	}
	if b.IsNull(key) {
		if !nullable {
			f.Add(key, MsgNull)
		}
		return nil, nullable
	}
	s, ok := b.scalarText(key)
	if ok && s == "" && nullable && !required {
		return nil, true
	}
	id, err := uuid.Parse(s)
	if !ok || err != nil {
		f.Add(key, MsgUUID)
		return nil, false
	}
	return &id, true
}

// StringList reads a list of strings.
func (b Body) StringList(key string, f apperr.Fields) (val []string, sent bool) {
	if !b.Has(key) {
		return nil, false
	}
	if b.IsNull(key) {
		f.Add(key, MsgNull)
		return nil, false
	}
	var items []json.RawMessage
	if json.Unmarshal(b[key], &items) != nil {
		f.Add(key, MsgList)
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if unquote(it, &s) != nil {
			f.Add(key, MsgString)
			return nil, false
		}
		if strings.IndexByte(s, 0) >= 0 {
			f.Add(key, MsgNUL)
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// floatText is a number as DRF's FloatField takes it (Python's float() of a
// plain decimal): digits with an optional fraction and exponent. Go's
// ParseFloat alone would also take "Inf", "NaN", hex floats and underscores.
var floatText = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// Latitude and Longitude are the bounds of Coordinate (place.md §1).
const (
	Latitude  = 90
	Longitude = 180
)

// Coordinate reads a latitude (limit Latitude) or a longitude (limit
// Longitude) in decimal degrees (place.md §1): a JSON number or numeric
// string within −limit..limit, rounded to 6 decimals (more are never
// refused). null, or a blank string, is Null (it clears the column); not
// sent, or sent invalid (the message added to f), is not Set. NaN,
// infinities, booleans, lists and objects are MsgFloat; a value out of range
// gets DRF's MsgMin/MsgMax.
func (b Body) Coordinate(key string, f apperr.Fields, limit int64) optional.Field[float64] {
	if !b.Has(key) {
		return optional.Field[float64]{}
	}
	if b.IsNull(key) {
		return optional.Null[float64]()
	}
	s, ok := b.scalarText(key)
	if ok && s == "" {
		return optional.Null[float64]()
	}
	if !ok || len(s) > maxNumberLen || !floatText.MatchString(s) {
		f.Add(key, MsgFloat)
		return optional.Field[float64]{}
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) { // 1e400 is beyond float64
		f.Add(key, MsgFloat)
		return optional.Field[float64]{}
	}
	switch {
	case x > float64(limit):
		f.Add(key, MsgMax(limit))
		return optional.Field[float64]{}
	case x < -float64(limit):
		f.Add(key, MsgMin(-limit))
		return optional.Field[float64]{}
	}
	return optional.Value(geo.Round6(x))
}
