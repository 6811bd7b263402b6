// Package input reads request bodies the way DRF did: numbers or numeric
// strings for integers and decimals, unknown fields ignored, every problem
// collected as a field message (apperr.Fields) instead of failing the decode.
// Business services take a Body, so the HTTP API and the staff console (whose
// form values become a Body) validate alike.
package input

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
)

// Messages (DRF's, in Spanish).
const (
	MsgRequired = apperr.MsgRequired
	MsgNull     = "Este campo no puede ser nulo."
	MsgBlank    = "Este campo no puede estar en blanco."
	MsgInteger  = "Introduzca un número entero válido."
	MsgNumber   = "Introduzca un número válido."
	MsgBool     = "Debe ser un valor booleano válido."
	MsgString   = "No es una cadena válida."
	MsgUUID     = "Debe ser un UUID válido."
	MsgList     = "Se esperaba una lista de elementos."
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
	return m, nil
}

// FromStrings makes a Body from form values (each a JSON string).
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

// scalarText returns the text of a JSON string or number.
func (b Body) scalarText(key string) (string, bool) {
	raw := bytes.TrimSpace(b[key])
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
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
		if json.Unmarshal(trim, &s) != nil {
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

// Int reads an integer (JSON number or numeric string). ok false when absent or invalid.
func (b Body) Int(key string, f apperr.Fields, required, nullable bool) (val *int64, sent bool) {
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
	if !ok || s == "" {
		if ok && s == "" && nullable && !required {
			return nil, true
		}
		f.Add(key, MsgInteger)
		return nil, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// DRF accepts "25.0"
		d, derr := decimal.NewFromString(s)
		if derr != nil || !d.Equal(d.Truncate(0)) {
			f.Add(key, MsgInteger)
			return nil, false
		}
		n = d.IntPart()
	}
	return &n, true
}

// Decimal reads a decimal with at most maxDigits digits and places decimals.
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
	d, err := decimal.NewFromString(s)
	if !ok || err != nil || strings.ContainsAny(s, "eE") {
		f.Add(key, MsgNumber)
		return nil, false
	}
	if -d.Exponent() > places && !d.Equal(d.Round(places)) {
		f.Add(key, fmt.Sprintf("Asegúrese de que no haya más de %d decimales.", places))
		return nil, false
	}
	whole := d.Abs().Truncate(0).String()
	digits := len(whole)
	if whole == "0" {
		digits = 0
	}
	if int32(digits) > maxDigits-places {
		f.Add(key, fmt.Sprintf("Asegúrese de que no haya más de %d dígitos antes del punto decimal.", maxDigits-places))
		return nil, false
	}
	d = d.Round(places)
	return &d, true
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
		if json.Unmarshal(it, &s) != nil {
			f.Add(key, MsgString)
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
