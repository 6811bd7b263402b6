package openapi_test

import (
	"net/http"
	"strings"
	"testing"

	"hermez/pkg/testutil"
)

// The real web process's answers validate (the routes that exist so far; the
// end-to-end test covers the whole story).
func TestLiveAnswersValidate(t *testing.T) {
	v := validator(t)
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok := w.Token(t, "user_openapi_live")
	cases := []struct {
		method, path, token string
		body                any
		status              int
	}{
		{"GET", "/user/api/me/", tok, nil, 200},
		{"GET", "/user/api/me", tok, nil, 200},
		{"GET", "/user/api/me/", "", nil, 401},
		{"GET", "/user/api/me/", "not.a.jwt", nil, 401},
		{"GET", "/nope/", tok, nil, 404},
		{"GET", "/healthz", "", nil, 200},
		{"GET", "/readyz", "", nil, 200},
		{"GET", "/openapi.json", "", nil, 200},
		{"POST", "/user/api/me/", tok, map[string]any{}, 405},
		{"DELETE", "/user/api/me", tok, nil, 405},
	}
	for _, c := range cases {
		res := w.Do(t, c.method, c.path, c.token, c.body)
		if res.Status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, res.Status, c.status, res.Body)
		}
		req, err := http.NewRequest(c.method, w.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.ValidateResponse(t, req, res.Status, res.Header, res.Body); err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
		}
	}
	// A CORS preflight is answered without a body and accepted.
	pre, err := http.NewRequest("OPTIONS", w.URL+"/user/api/me/", nil)
	if err != nil {
		t.Fatal(err)
	}
	pre.Header.Set("Origin", "http://localhost:4321")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	res0, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res0.Body.Close()
	if err := v.ValidateResponse(t, pre, res0.StatusCode, res0.Header, nil); err != nil {
		t.Errorf("preflight (%d): %v", res0.StatusCode, err)
	}
	// The served document is this package's document.
	res := w.Do(t, "GET", "/openapi.json", "", nil)
	if !strings.Contains(string(res.Body), `"/deliveries/api/offers/{id}/accept/"`) {
		t.Fatalf("served document lacks the accept path: %.200s", res.Body)
	}
}
