package openapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"hermez/pkg/httpapi"
	"hermez/pkg/openapi"
)

func validator(t *testing.T) *openapi.Validator {
	t.Helper()
	v, err := openapi.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDocumentLoadsAndValidates(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec())
	if err != nil {
		t.Fatalf("served JSON does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served JSON is not a valid OpenAPI 3 document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, name := range []string{"User", "Address", "VehicleType", "Vehicle", "Category", "Quote", "Offer",
		"Delivery", "HistoryEvent", "Rating", "AcceptAnswer", "Detail", "FieldErrors"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}
	if doc.Components.SecuritySchemes["bearerAuth"] == nil {
		t.Error("bearerAuth security scheme missing")
	}
}

// Every operation is named, API paths end with a slash, and the operations
// that need a token say so and document their 401.
func TestDocumentConventions(t *testing.T) {
	doc := validator(t).Doc()
	public := map[string]bool{"/healthz": true, "/readyz": true, "/openapi.json": true, "/metrics": true, "/user/webhooks/clerk/": true}
	ids := map[string]string{}
	count := 0
	for path, item := range doc.Paths.Map() {
		if !public[path] && !strings.HasSuffix(path, "/") {
			t.Errorf("%s: API paths are listed with their trailing slash", path)
		}
		for method, op := range item.Operations() {
			count++
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s also on %s", where, op.OperationID, prev)
			}
			ids[op.OperationID] = where
			authed := op.Security == nil // inherits the document's bearerAuth
			if authed == public[path] {
				t.Errorf("%s: security %v, public %v", where, op.Security, public[path])
			}
			if authed && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s: authenticated operation without 401", where)
			}
			if op.RequestBody != nil && op.Responses.Status(http.StatusRequestEntityTooLarge) == nil {
				t.Errorf("%s: operation with a body without 413", where)
			}
			if strings.Contains(path, "{") && op.Responses.Status(http.StatusNotFound) == nil && path != "/user/api/me/{userid}/" {
				t.Errorf("%s: operation on an id without 404", where)
			}
		}
	}
	if count < 50 {
		t.Fatalf("only %d operations: the whole API is about 55", count)
	}
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": []string{"application/json"}}
}

const (
	quoteID = "3f5750d5-c077-4e65-a1ed-629046e8128b"
	offerID = "0b252534-a5f4-4845-b017-0e31e7a7eaee"
)

// The bodies of examples.md (testdata/, copied verbatim) validate against the
// operations they document.
func TestExamplesValidate(t *testing.T) {
	v := validator(t)
	unauth := jsonHeader()
	unauth.Set("WWW-Authenticate", `Bearer realm="api"`)
	throttled := jsonHeader()
	throttled.Set("Retry-After", "42")
	cases := []struct {
		method, path string
		status       int
		header       http.Header
		file         string
	}{
		{"GET", "/user/api/me/", 200, jsonHeader(), "user_list.json"},
		{"GET", "/user/api/me", 200, jsonHeader(), "user_list.json"}, // slashless resolves
		{"GET", "/user/api/me/addresses/4acb89ce-670a-4517-861f-87b904bb4c99/", 200, jsonHeader(), "address.json"},
		{"POST", "/user/api/me/addresses/", 201, jsonHeader(), "address.json"},
		{"GET", "/user/api/me/vehicle-types/", 200, jsonHeader(), "vehicle_types.json"},
		{"GET", "/user/api/me/vehicles/652c3e9f-ca08-4fa7-927b-a92c04468f7d/", 200, jsonHeader(), "vehicle.json"},
		{"GET", "/deliveries/api/categories/", 200, jsonHeader(), "categories.json"},
		{"POST", "/deliveries/api/quotes/", 201, jsonHeader(), "quote.json"},
		{"GET", "/deliveries/api/quotes/" + quoteID + "/", 200, jsonHeader(), "quote.json"},
		{"POST", "/deliveries/api/quotes/" + quoteID + "/offers/", 201, jsonHeader(), "offer.json"},
		{"POST", "/deliveries/api/quotes/" + quoteID + "/offers", 200, jsonHeader(), "offer.json"},
		{"POST", "/deliveries/api/offers/" + offerID + "/accept/", 201, jsonHeader(), "accept.json"},
		{"POST", "/deliveries/api/quotes/", 400, jsonHeader(), "error_fields.json"},
		{"POST", "/deliveries/api/quotes/", 400, jsonHeader(), "error_non_field.json"},
		{"POST", "/deliveries/api/offers/" + offerID + "/accept/", 400, jsonHeader(), "error_state.json"},
		{"GET", "/deliveries/api/", 401, unauth, "error_401.json"},
		{"POST", "/deliveries/api/quotes/", 429, throttled, "error_429.json"},
		{"GET", "/user/api/me/", 429, throttled, "error_429.json"},
		{"GET", "/deliveries/api", 401, unauth, "error_401.json"},
		{"PATCH", "/deliveries/api/quotes/" + quoteID + "/", 403, jsonHeader(), "error_403.json"},
		{"GET", "/deliveries/api/3a580685-0b84-4e90-b54a-619bc99038c7/", 404, jsonHeader(), "error_404.json"},
		{"GET", "/nope/", 404, jsonHeader(), "error_404.json"},                     // unknown route
		{"POST", "/deliveries/api/", 405, jsonHeader(), "error_405.json"},          // method not offered
		{"DELETE", "/deliveries/api/offers/", 405, jsonHeader(), "error_405.json"}, // method not offered
		{"DELETE", "/user/api/me", 405, jsonHeader(), "error_405.json"},            // not /me/{userid}/ with an empty id
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.file, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			if err := v.ValidateResponse(t, req, c.status, c.header, read(t, c.file)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Request bodies the frontend sends validate against the write schemas.
	for file, schema := range map[string]string{"quote_request.json": "QuoteWrite", "offer_request.json": "OfferWrite"} {
		if err := v.ValidateSchema(schema, read(t, file)); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func edit(t *testing.T, file string, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(read(t, file), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Broken bodies, headers and statuses fail: the validator can catch drift.
func TestDriftFails(t *testing.T) {
	v := validator(t)
	quotePath := "/deliveries/api/quotes/"
	cases := []struct {
		name, method, path string
		status             int
		header             http.Header
		body               []byte
		want               string
	}{
		{"decimal as number", "POST", quotePath, 201, jsonHeader(),
			edit(t, "quote.json", func(m map[string]any) { m["client_price"] = 12000 }), "client_price"},
		{"decimal with one place", "POST", quotePath, 201, jsonHeader(),
			edit(t, "quote.json", func(m map[string]any) { m["client_price"] = "12000.0" }), "client_price"},
		{"missing field", "POST", quotePath + quoteID + "/offers/", 201, jsonHeader(),
			edit(t, "offer.json", func(m map[string]any) { delete(m, "can_accept") }), "can_accept"},
		{"null where not nullable", "POST", quotePath, 201, jsonHeader(),
			edit(t, "quote.json", func(m map[string]any) { m["client"] = nil }), "client"},
		{"extra field leaks", "GET", "/user/api/me/", 200, jsonHeader(),
			[]byte(strings.Replace(string(read(t, "user_list.json")), `"userid"`, `"is_staff": true, "userid"`, 1)), "is_staff"},
		{"timestamp without microseconds", "POST", quotePath, 201, jsonHeader(),
			edit(t, "quote.json", func(m map[string]any) { m["created_at"] = "2026-11-26T16:32:29Z" }), "created_at"},
		{"uppercase uuid", "POST", quotePath, 201, jsonHeader(),
			edit(t, "quote.json", func(m map[string]any) { m["id"] = strings.ToUpper(quoteID) }), "id"},
		{"bad enum", "POST", quotePath, 201, jsonHeader(),
			edit(t, "quote.json", func(m map[string]any) { m["payment_method"] = "bitcoin" }), "payment_method"},
		{"nested vehicle broken", "GET", "/user/api/me/", 200, jsonHeader(),
			[]byte(strings.Replace(string(read(t, "user_list.json")), `"max_weight_capacity_kg": "150.00"`, `"max_weight_capacity_kg": 150`, 1)), "max_weight_capacity_kg"},
		{"accept answer without delivery", "POST", "/deliveries/api/offers/" + offerID + "/accept/", 201, jsonHeader(),
			edit(t, "accept.json", func(m map[string]any) { delete(m, "delivery") }), "delivery"},
		{"error text repeated under error", "GET", "/deliveries/api/offers/" + offerID + "/", 404, jsonHeader(),
			[]byte(`{"detail": "No encontrado.", "error": "No encontrado."}`), "error"},
		{"error text repeated under message", "GET", "/deliveries/api/offers/" + offerID + "/", 404, jsonHeader(),
			[]byte(`{"detail": "No encontrado.", "message": "No encontrado."}`), "message"},
		{"favorite error without message", "POST", "/user/api/me/addresses/4acb89ce-670a-4517-861f-87b904bb4c99/add-favorite/", 404, jsonHeader(),
			[]byte(`{"detail": "No encontrado."}`), "message"},
		{"non_field_errors with error", "POST", quotePath, 400, jsonHeader(),
			[]byte(`{"non_field_errors": ["x"], "detail": "x", "error": "x"}`), "error"},
		{"field errors not lists", "POST", quotePath, 400, jsonHeader(),
			[]byte(`{"pickup_address": "Este campo es requerido."}`), ""},
		{"401 without WWW-Authenticate", "GET", "/user/api/me/", 401, jsonHeader(), read(t, "error_401.json"), "WWW-Authenticate"},
		{"undocumented status", "GET", "/user/api/me/", 418, jsonHeader(), read(t, "error_404.json"), "status"},
		{"unknown route answered 200", "GET", "/nope/", 200, jsonHeader(), []byte(`{}`), "no operation"},
		{"unknown route with non-JSON 404", "GET", "/nope/", 404, http.Header{"Content-Type": []string{"text/html"}}, []byte(`<h1>404</h1>`), "content type"},
		{"not JSON", "GET", "/deliveries/api/categories/", 200, http.Header{"Content-Type": []string{"text/plain"}}, []byte(`hola`), ""},
		{"empty id is no match", "DELETE", "/user/api/me/", 204, jsonHeader(), nil, "no operation"},
		{"204 with a body", "DELETE", "/user/api/me/addresses/4acb89ce-670a-4517-861f-87b904bb4c99/", 204, jsonHeader(), []byte(`{}`), "204"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			err := v.ValidateResponse(t, req, c.status, c.header, c.body)
			if err == nil {
				t.Fatalf("validation passed; want a failure")
			}
			t.Logf("fails as it should: %v", err)
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// Every route the server registers is documented (the reverse is checked by
// the end-to-end test, which validates every answer it sees).
func TestServedRoutesAreDocumented(t *testing.T) {
	doc := validator(t).Doc()
	e := httpapi.New(httpapi.Deps{})
	openapi.Register(e)
	param := regexp.MustCompile(`\{[^}]+\}`)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+param.ReplaceAllString(path, "{}")] = true
		}
	}
	colon := regexp.MustCompile(`:[^/]+`)
	var missing []string
	for _, r := range e.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		// Sockets, the development JWKS and the staff console (HTML) are not JSON API operations.
		if strings.HasPrefix(r.Path, "/ws/") || strings.HasPrefix(r.Path, "/.well-known/") || strings.HasPrefix(r.Path, "/admin") ||
			strings.HasPrefix(r.Path, "/static/") || strings.Contains(r.Path, "*") {
			continue
		}
		key := r.Method + " " + colon.ReplaceAllString(r.Path, "{}")
		if !documented[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("routes served but not in openapi.yaml:\n%s", strings.Join(missing, "\n"))
	}
}

func TestServed(t *testing.T) {
	e := echo.New()
	openapi.Register(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(openapi.Spec()) {
		t.Fatal("served body differs from Spec()")
	}
	v := validator(t)
	if err := v.ValidateResponse(t, httptest.NewRequest("GET", "/openapi.json", nil), rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func frame(t *testing.T, typ string, data []byte, extra string) []byte {
	t.Helper()
	return []byte(`{"type":"` + typ + `","data":` + string(data) + extra + `}`)
}

// Socket frames built from the examples' full bodies validate; broken ones fail.
func TestFramesValidate(t *testing.T) {
	v := validator(t)
	quote, offer := read(t, "quote.json"), read(t, "offer.json")
	var accept struct {
		Delivery json.RawMessage `json:"delivery"`
	}
	if err := json.Unmarshal(read(t, "accept.json"), &accept); err != nil {
		t.Fatal(err)
	}
	delivery := []byte(accept.Delivery)
	withOffers := []byte(strings.TrimSuffix(strings.TrimSpace(string(quote)), "}") + `, "offers": [` + string(offer) + `]}`)
	stats := `{"deliveries":[` + string(delivery) + `],"total":"13500.00","count":1}`
	good := map[string][]byte{
		"quote_created":             frame(t, "quote_created", quote, ""),
		"quote_deleted":             frame(t, "quote_deleted", quote, ""),
		"offer_made":                frame(t, "offer_made", offer, ""),
		"offer.accepted":            frame(t, "offer.accepted", offer, ""),
		"delivery.created":          frame(t, "delivery.created", delivery, ""),
		"delivery_status_changed":   frame(t, "delivery_status_changed", delivery, ""),
		"person_stats event":        frame(t, "person_stats", []byte(stats), `,"deliveries":[`+string(delivery)+`],"total":"13500.00","count":1`),
		"person_stats initial":      []byte(`{"type":"person_stats","deliveries":[],"total":"0.00","count":0}`),
		"new-quotes initial":        []byte(`{"type":"initial_quotes","quotes":[` + string(quote) + `]}`),
		"quote initial":             []byte(`{"type":"initial_quotes","quotes":[` + string(withOffers) + `]}`),
		"user_quotes.initial":       []byte(`{"type":"user_quotes.initial","quotes":[` + string(withOffers) + `]}`),
		"driver_offers.initial":     []byte(`{"type":"driver_offers.initial","offers":[` + string(offer) + `]}`),
		"user_deliveries.initial":   []byte(`{"type":"user_deliveries.initial","deliveries":[` + string(delivery) + `]}`),
		"nearby_drivers":            []byte(`{"type":"nearby_drivers","data":{"quote_id":"6f1c1d0e-8a5b-4c1e-9a57-2b7f0f7d9c11","count":3}}`),
		"quote with nearby_drivers": frame(t, "quote_created", []byte(strings.TrimSuffix(strings.TrimSpace(string(quote)), "}")+`, "nearby_drivers": 4}`), ""),
	}
	for name, f := range good {
		if err := v.ValidateFrame(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string][]byte{
		"unknown type":                   []byte(`{"type":"quote_exploded","data":{}}`),
		"quote event carrying offer":     frame(t, "quote_created", offer, ""),
		"offer without envelope":         offer,
		"stats total as number":          []byte(`{"type":"person_stats","deliveries":[],"total":0,"count":0}`),
		"user_quotes without offers":     []byte(`{"type":"user_quotes.initial","quotes":[` + string(quote) + `]}`),
		"not JSON":                       []byte(`pong`),
		"nearby_drivers negative":        []byte(`{"type":"nearby_drivers","data":{"quote_id":"6f1c1d0e-8a5b-4c1e-9a57-2b7f0f7d9c11","count":-1}}`),
		"nearby_drivers with a position": []byte(`{"type":"nearby_drivers","data":{"quote_id":"6f1c1d0e-8a5b-4c1e-9a57-2b7f0f7d9c11","count":1,"latitude":4.7}}`),
	}
	for name, f := range bad {
		if err := v.ValidateFrame(f); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}

// Transport validates every answer a client sees.
func TestTransport(t *testing.T) {
	v := validator(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/deliveries/api/categories/" {
			_, _ = w.Write(read(t, "categories.json"))
			return
		}
		_, _ = w.Write([]byte(`[{"id": 1}]`)) // not a Quote list
	}))
	defer srv.Close()
	var errs []error
	c := &http.Client{Transport: v.Transport(nil, func(err error) { errs = append(errs, err) })}
	for _, p := range []string{"/deliveries/api/categories/", "/deliveries/api/quotes/"} {
		res, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		var body any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatalf("body not handed on: %v", err)
		}
		res.Body.Close()
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "listQuotes") {
		t.Fatalf("want one failure on listQuotes, got %v", errs)
	}
}

// Static segments win over parameters: /me/update/ is not /me/{userid}/.
func TestRoutePrecedence(t *testing.T) {
	v := validator(t)
	addresses := "[" + string(read(t, "address.json")) + "]"
	cases := []struct {
		method, path string
		body         string
		op           string
	}{
		{"PATCH", "/user/api/me/update/", `{"message": "User user_x updated successfully"}`, "updateMeMessage"},
		{"GET", "/user/api/me/ratings/", `[]`, "listMyRatings"},
		{"GET", "/user/api/me/addresses/", addresses, "listAddresses"},
		{"GET", "/user/api/me/vehicles", `[]`, "listVehicles"},
		{"GET", "/user/api/me/vehicle-types/", string(read(t, "vehicle_types.json")), "listVehicleTypes"},
		{"POST", "/user/api/me/toggle-availability/", `{"is_available": true}`, "toggleAvailability"},
		{"GET", "/deliveries/api/quotes/", `[]`, "listQuotes"},
		{"GET", "/deliveries/api/offers/", `[]`, "listOffers"},
		{"GET", "/deliveries/api/categories", string(read(t, "categories.json")), "listCategories"},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, nil)
		if err := v.ValidateResponse(t, req, 200, jsonHeader(), []byte(c.body)); err != nil {
			t.Errorf("%s %s should be %s: %v", c.method, c.path, c.op, err)
		}
	}
	// And the parameter route still answers for a real id.
	user := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(read(t, "user_list.json"))), "["), "]")
	if err := v.ValidateResponse(t, httptest.NewRequest("GET", "/user/api/me/user_2pR3kT9wXy7ZbM1nQ5vL8sH2dGa/", nil), 200, jsonHeader(), []byte(user)); err != nil {
		t.Fatal(err)
	}
}
