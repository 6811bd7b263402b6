package account

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCleanJSONStripsNULs(t *testing.T) {
	got := cleanJSON([]byte(`{"type":"user.created","data":{"id":"user_\u00001","first_name":"A\u0000na","n":12345678901234567890,"k\u0000":["\u0000x"]}}`))
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), `\u0000`) {
		t.Fatalf("NUL left: %s", got)
	}
	data := v["data"].(map[string]any)
	if data["id"] != "user_1" || data["first_name"] != "Ana" || data["k"].([]any)[0] != "x" {
		t.Fatalf("cleaned: %s", got)
	}
	if !strings.Contains(string(got), "12345678901234567890") {
		t.Fatalf("numbers must survive exactly: %s", got)
	}
	same := []byte(`{"a":"b"}`)
	if string(cleanJSON(same)) != string(same) {
		t.Fatal("a clean payload changed")
	}
	bad := []byte(`{"a":"\u0000"`)
	if string(cleanJSON(bad)) != string(bad) {
		t.Fatal("invalid JSON must be returned unchanged")
	}
}

func TestStripNULAndClip(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"Ana", 150, "Ana"},
		{"A\x00na", 150, "Ana"},
		{"a\xffb", 150, "a\uFFFDb"},
		{"ñandú", 3, "ñan"},
		{"ñandú", 5, "ñandú"},
		{"", 0, ""},
		{"abc", 0, ""},
	}
	for _, c := range cases {
		if got := clip(stripNUL(c.in), c.max); got != c.want {
			t.Errorf("clip(stripNUL(%q), %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
