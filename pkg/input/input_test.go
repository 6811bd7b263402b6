package input_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"hermez/pkg/apperr"
	"hermez/pkg/input"
)

func fieldMsgs(t *testing.T, err error) map[string][]string {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("want a 400 field error, got %v", err)
	}
	return e.Fields
}

func TestDecodeRefusesNULAnywhere(t *testing.T) {
	for _, body := range []string{
		`{"first_name": "Ana\u0000"}`,
		`{"observations": ["ok", "ma\u0000l"]}`,
		`{"nested": {"deep": ["x", {"k": "\u0000"}]}}`,
		`{"nested": {"k\u0000": 1}}`,
	} {
		_, err := input.Decode([]byte(body))
		f := fieldMsgs(t, err)
		var key string
		for k := range f {
			key = k
		}
		if len(f) != 1 || f[key][0] != input.MsgNUL {
			t.Fatalf("%s: %v", body, f)
		}
	}
	_, err := input.Decode([]byte(`{"a\u0000b": "x"}`))
	if f := fieldMsgs(t, err); f[apperr.NonField][0] != input.MsgNUL {
		t.Fatalf("NUL in a key: %v", f)
	}
	// An escaped backslash followed by u0000 is text, not a NUL.
	b, err := input.Decode([]byte(`{"comment": "C:\\u0000"}`))
	if err != nil {
		t.Fatalf("escaped backslash refused: %v", err)
	}
	f := apperr.Fields{}
	if s, ok := b.String("comment", f, input.StringOpts{}); !ok || *s != `C:\u0000` {
		t.Fatalf("comment %v %v", s, f)
	}
}

func TestFormValuesWithNULAreRefusedWhenRead(t *testing.T) {
	b := input.FromStrings(map[string]string{"name": "Moto\x00", "list": "x"})
	f := apperr.Fields{}
	if _, ok := b.String("name", f, input.StringOpts{Required: true}); ok || f["name"][0] != input.MsgNUL {
		t.Fatalf("form NUL: %v", f)
	}
	b = input.Body{"obs": json.RawMessage(`["a","b\u0000"]`)}
	f = apperr.Fields{}
	if _, ok := b.StringList("obs", f); ok || f["obs"][0] != input.MsgNUL {
		t.Fatalf("list NUL: %v", f)
	}
}

func TestIntRefusesWhatDoesNotFit(t *testing.T) {
	cases := []struct {
		raw  string
		o    input.IntOpts
		want string // message, "" = accepted
		val  int64
	}{
		{`25`, input.IntOpts{}, "", 25},
		{`"25"`, input.IntOpts{}, "", 25},
		{`"25.0"`, input.IntOpts{}, "", 25},
		{`2.5e1`, input.IntOpts{}, "", 25},
		{`25.5`, input.IntOpts{}, input.MsgInteger, 0},
		{`1e309`, input.IntOpts{}, input.MsgInteger, 0},
		{`"1e309"`, input.IntOpts{}, input.MsgInteger, 0},
		{`"abc"`, input.IntOpts{}, input.MsgInteger, 0},
		{`18446744073709551621`, input.IntOpts{}, input.MsgMax(input.MaxInt32), 0},
		{`"18446744073709551621"`, input.IntOpts{Min: 0, Max: 150}, input.MsgMax(150), 0},
		{`-18446744073709551621`, input.IntOpts{Min: 0, Max: 150}, input.MsgMin(0), 0},
		{`2147483648`, input.IntOpts{}, input.MsgMax(input.MaxInt32), 0},
		{`-2147483649`, input.IntOpts{}, input.MsgMin(input.MinInt32), 0},
		{`1e20`, input.IntOpts{Min: 0, Max: 10}, input.MsgMax(10), 0},
		{`18446744073709551624`, input.IntOpts{Min: 0, Max: 10, RangeMsg: "entre 0 y 10"}, "entre 0 y 10", 0},
		{`"` + strings.Repeat("9", 2000) + `"`, input.IntOpts{}, input.MsgInteger, 0},
		{`"NaN"`, input.IntOpts{}, input.MsgInteger, 0},
		{`"Infinity"`, input.IntOpts{}, input.MsgInteger, 0},
	}
	for _, c := range cases {
		f := apperr.Fields{}
		v, ok := input.Body{"n": json.RawMessage(c.raw)}.IntIn("n", f, c.o)
		if c.want == "" {
			if !ok || v == nil || *v != c.val || len(f) > 0 {
				t.Errorf("%s: got %v %v %v, want %d", c.raw, v, ok, f, c.val)
			}
			continue
		}
		if ok || len(f["n"]) != 1 || f["n"][0] != c.want {
			t.Errorf("%s: got %v %v, want %q", c.raw, ok, f, c.want)
		}
	}
}

func TestDecimalRefusesWhatDoesNotFit(t *testing.T) {
	cases := []struct{ raw, want, val string }{
		{`12000`, "", "12000"},
		{`"12000.50"`, "", "12000.5"},
		{`"12.500"`, "", "12.5"},
		{`"12345678.99"`, "", "12345678.99"},
		{`"123456789.9"`, "Asegúrese de que no haya más de 8 dígitos antes del punto decimal.", ""},
		{`"12345678901"`, "Asegúrese de que no haya más de 10 dígitos en total.", ""},
		{`"1.001"`, "Asegúrese de que no haya más de 2 decimales.", ""},
		{`1e309`, input.MsgNumber, ""},
		{`"` + strings.Repeat("9", 5000) + `"`, "Asegúrese de que no haya más de 10 dígitos en total.", ""},
		{`"abc"`, input.MsgNumber, ""},
	}
	for _, c := range cases {
		f := apperr.Fields{}
		v, ok := input.Body{"d": json.RawMessage(c.raw)}.Decimal("d", f, 10, 2, true, false)
		if c.want == "" {
			if !ok || v == nil || v.String() != c.val {
				t.Errorf("%s: got %v %v %v", c.raw, v, ok, f)
			}
			continue
		}
		if ok || len(f["d"]) != 1 || f["d"][0] != c.want {
			t.Errorf("%s: got %v, want %q", c.raw, f, c.want)
		}
	}
}

// seeds holds every hostile case of issue 12 for the fuzz targets.
var seeds = []string{
	``, `{}`, `[]`, `null`, `"x"`, `{"a":1}`,
	`{"first_name":"Ana\u0000"}`, `{"observations":["a","\u0000"]}`, `{"k\u0000":1}`,
	`{"age":1e309}`, `{"age":18446744073709551621}`, `{"age":"18446744073709551621"}`,
	`{"rating":18446744073709551624}`, `{"year":"18446744073709553636"}`, `{"minutes":18446744073709551621}`,
	`{"client_price":"1e400"}`, `{"client_price":"99999999999.999"}`, `{"estimated_weight":-1}`,
	`{"age":"NaN"}`, `{"age":-0}`, `{"age":"+5"}`, `{"age":"0x10"}`, `{"age":true}`, `{"age":[1]}`,
	`{"comment":"\ud800"}`, `{"comment":"C:\\u0000"}`, `{"a":{"b":{"c":["\u0000"]}}}`,
}

// FuzzDecode: no input panics the decoder or the readers; a body that
// decodes holds no NUL a reader would hand on; numbers that are read fit.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := input.Decode(raw)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("not an apperr: %v", err)
			}
			return
		}
		for k := range b {
			fs := apperr.Fields{}
			if s, ok := b.String(k, fs, input.StringOpts{AllowBlank: true, Nullable: true}); ok && s != nil {
				if strings.ContainsRune(*s, 0) {
					t.Fatalf("NUL read from %q", raw)
				}
				if !utf8.ValidString(*s) {
					t.Fatalf("invalid UTF-8 read from %q", raw)
				}
			}
			if l, ok := b.StringList(k, fs); ok {
				for _, s := range l {
					if strings.ContainsRune(s, 0) {
						t.Fatalf("NUL in list from %q", raw)
					}
				}
			}
			if n, ok := b.Int(k, fs, false, true); ok && n != nil && (*n > input.MaxInt32 || *n < input.MinInt32) {
				t.Fatalf("int %d out of column range from %q", *n, raw)
			}
			if d, ok := b.Decimal(k, fs, 10, 2, false, true); ok && d != nil && d.Abs().IntPart() >= 100000000 {
				t.Fatalf("decimal %s over numeric(10,2) from %q", d, raw)
			}
			b.Bool(k, fs, false)
			b.UUID(k, fs, false, true)
		}
	})
}
