package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func vehicleTypeID(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	var vt store.VehicleType
	if err := st.DB.Where("name = ?", name).Take(&vt).Error; err != nil {
		t.Fatal(err)
	}
	return vt.ID.String()
}

func newVehicle(t *testing.T, w *testutil.Web, tok, typeID, plate, vin string) map[string]any {
	t.Helper()
	res := w.Do(t, "POST", "/user/api/me/vehicles/", tok, map[string]any{
		"type_id": typeID, "brand": "Bajaj", "model": "Boxer CT 100", "year": 2021,
		"licensePlate": plate, "vin": vin, "color": "Negro"})
	wantStatus(t, res, 201)
	return res.Map(t)
}

func TestProfileEndpoints(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok, other := w.Token(t, "user_ana"), w.Token(t, "user_bob")
	wantStatus(t, w.Do(t, "GET", "/user/api/me/", other, nil), 200)

	res := w.Do(t, "GET", "/user/api/me/", tok, nil)
	wantStatus(t, res, 200)
	var list []json.RawMessage
	res.JSON(t, &list)
	if len(list) != 1 {
		t.Fatalf("me/ is not a one-element list: %s", res.Body)
	}
	wantKeys(t, "User", list[0], userKeys)

	res = w.Do(t, "GET", "/user/api/me/user_ana", tok, nil) // slashless: same answer
	wantStatus(t, res, 200)
	wantKeys(t, "User", res.Body, userKeys)
	wantDetail(t, w.Do(t, "GET", "/user/api/me/user_bob/", tok, nil), 404)
	wantDetail(t, w.Do(t, "PATCH", "/user/api/me/user_bob/", tok, map[string]any{"phone": "1"}), 403)
	wantDetail(t, w.Do(t, "PUT", "/user/api/me/user_bob/", tok, map[string]any{"phone": "1"}), 403)
	wantDetail(t, w.Do(t, "DELETE", "/user/api/me/user_bob/", tok, nil), 403)

	// Partial update with DRF coercion; read-only fields ignored.
	res = w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{
		"age": "25", "gender": "female", "phone": "3204417856", "role": "client", "is_online": "true",
		"userid": "user_hacker", "email": "hacker@evil.test", "image_url": "https://evil.test/x.png",
		"is_staff": true, "rating_average": 10, "unknown": 1})
	wantStatus(t, res, 200)
	wantKeys(t, "User", res.Body, userKeys)
	m := res.Map(t)
	if m["age"] != 25.0 || m["gender"] != "female" || m["phone"] != "3204417856" || m["role"] != "client" ||
		m["is_online"] != true || m["userid"] != "user_ana" || m["email"] != "user_ana@example.com" || m["image_url"] != nil {
		t.Fatalf("update: %s", res.Body)
	}
	if u := loadUser(t, w.Store, "user_ana"); u.IsStaff {
		t.Fatal("is_staff became writable")
	}
	res = w.Do(t, "PUT", "/user/api/me/user_ana/", tok, map[string]any{"first_name": "Ana María"})
	wantStatus(t, res, 200)
	if m := res.Map(t); m["first_name"] != "Ana María" || m["age"] != 25.0 {
		t.Fatalf("PUT is partial: %s", res.Body)
	}

	res = w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{"age": "veinte", "gender": "robot", "phone": "12345678901", "role": "admin", "is_available": "quizás"})
	for _, f := range []string{"age", "gender", "phone", "role", "is_available"} {
		wantFieldError(t, res, f)
	}
	wantFieldError(t, w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{"age": -1}), "age")
	wantDetail(t, w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, "{not json"), 400)

	res = w.Do(t, "PATCH", "/user/api/me/update/", tok, map[string]any{"last_name": "Rueda", "age": 26})
	wantStatus(t, res, 200)
	if string(res.Body) != `{"message":"User user_ana updated successfully"}`+"\n" {
		t.Fatalf("me/update/: %q", res.Body)
	}
	wantFieldError(t, w.Do(t, "PATCH", "/user/api/me/update/", tok, map[string]any{"gender": "x"}), "gender")
	// The next GET sees the write at once (the authenticated row is cached briefly; writes forget it).
	var after []map[string]any
	res = w.Do(t, "GET", "/user/api/me/", tok, nil)
	wantStatus(t, res, 200)
	res.JSON(t, &after)
	if len(after) != 1 || after[0]["age"] != float64(26) { // (last_name comes back from the token's claims)
		t.Fatalf("GET me/ after PATCH: %v", after)
	}

	// current_vehicle_id must be one of the caller's vehicles.
	moto := vehicleTypeID(t, w.Store, "Moto")
	mine := newVehicle(t, w, tok, moto, "KTQ38F", "MD2A21BZ5MWC40817")
	theirs := newVehicle(t, w, other, moto, "ABC12D", "MD2A21BZ5MWC40818")
	wantFieldError(t, w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{"current_vehicle_id": theirs["vehicleId"]}), "current_vehicle_id")
	wantFieldError(t, w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{"current_vehicle_id": "nope"}), "current_vehicle_id")
	res = w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{"current_vehicle_id": mine["vehicleId"]})
	wantStatus(t, res, 200)
	cv := field(t, res.Body, "current_vehicle")
	wantKeys(t, "current_vehicle", cv, vehicleKeys)
	wantKeys(t, "current_vehicle.type", field(t, cv, "type"), vehicleTypeKeys)
	res = w.Do(t, "PATCH", "/user/api/me/user_ana/", tok, map[string]any{"current_vehicle_id": nil})
	if string(field(t, res.Body, "current_vehicle")) != "null" {
		t.Fatalf("current vehicle not cleared: %s", res.Body)
	}
}

func TestAvailabilityAndCurrentVehicle(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok, other := w.Token(t, "user_drv"), w.Token(t, "user_oth")
	toggle := func(body any) any {
		res := w.Do(t, "POST", "/user/api/me/toggle-availability/", tok, body)
		wantStatus(t, res, 200)
		m := res.Map(t)
		if len(m) != 1 {
			t.Fatalf("shape %s", res.Body)
		}
		return m["is_available"]
	}
	if toggle(nil) != true || toggle(nil) != false {
		t.Fatal("toggle does not flip")
	}
	if toggle(map[string]any{"is_available": true}) != true || toggle(map[string]any{"is_available": "true"}) != true {
		t.Fatal("set is not idempotent")
	}
	if toggle(map[string]any{"is_available": false}) != false {
		t.Fatal("set false")
	}
	wantFieldError(t, w.Do(t, "POST", "/user/api/me/toggle-availability/", tok, map[string]any{"is_available": "talvez"}), "is_available")

	moto := vehicleTypeID(t, w.Store, "Moto")
	mine := newVehicle(t, w, tok, moto, "KTQ38F", "MD2A21BZ5MWC40817")
	theirs := newVehicle(t, w, other, moto, "XYZ98E", "MD2A21BZ5MWC40819")
	scv := "/user/api/me/set-current-vehicle/"
	wantFieldError(t, w.Do(t, "POST", scv, tok, map[string]any{}), "vehicle_id")
	wantDetail(t, w.Do(t, "POST", scv, tok, map[string]any{"vehicle_id": "7d1f4f7e-3f3a-4d5e-9a43-2f7b1b0e9c11"}), 404)
	wantDetail(t, w.Do(t, "POST", scv, tok, map[string]any{"vehicle_id": theirs["vehicleId"]}), 403)
	res := w.Do(t, "POST", scv, tok, map[string]any{"vehicleId": mine["vehicleId"]})
	wantStatus(t, res, 200)
	wantKeys(t, "set-current-vehicle", res.Body, []string{"message", "vehicle_id"})
	if m := res.Map(t); m["vehicle_id"] != mine["vehicleId"] {
		t.Fatalf("not set: %s", res.Body)
	}
	// place.md §8: plate repeats licensePlate wherever a Vehicle renders.
	if mine["plate"] != "KTQ38F" || mine["licensePlate"] != "KTQ38F" {
		t.Fatalf("vehicle plate: %v", mine)
	}
	res = w.Do(t, "GET", "/user/api/me/user_drv/", tok, nil)
	if cv, _ := res.Map(t)["current_vehicle"].(map[string]any); cv == nil || cv["plate"] != "KTQ38F" || cv["plate"] != cv["licensePlate"] {
		t.Fatalf("current_vehicle.plate: %s", res.Body)
	}
	// plate is read-only: an update of licensePlate moves it, plate sent alone is a plate alias.
	res = w.Do(t, "PATCH", "/user/api/me/vehicles/"+mine["vehicleId"].(string)+"/", tok, map[string]any{"licensePlate": "KTQ39G"})
	if m := res.Map(t); m["plate"] != "KTQ39G" || m["licensePlate"] != "KTQ39G" {
		t.Fatalf("plate after update: %s", res.Body)
	}
	res = w.Do(t, "POST", scv, tok, map[string]any{"vehicle_id": mine["vehicleId"]})
	if m := res.Map(t); m["vehicle_id"] != nil || m["message"] == "" {
		t.Fatalf("not cleared: %s", res.Body)
	}
}

// place.md §8: set-availability sets, never flips: the same value twice stays.
func TestSetAvailability(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok := w.Token(t, "user_set_av")
	set := func(body any) any {
		t.Helper()
		res := w.Do(t, "POST", "/user/api/me/set-availability", tok, body) // slashless as well
		wantStatus(t, res, 200)
		wantKeys(t, "set-availability", res.Body, []string{"is_available"})
		return res.Map(t)["is_available"]
	}
	stored := func() bool {
		t.Helper()
		var u store.User
		if err := w.Store.DB.Where("userid = ?", "user_set_av").Take(&u).Error; err != nil {
			t.Fatal(err)
		}
		return u.IsAvailable
	}
	for _, c := range []struct {
		body any
		want bool
	}{
		{map[string]any{"is_available": true}, true}, {map[string]any{"is_available": true}, true},
		{map[string]any{"is_available": false}, false}, {map[string]any{"is_available": false}, false},
		{map[string]any{"is_available": "true", "other": 1}, true},
	} {
		if got := set(c.body); got != c.want || stored() != c.want {
			t.Fatalf("set %v: answered %v, stored %v", c.body, got, stored())
		}
	}
	for _, bad := range []any{nil, map[string]any{}, map[string]any{"is_available": nil},
		map[string]any{"is_available": "talvez"}, map[string]any{"is_available": 7}, map[string]any{"is_available": []any{true}}} {
		wantFieldError(t, w.Do(t, "POST", "/user/api/me/set-availability/", tok, bad), "is_available")
	}
	if !stored() {
		t.Fatal("a refused set changed the value")
	}
	wantStatus(t, w.Do(t, "POST", "/user/api/me/set-availability/", "", map[string]any{"is_available": true}), 401)
}

func TestAddressEndpoints(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok, other := w.Token(t, "user_cli"), w.Token(t, "user_str")
	res := w.Do(t, "POST", "/user/api/me/addresses/", tok, map[string]any{
		"name": "Casa Barichara", "description": "Casa esquinera de puerta verde, frente al parque",
		"address": "Calle 6 # 9-54", "city": "Barichara", "type": "casa", "isFavorite": true,
		"userId": "user_str", "addressId": "7d1f4f7e-3f3a-4d5e-9a43-2f7b1b0e9c11"})
	wantStatus(t, res, 201)
	wantKeys(t, "Address", res.Body, addressKeys)
	a := res.Map(t)
	if a["userId"] != "user_cli" || a["isFavorite"] != true || a["addressId"] == "7d1f4f7e-3f3a-4d5e-9a43-2f7b1b0e9c11" {
		t.Fatalf("create: %s", res.Body)
	}
	path := "/user/api/me/addresses/" + a["addressId"].(string) + "/"

	res = w.Do(t, "POST", "/user/api/me/addresses/", tok, map[string]any{"type": "castillo", "name": strings.Repeat("x", 101)})
	for _, f := range []string{"name", "type", "address", "city"} {
		wantFieldError(t, res, f)
	}
	wantStatus(t, w.Do(t, "POST", "/user/api/me/addresses/", tok, map[string]any{
		"name": "Oficina", "address": "Cra 7 # 72-41", "city": "Bogotá", "type": "trabajo"}), 201)

	res = w.Do(t, "GET", "/user/api/me/addresses/", tok, nil)
	wantStatus(t, res, 200)
	var list []json.RawMessage
	res.JSON(t, &list)
	if len(list) != 2 {
		t.Fatalf("list %s", res.Body)
	}
	wantKeys(t, "Address", list[0], addressKeys)
	res = w.Do(t, "GET", "/user/api/me/addresses/?limit=1&offset=1", tok, nil)
	res.JSON(t, &list)
	if len(list) != 1 {
		t.Fatalf("paging: %s", res.Body)
	}
	res = w.Do(t, "GET", "/user/api/me/addresses/?limit=&offset=", tok, nil)
	res.JSON(t, &list)
	if len(list) != 2 {
		t.Fatalf("empty paging params: %s", res.Body)
	}
	// The stranger sees nothing of it.
	res = w.Do(t, "GET", "/user/api/me/addresses/", other, nil)
	if strings.TrimSpace(string(res.Body)) != "[]" {
		t.Fatalf("stranger's list: %s", res.Body)
	}
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		wantDetail(t, w.Do(t, m, path, other, map[string]any{"name": "Mía"}), 404)
	}
	if res := w.Do(t, "POST", path+"add-favorite/", other, nil); res.Status != 404 || strings.Join(testutil.ErrorKeys(res.Body), ",") != "detail,message" {
		t.Fatalf("stranger's favorite: %d %s", res.Status, res.Body)
	}
	wantDetail(t, w.Do(t, "GET", "/user/api/me/addresses/not-a-uuid/", tok, nil), 404)

	res = w.Do(t, "GET", path, tok, nil)
	wantStatus(t, res, 200)
	wantKeys(t, "Address", res.Body, addressKeys)
	res = w.Do(t, "PATCH", path, tok, map[string]any{"city": "San Gil", "userId": "user_str"})
	wantStatus(t, res, 200)
	if m := res.Map(t); m["city"] != "San Gil" || m["name"] != "Casa Barichara" || m["userId"] != "user_cli" {
		t.Fatalf("patch: %s", res.Body)
	}
	wantFieldError(t, w.Do(t, "PUT", path, tok, map[string]any{"type": "iglú"}), "type")
	res = w.Do(t, "POST", path+"add-favorite/", tok, nil)
	wantStatus(t, res, 200)
	wantKeys(t, "add-favorite", res.Body, []string{"message", "isFavorite"})
	if res.Map(t)["isFavorite"] != false {
		t.Fatalf("favorite not flipped: %s", res.Body)
	}
	if w.Do(t, "POST", path+"add-favorite/", tok, nil).Map(t)["isFavorite"] != true {
		t.Fatal("favorite not flipped back")
	}
	res = w.Do(t, "DELETE", path, tok, nil)
	wantStatus(t, res, 204)
	if len(res.Body) != 0 {
		t.Fatalf("204 with a body: %q", res.Body)
	}
	wantDetail(t, w.Do(t, "GET", path, tok, nil), 404)
}

func TestVehicleEndpoints(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok, other := w.Token(t, "user_vdrv"), w.Token(t, "user_vstr")
	moto, carro := vehicleTypeID(t, w.Store, "Moto"), vehicleTypeID(t, w.Store, "Carro")

	res := w.Do(t, "GET", "/user/api/me/vehicle-types/", tok, nil)
	wantStatus(t, res, 200)
	var types []json.RawMessage
	res.JSON(t, &types)
	if len(types) != 3 {
		t.Fatalf("types %s", res.Body)
	}
	var names []string
	for _, raw := range types {
		wantKeys(t, "VehicleType", raw, vehicleTypeKeys)
		var vt struct {
			Name string   `json:"name"`
			Kg   string   `json:"max_weight_capacity_kg"`
			Cats []string `json:"delivery_categories"`
		}
		json.Unmarshal(raw, &vt)
		names = append(names, vt.Name)
		if vt.Name == "Moto" && (vt.Kg != "150.00" || len(vt.Cats) != 5) {
			t.Fatalf("Moto: %s", raw)
		}
	}
	if strings.Join(names, ",") != "Carro,Moto,Mototaxi" {
		t.Fatalf("order %v", names)
	}

	res = w.Do(t, "POST", "/user/api/me/vehicles/", tok, map[string]any{
		"type_id": moto, "brand": "Bajaj", "model": "Boxer CT 100", "year": "2020", "licensePlate": "ktq38f",
		"vin": "MD2A21BZ5MWC40817", "color": "Negro", "userId": "user_vstr", "isVerified": true,
		"driverLicenseStatus": "approved", "criminalRecordStatus": "approved", "verificationNotes": "ok", "vehicleId": "x"})
	wantStatus(t, res, 201)
	wantKeys(t, "Vehicle", res.Body, vehicleKeys)
	wantKeys(t, "Vehicle.type", field(t, res.Body, "type"), vehicleTypeKeys)
	v := res.Map(t)
	if v["year"] != 2020.0 || v["licensePlate"] != "KTQ38F" || v["plate"] != "KTQ38F" || v["userId"] != "user_vdrv" ||
		v["isVerified"] != false || v["driverLicenseStatus"] != "pending" || v["criminalRecordStatus"] != "pending" ||
		v["verificationNotes"] != nil {
		t.Fatalf("create: %s", res.Body)
	}
	path := "/user/api/me/vehicles/" + v["vehicleId"].(string) + "/"

	// Duplicates (plate compared case-insensitively), missing and bad fields.
	dup := map[string]any{"type_id": moto, "brand": "Honda", "model": "CB", "year": 2020, "licensePlate": "KTQ38F", "vin": "OTHERVIN000000001"}
	wantFieldError(t, w.Do(t, "POST", "/user/api/me/vehicles/", other, dup), "licensePlate")
	dup["licensePlate"], dup["vin"] = "NEW11A", "md2a21bz5mwc40817"
	wantFieldError(t, w.Do(t, "POST", "/user/api/me/vehicles/", other, dup), "vin")
	res = w.Do(t, "POST", "/user/api/me/vehicles/", tok, map[string]any{"year": "dos mil", "type_id": "7d1f4f7e-3f3a-4d5e-9a43-2f7b1b0e9c11"})
	for _, f := range []string{"type_id", "brand", "model", "year", "licensePlate", "vin"} {
		wantFieldError(t, res, f)
	}
	wantFieldError(t, w.Do(t, "POST", "/user/api/me/vehicles/", tok, map[string]any{"brand": "x", "model": "y", "year": 2020, "licensePlate": "AAA11A", "vin": "V1"}), "type_id")
	wantFieldError(t, w.Do(t, "POST", "/user/api/me/vehicles/", tok, map[string]any{"type_id": moto, "brand": "x", "model": "y", "year": 1200, "licensePlate": "AAA11A", "vin": "V1"}), "year")

	// The stranger gets 404 on every method; lists are per owner.
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		wantDetail(t, w.Do(t, m, path, other, map[string]any{"color": "Rojo"}), 404)
	}
	if strings.TrimSpace(string(w.Do(t, "GET", "/user/api/me/vehicles/", other, nil).Body)) != "[]" {
		t.Fatal("stranger lists the vehicle")
	}
	res = w.Do(t, "GET", "/user/api/me/vehicles/", tok, nil)
	var vs []json.RawMessage
	res.JSON(t, &vs)
	if len(vs) != 1 {
		t.Fatalf("list %s", res.Body)
	}
	wantKeys(t, "Vehicle", vs[0], vehicleKeys)

	// Staff verified it; the owner cannot touch the verification fields, and
	// changing the plate withdraws the verification.
	w.Store.DB.Model(&store.Vehicle{}).Where("vehicle_id = ?", v["vehicleId"]).Updates(map[string]any{"is_verified": true, "driver_license_status": "approved"})
	res = w.Do(t, "PATCH", path, tok, map[string]any{"color": "Rojo", "isVerified": false, "driverLicenseStatus": "rejected", "year": "2022"})
	wantStatus(t, res, 200)
	if m := res.Map(t); m["color"] != "Rojo" || m["isVerified"] != true || m["driverLicenseStatus"] != "approved" || m["year"] != 2022.0 {
		t.Fatalf("patch: %s", res.Body)
	}
	res = w.Do(t, "PUT", path, tok, map[string]any{"plate": "KTQ39F", "type_id": carro})
	wantStatus(t, res, 200)
	if m := res.Map(t); m["licensePlate"] != "KTQ39F" || m["isVerified"] != false || field(t, res.Body, "type") == nil {
		t.Fatalf("put: %s", res.Body)
	}
	other2 := newVehicle(t, w, other, moto, "ZZZ99Z", "VINZZZ")
	wantFieldError(t, w.Do(t, "PATCH", path, tok, map[string]any{"licensePlate": other2["licensePlate"]}), "licensePlate")

	// A vehicle used by a delivery is kept (400); an unused one is deleted.
	d := seedDelivery(t, w.Store, "user_vstr", "user_vdrv", store.DeliveryDelivered, time.Now())
	w.Store.DB.Model(&store.Delivery{}).Where("id = ?", d).Update("vehicle_id", v["vehicleId"])
	wantDetail(t, w.Do(t, "DELETE", path, tok, nil), 400)
	wantStatus(t, w.Do(t, "DELETE", "/user/api/me/vehicles/"+other2["vehicleId"].(string)+"/", other, nil), 204)
	wantDetail(t, w.Do(t, "GET", "/user/api/me/vehicles/"+other2["vehicleId"].(string)+"/", other, nil), 404)
}

func TestRatingEndpoints(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	cli, drv, str := w.Token(t, "user_rcli"), w.Token(t, "user_rdrv"), w.Token(t, "user_rstr")
	for _, tok := range []string{cli, drv, str} {
		wantStatus(t, w.Do(t, "GET", "/user/api/me/", tok, nil), 200)
	}
	rate := func(tok string, body map[string]any) *testutil.Response {
		return w.Do(t, "POST", "/user/api/user-ratings/", tok, body)
	}
	// No shared delivered delivery yet; an unfinished one does not count.
	seedDelivery(t, w.Store, "user_rcli", "user_rdrv", store.DeliveryInTransit, time.Now())
	res := rate(cli, map[string]any{"ratee_id": "user_rdrv", "rating": 9})
	wantFieldError(t, res, "non_field_errors")
	if !strings.Contains(string(res.Body), account.MsgNoSharedDelivery) {
		t.Fatalf("no shared delivery message: %s", res.Body)
	}
	res = rate(cli, map[string]any{"ratee_id": "user_rcli", "rating": 9})
	wantFieldError(t, res, "non_field_errors")
	if !strings.Contains(string(res.Body), account.MsgNoSelfRating) {
		t.Fatalf("self-rating message: %s", res.Body)
	}
	wantFieldError(t, rate(cli, map[string]any{"ratee_id": "user_rdrv", "rating": 11}), "rating")
	wantFieldError(t, rate(cli, map[string]any{"ratee_id": "user_rdrv", "rating": -1}), "rating")
	wantFieldError(t, rate(cli, map[string]any{"rating": 5}), "ratee_id")
	wantFieldError(t, rate(cli, map[string]any{"ratee_id": "user_nobody", "rating": 5}), "ratee_id")

	older := seedDelivery(t, w.Store, "user_rcli", "user_rdrv", store.DeliveryPaid, time.Now().Add(-2*time.Hour))
	newer := seedDelivery(t, w.Store, "user_rcli", "user_rdrv", store.DeliveryDelivered, time.Now().Add(-time.Hour))
	res = rate(cli, map[string]any{"ratee_id": "user_rdrv", "rating": "9", "comment": "Muy puntual", "rater_id": "user_rstr"})
	wantStatus(t, res, 201)
	wantKeys(t, "Rating", res.Body, ratingKeys)
	wantKeys(t, "Rating.ratee", field(t, res.Body, "ratee"), userKeys)
	r := res.Map(t)
	ratee, rater := r["ratee"].(map[string]any), r["rater"].(map[string]any)
	if rater["userid"] != "user_rcli" || ratee["userid"] != "user_rdrv" || ratee["email"] != nil ||
		rater["email"] != "user_rcli@example.com" || r["rating"] != 9.0 || ratee["rating_count"] != 1.0 {
		t.Fatalf("create: %s", res.Body)
	}
	var first store.Rating
	w.Store.DB.Where("id = ?", r["id"]).Take(&first)
	if first.DeliveryID == nil || *first.DeliveryID != newer {
		t.Fatal("the newest unrated shared delivery was not chosen")
	}
	wantStatus(t, rate(cli, map[string]any{"ratee_id": "user_rdrv", "rating": 7}), 201) // the older one
	wantFieldError(t, rate(cli, map[string]any{"ratee_id": "user_rdrv", "rating": 7}), "non_field_errors")
	// The other side rates too, once per delivery.
	res = rate(drv, map[string]any{"ratee_id": "user_rcli", "rating": 10})
	wantStatus(t, res, 201)
	fromDriver := res.Map(t)["id"].(string)
	_ = older
	wantFieldError(t, rate(str, map[string]any{"ratee_id": "user_rdrv", "rating": 1}), "non_field_errors")

	path := "/user/api/user-ratings/" + r["id"].(string) + "/"
	// Stranger: 404; ratee sees it but cannot change it: 403.
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		wantDetail(t, w.Do(t, m, path, str, map[string]any{"rating": 0}), 404)
	}
	wantStatus(t, w.Do(t, "GET", path, drv, nil), 200)
	wantDetail(t, w.Do(t, "PATCH", path, drv, map[string]any{"rating": 0}), 403)
	wantDetail(t, w.Do(t, "DELETE", path, drv, nil), 403)
	res = w.Do(t, "PATCH", path, cli, map[string]any{"rating": "8", "ratee_id": "user_rstr"})
	wantStatus(t, res, 200)
	if m := res.Map(t); m["rating"] != 8.0 || m["ratee"].(map[string]any)["userid"] != "user_rdrv" || m["comment"] != "Muy puntual" {
		t.Fatalf("patch: %s", res.Body)
	}
	wantFieldError(t, w.Do(t, "PUT", path, cli, map[string]any{"rating": 42}), "rating")

	res = w.Do(t, "GET", "/user/api/user-ratings/", cli, nil)
	var list []json.RawMessage
	res.JSON(t, &list)
	if len(list) != 3 { // two given, one received
		t.Fatalf("user-ratings: %s", res.Body)
	}
	res = w.Do(t, "GET", "/user/api/me/ratings/", drv, nil)
	res.JSON(t, &list)
	if len(list) != 2 {
		t.Fatalf("me/ratings: %s", res.Body)
	}
	res = w.Do(t, "GET", "/user/api/me/user_rdrv/ratings/", str, nil)
	res.JSON(t, &list)
	if len(list) != 2 || strings.Contains(string(res.Body), "@example.com") {
		t.Fatalf("ratings of another user (emails must be hidden): %s", res.Body)
	}
	wantDetail(t, w.Do(t, "GET", "/user/api/me/user_nobody/ratings/", str, nil), 404)
	me := w.Do(t, "GET", "/user/api/me/user_rdrv/", drv, nil).Map(t)
	if me["rating_average"] != 7.5 || me["rating_count"] != 2.0 {
		t.Fatalf("rating figures: %v %v", me["rating_average"], me["rating_count"])
	}
	if m := w.Do(t, "GET", "/user/api/me/user_rcli/", cli, nil).Map(t); m["rating_average"] != 10.0 || m["rating_count"] != 1.0 {
		t.Fatalf("client's figures before the delete: %v %v", m["rating_average"], m["rating_count"])
	}
	wantStatus(t, w.Do(t, "DELETE", "/user/api/user-ratings/"+fromDriver+"/", drv, nil), 204)
	// The ratee's totals follow the delete at once (the rater's request changed them).
	if m := w.Do(t, "GET", "/user/api/me/user_rcli/", cli, nil).Map(t); m["rating_average"] != nil || m["rating_count"] != 0.0 {
		t.Fatalf("client's figures after the delete: %v %v", m["rating_average"], m["rating_count"])
	}
	wantDetail(t, w.Do(t, "GET", "/user/api/user-ratings/"+fromDriver+"/", drv, nil), 404)
	wantDetail(t, w.Do(t, "GET", "/user/api/user-ratings/zzz/", drv, nil), 404)
}

func TestDeleteProfile(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok, cli := w.Token(t, "user_leaving"), w.Token(t, "user_stays")
	moto := vehicleTypeID(t, w.Store, "Moto")
	used := newVehicle(t, w, tok, moto, "USED11", "VINUSED")
	unused := newVehicle(t, w, tok, moto, "FREE11", "VINFREE")
	wantStatus(t, w.Do(t, "POST", "/user/api/me/addresses/", tok, map[string]any{"name": "Casa", "type": "casa", "address": "Calle 1", "city": "Cali"}), 201)
	wantStatus(t, w.Do(t, "PATCH", "/user/api/me/user_leaving/", tok, map[string]any{"age": 30, "phone": "300", "gender": "male", "current_vehicle_id": used["vehicleId"]}), 200)
	wantStatus(t, w.Do(t, "GET", "/user/api/me/", cli, nil), 200)
	d := seedDelivery(t, w.Store, "user_stays", "user_leaving", store.DeliveryPaid, time.Now())
	w.Store.DB.Model(&store.Delivery{}).Where("id = ?", d).Update("vehicle_id", used["vehicleId"])
	wantStatus(t, w.Do(t, "POST", "/user/api/user-ratings/", cli, map[string]any{"ratee_id": "user_leaving", "rating": 6}), 201)
	w.Recorder.Take()

	res := w.Do(t, "DELETE", "/user/api/me/user_leaving/", tok, nil)
	wantStatus(t, res, 204)
	if len(res.Body) != 0 {
		t.Fatalf("204 with body %q", res.Body)
	}
	u := loadUser(t, w.Store, "user_leaving")
	if u.DeletedAt == nil || u.Age != nil || u.Phone != nil || u.Gender != nil || u.Email != nil || u.FirstName != nil ||
		u.LastName != nil || u.Username != nil || u.CurrentVehicleID != nil {
		t.Fatalf("personal fields kept: %+v", u)
	}
	count := func(model any, where string, args ...any) int64 {
		var n int64
		w.Store.DB.Model(model).Where(where, args...).Count(&n)
		return n
	}
	if count(&store.Address{}, "user_id = ?", "user_leaving") != 0 {
		t.Fatal("addresses kept")
	}
	if count(&store.Vehicle{}, "vehicle_id = ?", used["vehicleId"]) != 1 || count(&store.Vehicle{}, "vehicle_id = ?", unused["vehicleId"]) != 0 {
		t.Fatal("vehicles: the used one must stay, the unused one go")
	}
	if count(&store.Delivery{}, "id = ?", d) != 1 || count(&store.Rating{}, "ratee_id = ?", "user_leaving") != 1 {
		t.Fatal("deliveries and ratings must be kept")
	}
	msgs := w.Recorder.Take()
	if len(msgs) != 1 || msgs[0].Group != "_control" || string(msgs[0].Payload) != `{"type":"user_deleted","user":"user_leaving"}` {
		t.Fatalf("control frame: %+v", msgs)
	}
	// The published mark is queued for the outbox's background loop.
	for deadline := time.Now().Add(5 * time.Second); count(&store.OutboxEvent{}, "published_at IS NULL") != 0; {
		if time.Now().After(deadline) {
			t.Fatal("outbox row not marked published")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantDetail(t, w.Do(t, "GET", "/user/api/me/", tok, nil), 401)
	// The other party still sees the delivery's rating, the deleted profile without personal data.
	res = w.Do(t, "GET", "/user/api/user-ratings/", cli, nil)
	if !strings.Contains(string(res.Body), `"userid":"user_leaving","username":null,"first_name":null`) {
		t.Fatalf("rating of a deleted user: %s", res.Body)
	}
	_ = fmt.Sprint
}

func TestUserRoutesMethodNotAllowed(t *testing.T) {
	w := testutil.NewWeb(t, testutil.WebOptions{})
	tok := w.Token(t, "user_routes")
	for _, c := range [][2]string{{"GET", "/user/api/me/update/"}, {"GET", "/user/api/me/toggle-availability"}, {"GET", "/user/api/me/set-availability/"},
		{"DELETE", "/user/api/me/vehicle-types/"}, {"PATCH", "/user/api/me/ratings/"}, {"POST", "/user/api/me/user_routes/"}} {
		res := w.Do(t, c[0], c[1], tok, nil)
		wantDetail(t, res, 405)
		if res.Header.Get("Allow") == "" {
			t.Fatalf("%s %s: no Allow header", c[0], c[1])
		}
	}
	res := w.Do(t, "GET", "/user/api/me/user_routes/ratings", tok, nil) // slashless
	wantStatus(t, res, 200)
}
