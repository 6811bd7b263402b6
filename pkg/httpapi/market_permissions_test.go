package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"hermez/pkg/config"
	"hermez/pkg/testutil"
)

// One rule per subtest: the stranger is refused (403 when they can see the
// resource, 404 when they cannot), the allowed caller succeeds.
func TestMarketPermissions(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_perm_client")
	driver := newActor(t, w, "user_perm_driver")
	stranger := newActor(t, w, "user_perm_stranger")
	staff := newActor(t, w, "user_perm_staff")
	w.SetStaff(t, staff.ID, true)
	vid := addVehicle(t, w, driver.ID, "Moto", false)
	strangerVehicle := addVehicle(t, w, stranger.ID, "Carro", false)

	t.Run("offer on own quote", func(t *testing.T) {
		qid := createQuote(t, w, client, nil)
		m := makeOffer(t, w, client, qid, 10000, 400)
		if m["detail"] == nil {
			t.Fatalf("want detail: %v", m)
		}
		makeOffer(t, w, driver, qid, 10000, 201)
	})

	t.Run("offer body tolerated extras and vehicle", func(t *testing.T) {
		qid := createQuote(t, w, client, nil)
		path := "/deliveries/api/quotes/" + qid + "/offers/"
		mustStatus(t, w.Do(t, "POST", path, driver.Tok, map[string]any{"proposed_price": 1, "delivery_person_id": stranger.ID}), 403)
		m := mustStatus(t, w.Do(t, "POST", path, driver.Tok, map[string]any{"proposed_price": 1, "quote_id": createQuote(t, w, client, nil)}), 400)
		if m["quote_id"] == nil {
			t.Fatalf("want quote_id field error: %v", m)
		}
		m = mustStatus(t, w.Do(t, "POST", path, driver.Tok, map[string]any{"proposed_price": 1, "vehicle_id": strangerVehicle.String()}), 400)
		if m["vehicle_id"] == nil {
			t.Fatalf("want vehicle_id field error: %v", m)
		}
		mustStatus(t, w.Do(t, "POST", path, driver.Tok, map[string]any{"proposed_price": 0}), 400)
		m = mustStatus(t, w.Do(t, "POST", path, driver.Tok, map[string]any{"proposed_price": "9000.5", "vehicle_id": vid.String(),
			"estimated_delivery_time": "00:25:00"}), 201)
		if m["estimated_delivery_time"] != "00:25:00" || m["vehicle"].(map[string]any)["vehicleId"] != vid.String() {
			t.Fatalf("offer %v", m)
		}
	})

	t.Run("accept", func(t *testing.T) {
		qid := createQuote(t, w, client, nil)
		oid := makeOffer(t, w, driver, qid, 10000, 201)["id"].(string)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", stranger.Tok, nil), 404)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", driver.Tok, nil), 403)
		mustStatus(t, w.Do(t, "GET", "/deliveries/api/offers/"+oid+"/", stranger.Tok, nil), 404)
		mustStatus(t, w.Do(t, "GET", "/deliveries/api/offers/"+oid+"/", driver.Tok, nil), 200)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 404)
	})

	t.Run("reject", func(t *testing.T) {
		qid := createQuote(t, w, client, nil)
		oid := makeOffer(t, w, driver, qid, 10000, 201)["id"].(string)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/reject/", stranger.Tok, nil), 404)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/reject/", driver.Tok, nil), 403)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/reject/", client.Tok, nil), 200)
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/reject/", client.Tok, nil), 400)
	})

	t.Run("quote patch cancel extend delete", func(t *testing.T) {
		qid := createQuote(t, w, client, nil)
		base := "/deliveries/api/quotes/" + qid + "/"
		mustStatus(t, w.Do(t, "PATCH", base, stranger.Tok, map[string]any{"client_price": 1}), 403)
		mustStatus(t, w.Do(t, "PUT", base, stranger.Tok, quoteBody(t, w, stranger, nil)), 403)
		mustStatus(t, w.Do(t, "POST", base+"cancel/", stranger.Tok, nil), 403)
		mustStatus(t, w.Do(t, "POST", base+"extend-expiration/", stranger.Tok, map[string]any{"minutes": 5}), 403)
		mustStatus(t, w.Do(t, "DELETE", base, stranger.Tok, nil), 403)
		m := mustStatus(t, w.Do(t, "PATCH", base, client.Tok, map[string]any{"client_price": 1}), 200)
		if m["client_price"] != "1.00" {
			t.Fatalf("patch %v", m)
		}
		mustStatus(t, w.Do(t, "PUT", base, client.Tok, quoteBody(t, w, client, map[string]any{"client_price": 2})), 200)
		mustStatus(t, w.Do(t, "POST", base+"extend-expiration/", client.Tok, map[string]any{"minutes": 5}), 200)
		mustStatus(t, w.Do(t, "POST", base+"cancel/", client.Tok, nil), 200)
		mustStatus(t, w.Do(t, "GET", base, stranger.Tok, nil), 404)
	})

	t.Run("delivery change_status detail cancel", func(t *testing.T) {
		qid := createQuote(t, w, client, nil)
		oid := makeOffer(t, w, driver, qid, 10000, 201)["id"].(string)
		did := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
		base := "/deliveries/api/" + did + "/"
		mustStatus(t, w.Do(t, "POST", base+"change_status/", client.Tok, nil), 403)
		mustStatus(t, w.Do(t, "POST", base+"change_status/", stranger.Tok, nil), 404)
		mustStatus(t, w.Do(t, "POST", base+"change_status/", staff.Tok, nil), 403)
		mustStatus(t, w.Do(t, "GET", base, stranger.Tok, nil), 404)
		mustStatus(t, w.Do(t, "GET", base+"history/", stranger.Tok, nil), 404)
		mustStatus(t, w.Do(t, "POST", base+"cancel/", stranger.Tok, nil), 404)
		for _, who := range []actor{client, driver, staff} {
			mustStatus(t, w.Do(t, "GET", base, who.Tok, nil), 200)
		}
		mustStatus(t, w.Do(t, "POST", base+"change_status/", driver.Tok, nil), 200)
		mustStatus(t, w.Do(t, "POST", base+"cancel/", client.Tok, nil), 200)
	})

	t.Run("filter_by all is staff only", func(t *testing.T) {
		mustStatus(t, w.Do(t, "GET", "/deliveries/api/?filter_by=all", client.Tok, nil), 403)
		var list []map[string]any
		res := w.Do(t, "GET", "/deliveries/api/?filter_by=all", staff.Tok, nil)
		mustStatus(t, res, 200)
		res.JSON(t, &list)
		if len(list) < 2 {
			t.Fatalf("staff sees %d deliveries", len(list))
		}
	})

	t.Run("categories are staff-managed", func(t *testing.T) {
		body := map[string]any{"name": "Mascotas", "description": "Transporte de mascotas."}
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/categories/", client.Tok, body), 403)
		m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/categories/", staff.Tok, body), 201)
		id := m["id"].(string)
		if m["name"] != "Mascotas" || m["is_active"] != true {
			t.Fatalf("category %v", m)
		}
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/categories/", staff.Tok, body), 400)
		mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/categories/"+id+"/", client.Tok, map[string]any{"is_active": false}), 403)
		m = mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/categories/"+id+"/", staff.Tok, map[string]any{"is_active": false}), 200)
		if m["is_active"] != false || m["name"] != "Mascotas" {
			t.Fatalf("patched category %v", m)
		}
		// An inactive category is refused for new quotes.
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{"category_id": id})), 400)
		mustStatus(t, w.Do(t, "DELETE", "/deliveries/api/categories/"+id+"/", client.Tok, nil), 403)
		res := w.Do(t, "DELETE", "/deliveries/api/categories/"+id+"/", staff.Tok, nil)
		if res.Status != 204 {
			t.Fatalf("delete category: %d %s", res.Status, res.Body)
		}
		// One in use by deliveries is kept.
		mustStatus(t, w.Do(t, "DELETE", "/deliveries/api/categories/"+categoryID(t, w, "Paquetes")+"/", staff.Tok, nil), 400)
	})
}

func TestRequireVerifiedVehicle(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.RequireVerifiedVehicle = true }})
	client := newActor(t, w, "user_rvv_client")
	driver := newActor(t, w, "user_rvv_driver")
	qid := createQuote(t, w, client, nil)
	if m := makeOffer(t, w, driver, qid, 5000, 400); m["vehicle_id"] == nil {
		t.Fatalf("no vehicle: %v", m)
	}
	addVehicle(t, w, driver.ID, "Moto", false)
	if m := makeOffer(t, w, driver, qid, 5000, 400); m["vehicle_id"] == nil {
		t.Fatalf("unverified vehicle: %v", m)
	}
	addVehicle(t, w, driver.ID, "Carro", true)
	m := makeOffer(t, w, driver, qid, 5000, 201)
	if m["vehicle"].(map[string]any)["isVerified"] != true {
		t.Fatalf("offer vehicle %v", m["vehicle"])
	}
}

// GET categories/ answers the list rendered once per catalog load: the same
// bytes as rendering it (?pretty renders each time; its compact form is the
// cached answer), and a staff write shows at once.
func TestCategoriesRenderedOnce(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_cat_client")
	staff := newActor(t, w, "user_cat_staff")
	w.SetStaff(t, staff.ID, true)
	compact := func(b []byte) string {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			t.Fatal(err)
		}
		return buf.String() + "\n"
	}
	first := mustStatusRaw(t, w.Do(t, "GET", "/deliveries/api/categories/", client.Tok, nil))
	again := mustStatusRaw(t, w.Do(t, "GET", "/deliveries/api/categories/", client.Tok, nil))
	pretty := mustStatusRaw(t, w.Do(t, "GET", "/deliveries/api/categories/?pretty", client.Tok, nil))
	if string(first.Body) != string(again.Body) || string(first.Body) != compact(pretty.Body) {
		t.Fatalf("cached answer differs from the rendered one:\n%s\n%s", first.Body, pretty.Body)
	}
	if ct := first.Header.Get("Content-Type"); ct != pretty.Header.Get("Content-Type") || ct != "application/json" {
		t.Fatalf("content type %q, rendered %q", ct, pretty.Header.Get("Content-Type"))
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/categories/", staff.Tok, map[string]any{"name": "Mascotas", "description": "Transporte de mascotas."}), 201)
	after := mustStatusRaw(t, w.Do(t, "GET", "/deliveries/api/categories/", client.Tok, nil))
	if !strings.Contains(string(after.Body), `"Mascotas"`) || string(after.Body) == string(first.Body) {
		t.Fatalf("new category missing after the write: %s", after.Body)
	}
}

func mustStatusRaw(t *testing.T, res *testutil.Response) *testutil.Response {
	t.Helper()
	if res.Status != 200 {
		t.Fatalf("status %d: %s", res.Status, res.Body)
	}
	return res
}
