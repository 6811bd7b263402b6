package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"hermez/pkg/config"
	"hermez/pkg/market"
	"hermez/pkg/testutil"
)

// Issue 21 item 5 (api.md "Errors"): each error text is shown once. Every
// shape's exact keys: {"detail"} for anything not about one field (the
// throttle's 429 too), DRF's field lists alone, non_field_errors plus detail,
// and detail plus message only on the address favorite.
func TestErrorBodyKeys(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleQuotes = "1/min" }})
	ana := newActor(t, w, "user_keys_ana")
	bob := newActor(t, w, "user_keys_bob")
	addr := mustStatus(t, w.Do(t, "POST", "/user/api/me/addresses/", ana.Tok, map[string]any{
		"name": "Casa", "type": "casa", "address": "Calle 1 # 2-3", "city": "Bucaramanga",
	}), 201)["addressId"].(string)
	createQuote(t, w, ana, nil) // the one quote of the minute
	const unknown = "3a580685-0b84-4e90-b54a-619bc99038c7"

	cases := []struct {
		name, method, path, tok string
		body                    any
		status                  int
		keys                    string // sorted, comma-joined
	}{
		{"401 no token", "GET", "/user/api/me/", "", nil, 401, "detail"},
		{"401 bad token", "POST", "/user/api/me/addresses/", "not.a.jwt", map[string]any{}, 401, "detail"},
		{"404 unknown route", "GET", "/nope/", "", nil, 404, "detail"},
		{"404 not visible", "GET", "/user/api/me/addresses/" + addr + "/", bob.Tok, nil, 404, "detail"},
		{"405", "DELETE", "/deliveries/api/", ana.Tok, nil, 405, "detail"},
		{"400 malformed", "POST", "/user/api/me/addresses/", ana.Tok, "{bad", 400, "detail"},
		{"400 fields", "POST", "/user/api/me/addresses/", ana.Tok, map[string]any{}, 400, "address,city,name,type"},
		{"429 throttled", "POST", "/deliveries/api/quotes/", ana.Tok, quoteBody(t, w, ana, nil), 429, "detail"},
		{"favorite 404 unknown id", "POST", "/user/api/me/addresses/" + unknown + "/add-favorite/", ana.Tok, nil, 404, "detail,message"},
		{"favorite 404 not yours", "POST", "/user/api/me/addresses/" + addr + "/add-favorite/", bob.Tok, nil, 404, "detail,message"},
		{"favorite 404 no slash", "POST", "/user/api/me/addresses/" + addr + "/add-favorite", bob.Tok, nil, 404, "detail,message"},
		{"favorite 404 not a uuid", "POST", "/user/api/me/addresses/nope/add-favorite/", ana.Tok, nil, 404, "detail,message"},
		{"favorite 401", "POST", "/user/api/me/addresses/" + addr + "/add-favorite/", "", nil, 401, "detail,message"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := w.Do(t, c.method, c.path, c.tok, c.body)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
			if got := strings.Join(testutil.ErrorKeys(res.Body), ","); got != c.keys {
				t.Fatalf("keys %q, want %q: %s", got, c.keys, res.Body)
			}
			var m map[string]any
			if err := json.Unmarshal(res.Body, &m); err != nil {
				t.Fatal(err)
			}
			if d, ok := m["detail"]; ok && (d == "" || (m["message"] != nil && m["message"] != d)) {
				t.Fatalf("texts differ or empty: %s", res.Body)
			}
		})
	}

	// A rule spanning fields: non_field_errors plus detail holding its first message.
	w2 := testutil.NewWeb(t, testutil.WebOptions{})
	cli := newActor(t, w2, "user_keys_cli")
	res := w2.Do(t, "POST", "/deliveries/api/quotes/", cli.Tok, quoteBody(t, w2, cli, map[string]any{
		"pickup_address": "Calle 9 # 1-1", "delivery_address": "Calle 9 # 1-1",
	}))
	if res.Status != 400 || strings.Join(testutil.ErrorKeys(res.Body), ",") != "detail,non_field_errors" {
		t.Fatalf("non-field: %d %s", res.Status, res.Body)
	}
	var nf struct {
		NonField []string `json:"non_field_errors"`
		Detail   string   `json:"detail"`
	}
	res.JSON(t, &nf)
	if len(nf.NonField) != 1 || nf.NonField[0] != market.MsgSameAddresses || nf.Detail != market.MsgSameAddresses {
		t.Fatalf("non-field body %s", res.Body)
	}
}
