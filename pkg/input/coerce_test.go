package input_test

import (
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
)

// body decodes one JSON object or fails the test.
func body(t *testing.T, js string) input.Body {
	t.Helper()
	b, err := input.Decode([]byte(js))
	if err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return b
}

// Decimals as client_price (10 digits, 2 places, required) takes them: the
// typed value, or the field message.
func TestDecimalCoercion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		js   string
		want string // decimal text, "" for none
		sent bool
		msg  string
	}{
		{`{"v": 12000}`, "12000", true, ""},
		{`{"v": "12000.50"}`, "12000.5", true, ""},
		{`{"v": 3.5}`, "3.5", true, ""},
		{`{"v": "0.10"}`, "0.1", true, ""},
		{`{"v": "1.230"}`, "1.23", true, ""}, // a tail of zeros is no extra place
		{`{"v": -5}`, "-5", true, ""},        // the sign is the caller's rule
		{`{"v": "1.234"}`, "", false, "Asegúrese de que no haya más de 2 decimales."},
		{`{"v": 123456789}`, "", false, "Asegúrese de que no haya más de 8 dígitos antes del punto decimal."},
		{`{"v": 12345678901}`, "", false, "Asegúrese de que no haya más de 10 dígitos en total."},
		{`{"v": "1e3"}`, "", false, input.MsgNumber},
		{`{"v": "doce"}`, "", false, input.MsgNumber},
		{`{"v": true}`, "", false, input.MsgNumber},
		{`{"v": null}`, "", false, input.MsgNull},
		{`{}`, "", false, input.MsgRequired},
	} {
		f := apperr.Fields{}
		v, sent := body(t, c.js).Decimal("v", f, 10, 2, true, false)
		if sent != c.sent || (c.want == "") != (v == nil) || (v != nil && !v.Equal(decimal.RequireFromString(c.want))) {
			t.Errorf("%s: got %v sent=%v, want %s sent=%v", c.js, v, sent, c.want, c.sent)
		}
		if got := first(f["v"]); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.js, got, c.msg)
		}
	}
}

// Integers as extend-expiration's minutes (1..100000) takes them.
func TestIntCoercion(t *testing.T) {
	t.Parallel()
	const rangeMsg = "fuera de rango"
	for _, c := range []struct {
		js   string
		want int64
		ok   bool
		msg  string
	}{
		{`{"v": 30}`, 30, true, ""},
		{`{"v": "30"}`, 30, true, ""},
		{`{"v": 30.0}`, 30, true, ""},
		{`{"v": "+7"}`, 7, true, ""},
		{`{"v": 2.5e1}`, 25, true, ""},
		{`{"v": 100000}`, 100000, true, ""},
		{`{"v": 100001}`, 0, false, rangeMsg},
		{`{"v": 0}`, 0, false, rangeMsg},
		{`{"v": 18446744073709551621}`, 0, false, rangeMsg}, // 2^64+5 is above, not 5
		{`{"v": 1.5}`, 0, false, input.MsgInteger},
		{`{"v": "treinta"}`, 0, false, input.MsgInteger},
		{`{"v": 1e309}`, 0, false, input.MsgInteger},
		{`{"v": null}`, 0, false, input.MsgNull},
	} {
		f := apperr.Fields{}
		v, ok := body(t, c.js).IntIn("v", f, input.IntOpts{Required: true, Min: 1, Max: 100000, RangeMsg: rangeMsg})
		if ok != c.ok || (c.ok && (v == nil || *v != c.want)) {
			t.Errorf("%s: got %v ok=%v, want %d ok=%v", c.js, v, ok, c.want, c.ok)
		}
		if got := first(f["v"]); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.js, got, c.msg)
		}
	}
}

// UUIDs as vehicle_type_id (optional, nullable) takes them.
func TestUUIDCoercion(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0b6c3c8e-6a4e-4c52-9a53-2f1e4c7d9a10")
	for _, c := range []struct {
		js   string
		want *uuid.UUID
		sent bool
		msg  string
	}{
		{`{"v": "0b6c3c8e-6a4e-4c52-9a53-2f1e4c7d9a10"}`, &id, true, ""},
		{`{"v": "0B6C3C8E-6A4E-4C52-9A53-2F1E4C7D9A10"}`, &id, true, ""},
		{`{"v": null}`, nil, true, ""}, // sent: clears it
		{`{"v": ""}`, nil, true, ""},
		{`{}`, nil, false, ""},
		{`{"v": "not-a-uuid"}`, nil, false, input.MsgUUID},
		{`{"v": 42}`, nil, false, input.MsgUUID},
	} {
		f := apperr.Fields{}
		v, sent := body(t, c.js).UUID("v", f, false, true)
		if sent != c.sent || (c.want == nil) != (v == nil) || (v != nil && *v != *c.want) {
			t.Errorf("%s: got %v sent=%v, want %v sent=%v", c.js, v, sent, c.want, c.sent)
		}
		if got := first(f["v"]); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.js, got, c.msg)
		}
	}
}

// Booleans as is_active takes them (DRF's spellings).
func TestBoolCoercion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		js         string
		want, sent bool
		msg        string
	}{
		{`{"v": true}`, true, true, ""},
		{`{"v": "false"}`, false, true, ""},
		{`{"v": 1}`, true, true, ""},
		{`{"v": "0"}`, false, true, ""},
		{`{"v": "on"}`, true, true, ""},
		{`{"v": "quizás"}`, false, false, input.MsgBool},
		{`{}`, false, false, ""},
	} {
		f := apperr.Fields{}
		v, sent := body(t, c.js).Bool("v", f, false)
		if v != c.want || sent != c.sent {
			t.Errorf("%s: got %v sent=%v, want %v sent=%v", c.js, v, sent, c.want, c.sent)
		}
		if got := first(f["v"]); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.js, got, c.msg)
		}
	}
}

// Strings as payment_method (choices) and description (nullable, blank
// allowed) take them: trimmed, numbers accepted as text.
func TestStringCoercion(t *testing.T) {
	t.Parallel()
	choices := input.StringOpts{Choices: []string{"efectivo", "nequi"}}
	free := input.StringOpts{Nullable: true, AllowBlank: true, MaxLen: 5}
	for _, c := range []struct {
		js   string
		opts input.StringOpts
		want *string
		sent bool
		msg  string
	}{
		{`{"v": " nequi "}`, choices, sp("nequi"), true, ""},
		{`{"v": "tarjeta"}`, choices, nil, false, `"tarjeta" no es una elección válida.`},
		{`{"v": ""}`, choices, nil, false, input.MsgBlank},
		{`{"v": 12}`, free, sp("12"), true, ""},
		{`{"v": "  "}`, free, sp(""), true, ""},
		{`{"v": null}`, free, nil, true, ""},
		{`{"v": "seis!!"}`, free, nil, false, "Asegúrese de que este campo no tenga más de 5 caracteres."},
		{`{"v": ["a"]}`, free, nil, false, input.MsgString},
	} {
		f := apperr.Fields{}
		v, sent := body(t, c.js).String("v", f, c.opts)
		if sent != c.sent || (c.want == nil) != (v == nil) || (v != nil && *v != *c.want) {
			t.Errorf("%s: got %v sent=%v, want %v sent=%v", c.js, deref(v), sent, deref(c.want), c.sent)
		}
		if got := first(f["v"]); got != c.msg {
			t.Errorf("%s: message %q, want %q", c.js, got, c.msg)
		}
	}
}

func first(msgs []string) string {
	if len(msgs) == 0 {
		return ""
	}
	return msgs[0]
}

func sp(s string) *string { return &s }

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// Coordinates as latitude and longitude take them (place.md §1): numbers or
// numeric strings in range, rounded to 6 decimals; null or blank clears.
func TestCoordinateCoercion(t *testing.T) {
	t.Parallel()
	const (
		set   = "set"
		null  = "null"
		unset = "unset"
	)
	for _, c := range []struct {
		js    string
		limit int64
		state string
		want  float64
		msg   string
	}{
		{`{"v": 4.711}`, input.Latitude, set, 4.711, ""},
		{`{"v": "-74.0721"}`, input.Longitude, set, -74.0721, ""},
		{`{"v": " 4.5 "}`, input.Latitude, set, 4.5, ""},
		{`{"v": 4.710987654321012}`, input.Latitude, set, 4.710988, ""}, // a phone's 15 decimals: rounded, not refused
		{`{"v": -74.0721234}`, input.Longitude, set, -74.072123, ""},
		{`{"v": 90}`, input.Latitude, set, 90, ""},
		{`{"v": -90}`, input.Latitude, set, -90, ""},
		{`{"v": 180}`, input.Longitude, set, 180, ""},
		{`{"v": -180.0}`, input.Longitude, set, -180, ""},
		{`{"v": 4.5e1}`, input.Latitude, set, 45, ""},
		{`{"v": ".5"}`, input.Latitude, set, 0.5, ""},
		{`{"v": "+1."}`, input.Latitude, set, 1, ""},
		{`{"v": 1e-400}`, input.Latitude, set, 0, ""},
		{`{"v": -0.0000001}`, input.Latitude, set, 0, ""},
		{`{"v": 90.0000001}`, input.Latitude, unset, 0, "Asegúrese de que este valor sea menor o igual a 90."},
		{`{"v": 90.000001}`, input.Latitude, unset, 0, "Asegúrese de que este valor sea menor o igual a 90."},
		{`{"v": -91}`, input.Latitude, unset, 0, "Asegúrese de que este valor sea mayor o igual a -90."},
		{`{"v": "180.5"}`, input.Longitude, unset, 0, "Asegúrese de que este valor sea menor o igual a 180."},
		{`{"v": -1e300}`, input.Longitude, unset, 0, "Asegúrese de que este valor sea mayor o igual a -180."},
		{`{"v": 1e400}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "NaN"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "nan"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "Infinity"}`, input.Longitude, unset, 0, input.MsgFloat},
		{`{"v": "-inf"}`, input.Longitude, unset, 0, input.MsgFloat},
		{`{"v": "0x1p-2"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "1_0"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "4,5"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "norte"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": true}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": false}`, input.Longitude, unset, 0, input.MsgFloat},
		{`{"v": [4.7]}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": {"lat": 4.7}}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": "` + strings.Repeat("1", 1001) + `"}`, input.Latitude, unset, 0, input.MsgFloat},
		{`{"v": null}`, input.Latitude, null, 0, ""},
		{`{"v": ""}`, input.Longitude, null, 0, ""},
		{`{"v": "  "}`, input.Longitude, null, 0, ""},
		{`{}`, input.Latitude, unset, 0, ""},
	} {
		f := apperr.Fields{}
		v := body(t, c.js).Coordinate("v", f, c.limit)
		state := unset
		switch {
		case v.Set && v.Null:
			state = null
		case v.Set:
			state = set
		}
		if state != c.state || (state == set && v.Value != c.want) {
			t.Errorf("%.60s: got %s %v, want %s %v", c.js, state, v.Value, c.state, c.want)
		}
		if state == set && math.Signbit(v.Value) && v.Value == 0 {
			t.Errorf("%s: negative zero kept", c.js)
		}
		if got := first(f["v"]); got != c.msg {
			t.Errorf("%.60s: message %q, want %q", c.js, got, c.msg)
		}
	}
}
