package input

import (
	"encoding/json"
	"testing"
)

// unquote reads every JSON string as json.Unmarshal does (the same value, or
// an error where it errs), on and off its direct path.
func TestUnquoteIsUnmarshal(t *testing.T) {
	for _, raw := range []string{`""`, `"Calle 56 # 17A-23"`, `"Frágil"`, `"ñandú 😀"`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, `"\u0000"`,
		`"tab` + "\t" + `"`, "\"\xff\xfe\"", "\"caf\xc3\"", `"<b>&</b>"`, `"`, `"abc`, `abc"`, `12`, `null`, `true`, `["a"]`, `"a" `, ` "a"`,
		`"\ud800"`, `"` + "\u2028" + `"`, `"a/b"`, `"\/"`} {
		var want, got string
		errWant := json.Unmarshal([]byte(raw), &want)
		errGot := unquote([]byte(raw), &got)
		if (errWant == nil) != (errGot == nil) || got != want {
			t.Errorf("%q: %q %v, json.Unmarshal %q %v", raw, got, errGot, want, errWant)
		}
	}
}
