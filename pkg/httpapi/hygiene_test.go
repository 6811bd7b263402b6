package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"hermez/pkg/apperr"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/input"
	"hermez/pkg/serve"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

const nul = `\u0000`

// wantMsg checks a 400 whose field carries msg (or any message when msg is "").
func wantMsg(t *testing.T, what string, res *testutil.Response, fieldName, msg string) {
	t.Helper()
	if res.Status != 400 {
		t.Fatalf("%s: status %d, want 400: %s", what, res.Status, res.Body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("%s: %s", what, res.Body)
	}
	var msgs []string
	if err := json.Unmarshal(m[fieldName], &msgs); err != nil || len(msgs) == 0 || (msg != "" && msgs[0] != msg) {
		t.Fatalf("%s: want %q on %s: %s", what, msg, fieldName, res.Body)
	}
}

// hygieneWeb has no throttles: these tests send many writes as one user.
func hygieneWeb(t *testing.T) *testutil.Web {
	return testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) {
		c.ThrottleUserWrites, c.ThrottleQuotes, c.ThrottleAnon = "0", "0", "0"
		c.ClerkWebhookSecret = testutil.WebhookSecret
	}})
}

// Issue 12 §1: a NUL in any body string is a 400 field error, in a path id a
// 404, in a query a 400; Clerk's data (webhook, token claims) is cleaned.
func TestNULInEveryKindOfPlace(t *testing.T) {
	t.Parallel()
	w := hygieneWeb(t)
	ana := newActor(t, w, "user_nul_ana")
	me := "/user/api/me/" + ana.ID + "/"
	vt := vehicleTypeID(t, w.Store, "Moto")
	qid := createQuote(t, w, ana, nil)
	driver := newActor(t, w, "user_nul_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	bodies := []struct{ method, path, field, body string }{
		{"PATCH", me, "first_name", `{"first_name":"Ana` + nul + `"}`},
		{"PUT", me, "username", `{"username":"` + nul + `"}`},
		{"PATCH", me, "phone", `{"phone":"300` + nul + `"}`},
		{"PATCH", "/user/api/me/update/", "last_name", `{"last_name":"x` + nul + `y"}`},
		{"POST", "/user/api/me/addresses/", "address", `{"name":"Casa","address":"Calle` + nul + `1","city":"Bucaramanga","type":"home"}`},
		{"POST", "/user/api/me/vehicles/", "brand", `{"type_id":"` + vt + `","brand":"Bajaj` + nul + `","model":"Boxer","year":2020,"licensePlate":"ABC123","vin":"VIN00000000000001","color":"Negro"}`},
		{"POST", "/user/api/user-ratings/", "comment", `{"ratee_id":"user_nul_driver","rating":5,"comment":"bien` + nul + `"}`},
		{"POST", "/user/api/me/set-current-vehicle/", "vehicle_id", `{"vehicle_id":"` + nul + `"}`},
		{"POST", "/deliveries/api/quotes/", "pickup_address", `{"pickup_address":"` + nul + `"}`},
		{"POST", "/deliveries/api/quotes/", "description", `{"description":"caja` + nul + `"}`},
		{"POST", "/deliveries/api/quotes/", "estimated_size", `{"estimated_size":"` + nul + `"}`},
		{"POST", "/deliveries/api/quotes/", "observations", `{"observations":["Frágil","llamar` + nul + `"]}`},
		{"PATCH", "/deliveries/api/quotes/" + qid + "/", "delivery_address", `{"delivery_address":"` + nul + `"}`},
		{"POST", "/deliveries/api/quotes/" + qid + "/extend-expiration/", "minutes", `{"minutes":"5` + nul + `"}`},
	}
	for _, c := range bodies {
		wantMsg(t, c.method+" "+c.path, w.Do(t, c.method, c.path, ana.Tok, c.body), c.field, input.MsgNUL)
	}
	wantMsg(t, "offer", w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/offers/", driver.Tok,
		`{"proposed_price":9000,"estimated_delivery_time":"00:20:00`+nul+`"}`), "estimated_delivery_time", input.MsgNUL)

	// A path id with a NUL names nothing: 404, whatever the route.
	for _, p := range []string{"/user/api/me/abc%00def/ratings/", "/user/api/me/abc%00def/", "/deliveries/api/quotes/%00/",
		"/user/api/me/addresses/%00/", "/deliveries/api/%00/history/"} {
		wantDetail(t, w.Do(t, "GET", p, ana.Tok, nil), 404)
	}
	// Nor does a path that is not UTF-8 (PostgreSQL refuses it too; found by FuzzPaths).
	for _, p := range []string{"/user/api/me/%A5/ratings/", "/user/api/me/%FF%FE/", "/user/api/me/\xa5/ratings"} {
		wantDetail(t, w.Do(t, "GET", p, ana.Tok, nil), 404)
	}
	// A query with a NUL, or not UTF-8, is a 400 (never a filter the database refuses).
	wantDetail(t, w.Do(t, "GET", "/deliveries/api/quotes/?status=pen%00ding", ana.Tok, nil), 400)
	wantDetail(t, w.Do(t, "GET", "/deliveries/api/?payment_method=%00", ana.Tok, nil), 400)
	wantDetail(t, w.Do(t, "GET", "/deliveries/api/quotes/?status=%A5", ana.Tok, nil), 400)

	// Token claims are cleaned: the user is created without the NUL.
	tok, err := w.Dev.Mint("user_claims\x00nul", auth.TokenOptions{Name: "Jo\x00sé Pé\x00rez", Email: "jo\x00se@example.com", Username: "jo\x00se"})
	if err != nil {
		t.Fatal(err)
	}
	res := w.Do(t, "GET", "/user/api/me/", tok, nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"userid":"user_claimsnul"`) ||
		!strings.Contains(string(res.Body), `"first_name":"José"`) || !strings.Contains(string(res.Body), `"email":"jose@example.com"`) {
		t.Fatalf("claims with NULs: %d %s", res.Status, res.Body)
	}

	// The Clerk webhook's data is cleaned, not refused (Clerk would retry forever).
	ev := strings.NewReplacer("user_wh_nul", "user_wh"+nul+"nul", `"Mar`, `"Mar`+nul).Replace(
		string(clerkEvent("user.created", "user_wh_nul", time.Now().UnixMilli(), "Marta")))
	if res := deliver(t, w, "msg_"+strings.Repeat("n", 8)+nul, []byte(ev)); res.Status != 200 {
		t.Fatalf("webhook with NULs: %d %s", res.Status, res.Body)
	}
	u := loadUser(t, w.Store, "user_whnul")
	if u.FirstName == nil || *u.FirstName != "Marta" || u.Email == nil || *u.Email != "Marta@mail.test" {
		t.Fatalf("webhook user: %+v", u)
	}
	// A svix-id that is not UTF-8 (Clerk's header, signed): cleaned too.
	if res := deliver(t, w, "msg_\xa5\xff", clerkEvent("user.created", "user_wh_utf8", time.Now().UnixMilli(), "Luz")); res.Status != 200 {
		t.Fatalf("webhook with a non-UTF-8 svix-id: %d %s", res.Status, res.Body)
	}
}

// Issue 12 §2: integers and decimals outside their field's range or precision
// are 400 field errors, never wrapped or truncated.
func TestNumbersOutOfRangeOnEveryField(t *testing.T) {
	t.Parallel()
	w := hygieneWeb(t)
	ana := newActor(t, w, "user_num_ana")
	driver := newActor(t, w, "user_num_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	seedDelivery(t, w.Store, ana.ID, driver.ID, store.DeliveryDelivered, time.Now())
	me := "/user/api/me/" + ana.ID + "/"
	vt := vehicleTypeID(t, w.Store, "Moto")
	qid := createQuote(t, w, ana, nil)
	const big = "18446744073709551621" // 2^64+5: wrapped to 5 before
	vehicle := func(year string) string {
		return `{"type_id":"` + vt + `","brand":"Bajaj","model":"Boxer","year":` + year + `,"licensePlate":"NUM123","vin":"VINNUM00000000001","color":"Negro"}`
	}
	cases := []struct{ method, path, tok, field, body, msg string }{
		{"PATCH", me, ana.Tok, "age", `{"age":1e309}`, input.MsgInteger},
		{"PATCH", me, ana.Tok, "age", `{"age":` + big + `}`, input.MsgMax(150)},
		{"PATCH", me, ana.Tok, "age", `{"age":"` + big + `"}`, input.MsgMax(150)},
		{"PATCH", me, ana.Tok, "age", `{"age":-` + big + `}`, input.MsgMin(0)},
		{"PATCH", "/user/api/me/update/", ana.Tok, "age", `{"age":151}`, input.MsgMax(150)},
		{"POST", "/user/api/user-ratings/", ana.Tok, "rating", `{"ratee_id":"user_num_driver","rating":1e309}`, input.MsgInteger},
		{"POST", "/user/api/user-ratings/", ana.Tok, "rating", `{"ratee_id":"user_num_driver","rating":18446744073709551624}`, "La calificación debe estar entre 0 y 10."},
		{"POST", "/user/api/me/vehicles/", ana.Tok, "year", vehicle(`"18446744073709553636"`), ""},
		{"POST", "/user/api/me/vehicles/", ana.Tok, "year", vehicle(`1e309`), input.MsgInteger},
		{"POST", "/deliveries/api/quotes/" + qid + "/extend-expiration/", ana.Tok, "minutes", `{"minutes":` + big + `}`, ""},
		{"POST", "/deliveries/api/quotes/" + qid + "/extend-expiration/", ana.Tok, "extra_minutes", `{"extra_minutes":"1e309"}`, input.MsgInteger},
		{"POST", "/deliveries/api/quotes/", ana.Tok, "client_price", `{"client_price":"123456789012"}`, "Asegúrese de que no haya más de 10 dígitos en total."},
		{"POST", "/deliveries/api/quotes/", ana.Tok, "client_price", `{"client_price":1e400}`, input.MsgNumber},
		{"POST", "/deliveries/api/quotes/", ana.Tok, "client_price", `{"client_price":"12.345"}`, "Asegúrese de que no haya más de 2 decimales."},
		{"POST", "/deliveries/api/quotes/", ana.Tok, "estimated_weight", `{"estimated_weight":"123456789"}`, "Asegúrese de que no haya más de 8 dígitos en total."},
		{"PATCH", "/deliveries/api/quotes/" + qid + "/", ana.Tok, "client_price", `{"client_price":"` + big + `"}`, "Asegúrese de que no haya más de 10 dígitos en total."},
		{"POST", "/deliveries/api/quotes/" + qid + "/offers/", driver.Tok, "proposed_price", `{"proposed_price":` + big + `}`, "Asegúrese de que no haya más de 10 dígitos en total."},
		{"POST", "/deliveries/api/quotes/" + qid + "/offers/", driver.Tok, "estimated_delivery_time", `{"proposed_price":9000,"estimated_delivery_time":1e300}`, ""},
		{"POST", "/deliveries/api/quotes/" + qid + "/offers/", driver.Tok, "estimated_delivery_time", `{"proposed_price":9000,"estimated_delivery_time":"` + big + ` 00:00:00"}`, ""},
	}
	for _, c := range cases {
		wantMsg(t, c.method+" "+c.path+" "+c.body, w.Do(t, c.method, c.path, c.tok, c.body), c.field, c.msg)
	}
	// Nothing was half-written: the profile and the quote are as they were.
	m := mustStatus(t, w.Do(t, "GET", me, ana.Tok, nil), 200)
	if m["age"] != nil {
		t.Fatalf("age written: %v", m["age"])
	}
	// The staff console's vehicle types (integer and numeric(10,2) columns):
	// pkg/consoleweb's TestVehicleTypeNumbersOutOfRange.
}

// Issue 12 §5: the client's X-Request-ID only when it is 1–64 of [A-Za-z0-9._-].
func TestRequestIDRule(t *testing.T) {
	t.Parallel()
	w := hygieneWeb(t)
	for id, kept := range map[string]bool{
		"abc-123_x.y": true, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		strings.Repeat("z", 4096): false, "a b": false, "ñandú": false, "id\x01": false, "<script>": false,
	} {
		req, _ := http.NewRequest("GET", w.URL+"/healthz", nil)
		req.Header.Set("X-Request-ID", id)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			if !kept {
				continue // the client refused to send it: nothing to check
			}
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("X-Request-ID")
		if kept && got != id || !kept && (got == id || !serve.ValidRequestID(got)) {
			t.Errorf("request id %.20q: answered %.70q", id, got)
		}
	}
	res := w.Do(t, "GET", "/healthz", "", nil)
	if !serve.ValidRequestID(res.Header.Get("X-Request-ID")) {
		t.Fatalf("no id made: %q", res.Header.Get("X-Request-ID"))
	}
}

// Issue 12 §6 as issue 21 item 5 changed it: detail on every non-field error,
// and on a non_field_errors 400 with its first message; message only on the favorite.
func TestErrorKeys(t *testing.T) {
	t.Parallel()
	w := hygieneWeb(t)
	ana := newActor(t, w, "user_keys_ana")
	// A refused rating: non_field_errors plus detail.
	res := w.Do(t, "POST", "/user/api/user-ratings/", ana.Tok, `{"ratee_id":"user_keys_ana","rating":5}`)
	wantFieldError(t, res, apperr.NonField)
	// The favorite of a missing address: 404 with message.
	res = w.Do(t, "POST", "/user/api/me/addresses/9b0c1f5e-6f55-4d4e-9a51-1b2c3d4e5f60/add-favorite/", ana.Tok, nil)
	wantStatus(t, res, 404)
	if m := res.Map(t); len(m) != 2 || m["detail"] != apperr.MsgNotFound || m["message"] != apperr.MsgNotFound {
		t.Fatalf("favorite 404: %s", res.Body)
	}
	for _, c := range []struct {
		method, path, tok string
		status            int
	}{
		{"GET", "/nope/", "", 404}, {"GET", "/user/api/me/", "", 401}, {"DELETE", "/deliveries/api/", ana.Tok, 405},
		{"POST", "/deliveries/api/categories/", ana.Tok, 403}, {"POST", "/user/api/me/addresses/", ana.Tok, 400},
	} {
		res := w.Do(t, c.method, c.path, c.tok, map[string]any{"x": 1})
		if c.status == 400 {
			res = w.Do(t, c.method, c.path, c.tok, "{bad json")
		}
		wantDetail(t, res, c.status)
	}
	// A field error keeps DRF's shape alone.
	res = w.Do(t, "POST", "/user/api/me/addresses/", ana.Tok, map[string]any{})
	var m map[string]any
	res.JSON(t, &m)
	if res.Status != 400 || m["detail"] != nil || m["message"] != nil {
		t.Fatalf("field errors: %s", res.Body)
	}
}

// Nothing the client wrote is logged without bound: a 4 KiB request id is
// replaced, a 50 KB path and a 100 KB error text (a forged token's issuer)
// are cut.
func TestLogsBoundWhatTheClientWrote(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := echo.New()
	serve.Common(e, log, serve.CommonOptions{})
	e.GET("/x/:id/", func(echo.Context) error {
		return apperr.NotAuthenticated(auth.MsgInvalid, fmt.Errorf("untrusted issuer %q", strings.Repeat("i", 100000)))
	})
	req := httptest.NewRequest("GET", "/x/"+strings.Repeat("p", 50000)+"/", nil)
	req.Header.Set("X-Request-ID", strings.Repeat("r", 4096))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", rec.Code)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("expected the error and the request logged: %q", buf.String())
	}
	for _, l := range lines {
		if len(l) > 2500 || strings.Contains(l, strings.Repeat("r", 65)) {
			t.Fatalf("a log line of %d bytes: %.200s…", len(l), l)
		}
	}
}

// Clerk's data past what a column or an index holds is cut (names, e-mail,
// URL, svix-id) or ignored (an updated_at no timestamp holds), never a 500;
// an id no Clerk user has (over 255 bytes) is refused.
func TestClerkDataBeyondTheColumns(t *testing.T) {
	t.Parallel()
	w := hygieneWeb(t)
	long := strings.Repeat("ñ", 5000)
	var random strings.Builder // past a btree entry's 2.7 KB even compressed
	for random.Len() < 6000 {
		random.WriteString(uuid.NewString())
	}
	tok, err := w.Dev.Mint("user_long_claims", auth.TokenOptions{Name: long + " " + long, Email: long + "@example.com", Username: random.String()})
	if err != nil {
		t.Fatal(err)
	}
	res := w.Do(t, "GET", "/user/api/me/", tok, nil)
	if res.Status != 200 {
		t.Fatalf("long claims: %d %s", res.Status, res.Body)
	}
	u := loadUser(t, w.Store, "user_long_claims")
	if u.FirstName == nil || *u.FirstName != strings.Repeat("ñ", 150) || u.Username == nil || len(*u.Username) != 150 {
		t.Fatalf("claims not cut to 150: %d", len(*u.FirstName))
	}
	tok, _ = w.Dev.Mint(strings.Repeat("u", 300), auth.TokenOptions{})
	wantDetail(t, w.Do(t, "GET", "/user/api/me/", tok, nil), 401)

	ev := func(id string, updatedAt string, username string) []byte {
		return []byte(`{"type":"user.updated","data":{"id":"` + id + `","username":"` + username + `","first_name":"Ana","updated_at":` + updatedAt + `}}`)
	}
	for i, body := range [][]byte{
		ev("user_wh_big", "9223372036854775807", "ana"),
		ev("user_wh_big", "-5", long),
		ev("user_wh_big", "1795708688987", random.String()),
	} {
		if res := deliver(t, w, fmt.Sprintf("msg_big_%d_%s", i, strings.Repeat("s", 3000)), body); res.Status != 200 {
			t.Fatalf("event %d: %d %s", i, res.Status, res.Body)
		}
	}
	if u := loadUser(t, w.Store, "user_wh_big"); u.Username == nil || len(*u.Username) != 150 {
		t.Fatalf("webhook username not cut: %v", u.Username)
	}
	if res := deliver(t, w, "msg_big_id", ev(strings.Repeat("u", 300), "1", "x")); res.Status != 400 {
		t.Fatalf("an id over 255 bytes: %d", res.Status)
	}
}
