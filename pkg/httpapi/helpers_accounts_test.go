package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// Key orders of examples.md.
var (
	userKeys = []string{"userid", "username", "first_name", "last_name", "email", "image_url", "gender", "phone",
		"age", "role", "is_online", "is_available", "current_vehicle", "rating_average", "rating_count"}
	vehicleKeys = []string{"vehicleId", "userId", "type", "brand", "model", "year", "licensePlate", "vin", "color",
		"driverLicenseStatus", "registrationCardStatus", "insurancePolicyStatus", "criminalRecordStatus",
		"isVerified", "verificationNotes", "plate"}
	vehicleTypeKeys = []string{"id", "name", "description", "max_weight_capacity_kg", "max_volume_capacity_liters",
		"passenger_capacity", "image", "is_active", "created_at", "updated_at", "delivery_categories"}
	addressKeys = []string{"addressId", "userId", "name", "description", "address", "city", "type", "isFavorite", "latitude", "longitude"}
	ratingKeys  = []string{"id", "ratee", "rater", "rating", "comment", "created_at"}
)

// objectKeys returns the keys of a JSON object in the order they were written.
func objectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func wantKeys(t *testing.T, what string, raw []byte, want []string) {
	t.Helper()
	if got := objectKeys(t, raw); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s keys\n got %v\nwant %v", what, got, want)
	}
}

// field returns the raw JSON of key in an object.
func field(t *testing.T, raw []byte, key string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m[key]
}

func wantStatus(t *testing.T, res *testutil.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

// wantFieldError checks a DRF field error on field.
func wantFieldError(t *testing.T, res *testutil.Response, field string) {
	t.Helper()
	wantStatus(t, res, 400)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("not a field error shape: %s", res.Body)
	}
	var msgs []string
	if err := json.Unmarshal(m[field], &msgs); err != nil || len(msgs) == 0 || msgs[0] == "" {
		t.Fatalf("no message for %q: %s", field, res.Body)
	}
	if field == "non_field_errors" {
		// docs/api.md: a 400 that is not about one field also carries its first
		// message as detail (and nothing else).
		var s string
		if json.Unmarshal(m["detail"], &s) != nil || s != msgs[0] || len(m) != 2 {
			t.Fatalf("detail is not the first non-field message, or other keys: %s", res.Body)
		}
	}
}

// wantDetail checks the {"detail"} shape.
func wantDetail(t *testing.T, res *testutil.Response, status int) {
	t.Helper()
	wantStatus(t, res, status)
	testutil.DetailText(t, res.Body)
}

// post sends body with headers to the web process.
func post(t *testing.T, w *testutil.Web, path string, h http.Header, body []byte) *testutil.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &testutil.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// seedDelivery inserts a delivery row directly (deliveries are born from the
// marketplace, which these tests do not need).
func seedDelivery(t *testing.T, st *store.Store, client, driver, status string, created time.Time) uuid.UUID {
	t.Helper()
	var cat store.Category
	if err := st.DB.Order("name").Take(&cat).Error; err != nil {
		t.Fatal(err)
	}
	d := store.Delivery{ID: uuid.New(), ClientID: client, DeliveryPersonID: &driver, PickupAddress: "Calle 1",
		DeliveryAddress: "Calle 2", CategoryID: cat.ID, PaymentMethod: "efectivo", FinalPrice: decimal.NewFromInt(10000),
		Status: status, CreatedAt: created, UpdatedAt: created, HistoryID: uuid.New()}
	if err := st.DB.Omit("Client", "Driver", "Category").Create(&d).Error; err != nil {
		t.Fatal(err)
	}
	return d.ID
}
