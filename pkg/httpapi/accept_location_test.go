package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"hermez/pkg/app"
	"hermez/pkg/realtime"
	"hermez/pkg/testutil"
)

// The accept's answer carries the driver_location its delivery frames carry
// (one read of the location store, place.md §6): a driver with a fresh
// location shows it in both, equal; with none, both are null.
func TestAcceptAnswersItsFramesDriverLocation(t *testing.T) {
	t.Parallel()
	rec, mem := &testutil.Recorder{}, realtime.NewMemory()
	clk := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	st := testutil.NewStore(t)
	st.Now = clk.Now
	w := testutil.NewWeb(t, testutil.WebOptions{Store: st, Config: noThrottles, Broker: &app.Broker{Publisher: tee{rec, mem}, Memory: mem}})
	client, driver := newActor(t, w, "acl_client"), newActor(t, w, "acl_driver")
	addVehicle(t, w, driver.ID, "Moto", false)
	accept := func(located bool) {
		t.Helper()
		qid := createQuote(t, w, client, map[string]any{"pickup_latitude": 7.119349, "pickup_longitude": -73.122741,
			"delivery_latitude": 7.108601, "delivery_longitude": -73.128952})
		offer := makeOffer(t, w, driver, qid, 11000, 201)
		if located {
			clk.Add(1100 * time.Millisecond)
			mustStatus(t, w.Do(t, "POST", "/user/api/me/location/", driver.Tok, map[string]any{"latitude": 7.130001, "longitude": -73.120002}), 200)
		}
		rec.Take()
		acc := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+offer["id"].(string)+"/accept/", client.Tok, nil), 201)
		answer, _ := json.Marshal(acc["delivery"].(map[string]any)["driver_location"])
		var frame []byte
		for _, m := range rec.Take() {
			if m.Group == realtime.GroupUserDeliveries(client.ID) && m.Type == "delivery_created" {
				var f struct {
					Data map[string]any `json:"data"`
				}
				if err := json.Unmarshal([]byte(m.Payload), &f); err != nil {
					t.Fatal(err)
				}
				frame, _ = json.Marshal(f.Data["driver_location"])
			}
		}
		if frame == nil {
			t.Fatalf("no delivery_created frame to the client")
		}
		if string(answer) != string(frame) {
			t.Errorf("located %v: the answer's driver_location %s, the frame's %s", located, answer, frame)
		}
		if got := string(answer) != "null"; got != located {
			t.Errorf("located %v: driver_location %s", located, answer)
		}
	}
	accept(false)
	accept(true)
}
