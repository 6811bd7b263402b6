package httpapi_test

import (
	"strings"
	"testing"

	"hermez/pkg/market"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// place.md §8: the history page's filter values. Labels select their
// statuses and methods; card and unknown values an empty list; empty values
// no filter.
func TestDeliveryFilterLabels(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_labels_client")
	driver := newActor(t, w, "user_labels_driver")
	// One delivery per status, the payment method alternating; created in this
	// order, so listed newest first in the reverse one.
	statuses := []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit,
		store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled}
	id := map[string]string{}
	for i, st := range statuses {
		pm := "efectivo"
		if i%2 == 1 {
			pm = "nequi"
		}
		qid := createQuote(t, w, client, map[string]any{"payment_method": pm})
		oid := makeOffer(t, w, driver, qid, 8000, 201)["id"].(string)
		d := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
		if err := w.Store.DB.Model(&store.Delivery{}).Where("id = ?", d).Update("status", st).Error; err != nil {
			t.Fatal(err)
		}
		id[st] = d
	}
	// efectivo: assigned, in_transit, paid; nequi: picked_up, delivered, cancelled.
	list := func(sts ...string) string { // newest first
		var out []string
		for i := len(statuses) - 1; i >= 0; i-- {
			for _, st := range sts {
				if statuses[i] == st {
					out = append(out, st)
				}
			}
		}
		return strings.Join(out, ",")
	}
	all := list(statuses...)
	cases := []struct{ query, want string }{
		{"", all},
		{"status=&payment_method=", all},
		{"status=pending", list("assigned")},
		{"status=on-the-way", list("picked_up", "in_transit")},
		{"status=completed", list("delivered", "paid")},
		{"status=in_transit", list("in_transit")},
		{"status=lost", ""},
		{"status=Pending", ""},
		{"status=pending%20", list("assigned")}, // surrounding blanks are trimmed, as before
		{"payment_method=efectivo", list("assigned", "in_transit", "paid")},
		{"payment_method=nequi", list("picked_up", "delivered", "cancelled")},
		{"payment_method=cash", list("assigned", "in_transit", "paid")},
		{"payment_method=transfer", list("picked_up", "delivered", "cancelled")},
		{"payment_method=card", ""},
		{"payment_method=bitcoin", ""},
		{"status=completed&payment_method=transfer", list("delivered")},
		{"status=on-the-way&payment_method=cash", list("in_transit")},
		{"status=completed&payment_method=card", ""},
		{"status=lost&payment_method=", ""},
	}
	name := map[string]string{}
	for st, d := range id {
		name[d] = st
	}
	for _, c := range cases {
		for _, path := range []string{"/deliveries/api/?", "/deliveries/api?"} {
			res := w.Do(t, "GET", path+c.query, client.Tok, nil)
			var got []map[string]any
			mustStatus(t, res, 200)
			res.JSON(t, &got)
			var names []string
			for _, d := range got {
				names = append(names, name[d["id"].(string)])
			}
			if strings.Join(names, ",") != c.want {
				t.Errorf("%s%s → [%s], want [%s]", path, c.query, strings.Join(names, ","), c.want)
			}
			if got == nil && string(res.Body) != "[]\n" {
				t.Errorf("%s%s: empty list answered %q", path, c.query, res.Body)
			}
		}
	}
	// As a driver too, and the staff-only filter still refuses first.
	res := w.Do(t, "GET", "/deliveries/api/?filter_by=delivery_person&status=completed", driver.Tok, nil)
	var got []map[string]any
	mustStatus(t, res, 200)
	res.JSON(t, &got)
	if len(got) != 2 {
		t.Fatalf("driver completed: %s", res.Body)
	}
	if res := w.Do(t, "GET", "/deliveries/api/?filter_by=all&status=lost", client.Tok, nil); res.Status != 403 {
		t.Fatalf("filter_by=all with a status naming nothing: %d %s", res.Status, res.Body)
	}
}

func TestFilterValues(t *testing.T) {
	for _, c := range []struct {
		param, v string
		want     string
		filter   bool
	}{
		{"status", "", "", false}, {"status", "  ", "", false},
		{"status", "pending", "assigned", true}, {"status", "on-the-way", "picked_up,in_transit", true},
		{"status", "completed", "delivered,paid", true}, {"status", "cancelled", "cancelled", true},
		{"status", "nope", "", true},
		{"payment_method", "", "", false}, {"payment_method", "cash", "efectivo", true},
		{"payment_method", "transfer", "nequi", true}, {"payment_method", "card", "", true},
		{"payment_method", "nequi", "nequi", true}, {"payment_method", "x", "", true},
	} {
		got, filter := market.FilterValues(c.param, c.v)
		if strings.Join(got, ",") != c.want || filter != c.filter {
			t.Errorf("FilterValues(%q, %q) = %v %v, want %q %v", c.param, c.v, got, filter, c.want, c.filter)
		}
	}
}
