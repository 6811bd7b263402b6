package httpapi_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// Every frame carries the version of the resource it describes (docs/realtime.md
// "Order"): 1 when created, one more per change, one past the last for a
// removal (final); the stored row's version follows.
func TestMarketFramesCarryResourceVersions(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	c := newActor(t, w, "user_ver_client")
	d1 := newActor(t, w, "user_ver_d1")
	d2 := newActor(t, w, "user_ver_d2")
	addVehicle(t, w, d1.ID, "Moto", false)
	w.Recorder.Take()
	// versions sums up the frames published since the last call:
	// "resource@version[!]" (! = final), sorted, each once.
	versions := func() string {
		seen := map[string]bool{}
		for _, m := range w.Recorder.Take() {
			if m.Resource == "" {
				t.Fatalf("frame %s to %s without a resource", m.Type, m.Group)
			}
			k := fmt.Sprintf("%s@%d", m.Resource, m.Version)
			if m.Final {
				k += "!"
			}
			seen[k] = true
		}
		out := make([]string, 0, len(seen))
		for k := range seen {
			out = append(out, k)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	expect := func(what, want string) {
		t.Helper()
		parts := strings.Fields(want)
		sort.Strings(parts)
		want = strings.Join(parts, " ")
		if got := versions(); got != want {
			t.Fatalf("%s: frames %q, want %q", what, got, want)
		}
	}
	qid := createQuote(t, w, c, nil)
	q := "quote:" + qid
	expect("create", q+"@1")
	mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", c.Tok, map[string]any{"client_price": 15000}), 200)
	expect("patch", q+"@2")
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/extend-expiration/", c.Tok, map[string]any{"minutes": 3}), 200)
	expect("extend", q+"@3")
	o1 := makeOffer(t, w, d1, qid, 13000, 201)["id"].(string)
	expect("offer", "offer:"+o1+"@1")
	makeOffer(t, w, d1, qid, 12500, 200)
	expect("offer again", "offer:"+o1+"@2")
	o2 := makeOffer(t, w, d2, qid, 14000, 201)["id"].(string)
	expect("second offer", "offer:"+o2+"@1")
	m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o1+"/accept/", c.Tok, nil), 201)
	did := m["delivery_id"].(string)
	expect("accept", strings.Join([]string{"delivery:" + did + "@1", "offer:" + o1 + "@3", "offer:" + o2 + "@2!", q + "@4!"}, " "))
	var dv int64
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
	expect("picked up", "delivery:"+did+"@2")
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
	expect("in transit", "delivery:"+did+"@3")
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
	expect("delivered", "delivery:"+did+"@4 "+realtime.ResourceStats(d1.ID)+"@1")
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
	expect("paid", "delivery:"+did+"@5 "+realtime.ResourceStats(d1.ID)+"@2")
	if err := w.Store.DB.Model(&store.Delivery{}).Where("id = ?", did).Pluck("version", &dv).Error; err != nil || dv != 5 {
		t.Fatalf("stored delivery version %d (%v), want 5", dv, err)
	}

	// A cancelled quote: its removal is one past its last version, and its pending offer's too.
	qid2 := createQuote(t, w, c, nil)
	o3 := makeOffer(t, w, d2, qid2, 14000, 201)["id"].(string)
	versions()
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid2+"/cancel/", c.Tok, nil), 200)
	expect("cancel", "offer:"+o3+"@2! quote:"+qid2+"@2!")
}
