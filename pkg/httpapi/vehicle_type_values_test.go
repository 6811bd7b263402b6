package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// Every vehicle type an answer or a frame renders carries its stored figures,
// wherever it sits (an offer's driver's current vehicle, the offer's vehicle,
// a delivery's client's and driver's current vehicles, …). GORM names a
// joined column after its relation path: the 64-byte
// DeliveryPerson__CurrentVehicle__Type__max_volume_capacity_liters was cut to
// 63 by PostgreSQL, matched no field, and the driver's vehicle type rendered
// max_volume_capacity_liters "0.00" on GET offers, GET deliveries and the
// status frames (SQLite keeps long names: only PostgreSQL showed it).
func TestVehicleTypesRenderStoredValues(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_vtv_client")
	driver := newActor(t, w, "user_vtv_driver")
	addVehicle(t, w, driver.ID, "Moto", true)
	addVehicle(t, w, client.ID, "Carro", true)

	var types []store.VehicleType
	if err := w.Store.DB.Find(&types).Error; err != nil {
		t.Fatal(err)
	}
	stored := map[string]store.VehicleType{}
	for _, vt := range types {
		if (vt.Name == "Moto" || vt.Name == "Carro") && (vt.MaxVolumeCapacityLiters.IsZero() || vt.MaxWeightCapacityKg.IsZero()) {
			t.Fatalf("seeded vehicle type %s has a zero capacity: the test needs non-zero values", vt.Name)
		}
		stored[vt.ID.String()] = vt
	}

	// check walks v and compares every rendered vehicle type with its row; it
	// fails unless one sits under a delivery_person (the path that broke).
	check := func(what string, v any) {
		t.Helper()
		n, underDriver := 0, 0
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				if _, ok := x["max_volume_capacity_liters"]; ok {
					n++
					if strings.Contains(path, "delivery_person") {
						underDriver++
					}
					vt, ok := stored[fmt.Sprint(x["id"])]
					if !ok {
						t.Errorf("%s %s: vehicle type %v is not stored", what, path, x["id"])
						return
					}
					for k, want := range map[string]any{
						"max_volume_capacity_liters": vt.MaxVolumeCapacityLiters.StringFixed(2),
						"max_weight_capacity_kg":     vt.MaxWeightCapacityKg.StringFixed(2),
						"passenger_capacity":         float64(vt.PassengerCapacity),
						"name":                       vt.Name,
						"description":                vt.Description,
					} {
						if x[k] != want {
							t.Errorf("%s %s.%s = %v, want %v (stored)", what, path, k, x[k], want)
						}
					}
					return
				}
				for k, e := range x {
					walk(path+"."+k, e)
				}
			case []any:
				for i, e := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), e)
				}
			}
		}
		walk("", v)
		if underDriver == 0 {
			t.Errorf("%s: no vehicle type under a delivery_person among the %d rendered", what, n)
		}
	}
	get := func(path string, tok string) any {
		t.Helper()
		res := w.Do(t, "GET", path, tok, nil)
		if res.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
		}
		var v any
		res.JSON(t, &v)
		return v
	}

	qid := createQuote(t, w, client, nil)
	offer := makeOffer(t, w, driver, qid, 9000, 201)
	oid := offer["id"].(string)
	check("POST offer", offer)
	check("GET quote's offers", get("/deliveries/api/quotes/"+qid+"/offers/", client.Tok))
	check("GET offer", get("/deliveries/api/offers/"+oid+"/", client.Tok))
	check("GET driver's offers", get("/deliveries/api/offers/", driver.Tok))

	w.Recorder.Take()
	did := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
	for _, f := range decodeFrames(t, w.Recorder.Take()) {
		if _, ok := f.Data["delivery_person"]; ok {
			check("accept frame "+f.Type+" to "+f.Group, f.Data)
		}
	}
	check("GET deliveries (client)", get("/deliveries/api/", client.Tok))
	check("GET deliveries (driver)", get("/deliveries/api/?filter_by=delivery_person", driver.Tok))
	check("GET delivery", get("/deliveries/api/"+did+"/", client.Tok))
	check("GET delivery history", get("/deliveries/api/"+did+"/history/", client.Tok))

	changed := mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", driver.Tok, nil), 200)
	check("change_status answer", changed)
	frames := 0
	for _, f := range decodeFrames(t, w.Recorder.Take()) {
		if _, ok := f.Data["delivery_person"]; ok {
			frames++
			check("status frame "+f.Type+" to "+f.Group, f.Data)
		}
	}
	if frames == 0 {
		t.Fatal("change_status published no frame with the delivery")
	}
}
