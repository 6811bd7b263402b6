package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"hermez/pkg/testutil"
)

func TestErrorsAreJSON(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok := w.Token(t, "user_errors")
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		detail                    string
	}{
		{"unknown route", "GET", "/nope/", "", nil, 404, "No encontrado."},
		{"unknown api route", "GET", "/user/api/nope/", tok, nil, 404, "No encontrado."},
		{"no token", "GET", "/user/api/me/", "", nil, 401, "Las credenciales de autenticación no se proveyeron."},
		{"bad token", "GET", "/user/api/me/", "not.a.jwt", nil, 401, "Token inválido."},
		{"oversized body", "POST", "/deliveries/api/quotes/", tok, strings.Repeat("x", 2<<20), 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := w.Do(t, c.method, c.path, c.token, c.body)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
			if d := testutil.DetailText(t, res.Body); c.detail != "" && d != c.detail {
				t.Fatalf("detail %q, want %q", d, c.detail)
			}
			if c.status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if res.Header.Get("X-Request-ID") == "" {
				t.Fatal("no X-Request-ID")
			}
		})
	}
}

func TestMeFirstSightCreatesUser(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	res := w.Do(t, "GET", "/user/api/me", w.Token(t, "user_first"), nil)
	if res.Status != 200 {
		t.Fatalf("status %d: %s", res.Status, res.Body)
	}
	var list []map[string]any
	res.JSON(t, &list)
	if len(list) != 1 || list[0]["userid"] != "user_first" || list[0]["email"] != "user_first@example.com" || list[0]["first_name"] != "Test" {
		t.Fatalf("unexpected %s", res.Body)
	}
}
