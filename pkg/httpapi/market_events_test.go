package httpapi_test

import (
	"testing"

	"hermez/pkg/testutil"
)

// The frames each action publishes, against docs/realtime.md's "Events" table:
// types, order, groups, the id inside data, and can_accept per group.
func TestMarketEvents(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	c := newActor(t, w, "user_ev_client")
	d1 := newActor(t, w, "user_ev_d1")
	d2 := newActor(t, w, "user_ev_d2")
	d3 := newActor(t, w, "user_ev_d3")
	addVehicle(t, w, d1.ID, "Moto", false)
	w.Recorder.Take()
	take := func() []frame { return decodeFrames(t, w.Recorder.Take()) }

	newQ, userQ, userD := "new_quotes", "user_quotes_"+c.ID, "user_deliveries_"+c.ID
	quoteGroups := func(typ, qid string, groups ...string) []want {
		out := make([]want, len(groups))
		for i, g := range groups {
			out[i] = want{Type: typ, Group: g, ID: qid}
		}
		return out
	}
	offerGroups := func(typ, qid, oid string, driver actor, clientCan bool) []want {
		return []want{
			{Type: typ, Group: "quote_" + qid, ID: oid, CanAccept: bp(clientCan)},
			{Type: typ, Group: userQ, ID: oid, CanAccept: bp(clientCan)},
			{Type: typ, Group: "driver_offers_" + driver.ID, ID: oid, CanAccept: bp(false)},
		}
	}
	concat := func(parts ...[]want) []want {
		var out []want
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	// quote created
	qid := createQuote(t, w, c, nil)
	got := take()
	expectFrames(t, got, quoteGroups("quote_created", qid, newQ, "quote_"+qid, userQ))
	if got[0].Data["client"].(map[string]any)["email"] != nil || got[2].Data["client"].(map[string]any)["email"] != c.ID+"@example.com" {
		t.Fatalf("privacy: new_quotes must hide the email, user_quotes_ shows the owner's own: %v / %v", got[0].Data["client"], got[2].Data["client"])
	}
	if _, has := got[0].Data["offers"]; has {
		t.Fatal("new_quotes carries offers")
	}

	// offer created, updated by its driver
	o1 := makeOffer(t, w, d1, qid, 13000, 201)["id"].(string)
	got = take()
	expectFrames(t, got, offerGroups("offer_made", qid, o1, d1, true))
	if got[0].Data["delivery_person"].(map[string]any)["email"] != nil || got[2].Data["delivery_person"].(map[string]any)["email"] != d1.ID+"@example.com" {
		t.Fatal("privacy of the driver in offer frames")
	}
	makeOffer(t, w, d1, qid, 13500, 200)
	expectFrames(t, take(), offerGroups("offer_updated", qid, o1, d1, true))
	o2 := makeOffer(t, w, d2, qid, 12500, 201)["id"].(string)
	expectFrames(t, take(), offerGroups("offer_made", qid, o2, d2, true))
	o3 := makeOffer(t, w, d3, qid, 12900, 201)["id"].(string)
	take()

	// quote updated: PATCH and extend-expiration
	mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", c.Tok, map[string]any{"client_price": 12500}), 200)
	got = take()
	expectFrames(t, got, quoteGroups("quote_updated", qid, "quote_"+qid, userQ, newQ))
	if got[0].Data["client_price"] != "12500.00" {
		t.Fatalf("quote_updated data %v", got[0].Data)
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/extend-expiration/", c.Tok, map[string]any{"minutes": 3}), 200)
	expectFrames(t, take(), quoteGroups("quote_updated", qid, "quote_"+qid, userQ, newQ))

	// offer rejected
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o2+"/reject/", c.Tok, nil), 200)
	got = take()
	expectFrames(t, got, concat(offerGroups("offer_updated", qid, o2, d2, false), offerGroups("offer_rejected", qid, o2, d2, false),
		offerGroups("offer_deleted", qid, o2, d2, false)))
	if got[0].Data["status"] != "rejected" {
		t.Fatalf("offer_updated on reject: status %v", got[0].Data["status"])
	}

	// offer accepted
	m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o1+"/accept/", c.Tok, nil), 201)
	did := m["delivery_id"].(string)
	got = take()
	expectFrames(t, got, concat(
		offerGroups("offer_updated", qid, o1, d1, false),
		offerGroups("offer.accepted", qid, o1, d1, false),
		quoteGroups("quote_accepted", qid, "quote_"+qid, userQ, newQ),
		quoteGroups("quote_deleted", qid, "quote_"+qid, userQ, newQ),
		[]want{
			{Type: "delivery.created", Group: "delivery_" + did, ID: did},
			{Type: "delivery.created", Group: userD, ID: did},
			{Type: "delivery.created", Group: "driver_deliveries_" + d1.ID, ID: did},
			{Type: "delivery_created", Group: userD, ID: did},
			{Type: "delivery_assigned", Group: "driver_deliveries_" + d1.ID, ID: did},
			{Type: "offer_expired", Group: "driver_offers_" + d3.ID, ID: o3, CanAccept: bp(false)},
			{Type: "offer_deleted", Group: "driver_offers_" + d3.ID, ID: o3, CanAccept: bp(false)},
		}))
	if got[3].Data["status"] != "accepted" || got[6].Data["status"] != "accepted" || got[9].Data["status"] != "accepted" {
		t.Fatalf("accepted statuses: offer %v quote %v", got[3].Data["status"], got[6].Data["status"])
	}
	del := got[12].Data
	if del["client"].(map[string]any)["email"] != nil || del["delivery_person"].(map[string]any)["email"] != nil {
		t.Fatal("delivery_ group (two readers) must hide both emails")
	}
	if got[13].Data["client"].(map[string]any)["email"] != c.ID+"@example.com" || got[13].Data["delivery_person"].(map[string]any)["email"] != nil {
		t.Fatal("user_deliveries_ shows only the client's own email")
	}

	// delivery status advanced; person stats when it reaches delivered and paid
	statusFrames := func() []want {
		var out []want
		for _, typ := range []string{"delivery.status", "delivery_status_changed"} {
			out = append(out, want{Type: typ, Group: "delivery_" + did, ID: did}, want{Type: typ, Group: userD, ID: did},
				want{Type: typ, Group: "driver_deliveries_" + d1.ID, ID: did})
		}
		return out
	}
	for _, next := range []string{"picked_up", "in_transit"} {
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
		got = take()
		expectFrames(t, got, statusFrames())
		if got[0].Data["status"] != next {
			t.Fatalf("status %v, want %s", got[0].Data["status"], next)
		}
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
	got = take()
	expectFrames(t, got, append(statusFrames(), want{Type: "person_stats", Group: "person_stats_" + d1.ID},
		want{Type: "stats_updated", Group: "person_stats_" + d1.ID}))
	for _, f := range got[6:] {
		if f.Raw["count"] != float64(1) || f.Raw["total"] != "13500.00" || f.Data["count"] != float64(1) || f.Data["total"] != "13500.00" {
			t.Fatalf("%s frame: %v", f.Type, f.Raw)
		}
		if ds := f.Raw["deliveries"].([]any); len(ds) != 1 || ds[0].(map[string]any)["id"] != did {
			t.Fatalf("%s deliveries: %v", f.Type, f.Raw["deliveries"])
		}
		if ds := f.Data["deliveries"].([]any); len(ds) != 1 {
			t.Fatalf("%s data.deliveries: %v", f.Type, f.Data["deliveries"])
		}
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", d1.Tok, nil), 200)
	expectFrames(t, take(), append(statusFrames(), want{Type: "person_stats", Group: "person_stats_" + d1.ID},
		want{Type: "stats_updated", Group: "person_stats_" + d1.ID}))

	// quote cancelled: the pending offer's driver is told, the rejected one is not
	q2 := createQuote(t, w, c, nil)
	p2 := makeOffer(t, w, d2, q2, 7000, 201)["id"].(string)
	r3 := makeOffer(t, w, d3, q2, 7100, 201)["id"].(string)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+r3+"/reject/", c.Tok, nil), 200)
	take()
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+q2+"/cancel/", c.Tok, nil), 200)
	got = take()
	expectFrames(t, got, concat(
		quoteGroups("quote_expired", q2, newQ, "quote_"+q2, userQ),
		quoteGroups("quote_deleted", q2, newQ, "quote_"+q2, userQ),
		[]want{{Type: "offer_expired", Group: "driver_offers_" + d2.ID, ID: p2, CanAccept: bp(false)},
			{Type: "offer_deleted", Group: "driver_offers_" + d2.ID, ID: p2, CanAccept: bp(false)}}))
	if got[0].Data["status"] != "cancelled" {
		t.Fatalf("quote_expired on cancel: status %v", got[0].Data["status"])
	}

	// quote deleted (DELETE): the same frames as cancel
	q3 := createQuote(t, w, c, nil)
	take()
	if res := w.Do(t, "DELETE", "/deliveries/api/quotes/"+q3+"/", c.Tok, nil); res.Status != 204 {
		t.Fatalf("delete: %d", res.Status)
	}
	expectFrames(t, take(), concat(quoteGroups("quote_expired", q3, newQ, "quote_"+q3, userQ),
		quoteGroups("quote_deleted", q3, newQ, "quote_"+q3, userQ)))

	// delivery cancelled
	q4 := createQuote(t, w, c, nil)
	o4 := makeOffer(t, w, d2, q4, 6000, 201)["id"].(string)
	d4 := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o4+"/accept/", c.Tok, nil), 201)["delivery_id"].(string)
	take()
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+d4+"/cancel/", c.Tok, nil), 200)
	var wants []want
	for _, typ := range []string{"delivery.status", "delivery_cancelled"} {
		wants = append(wants, want{Type: typ, Group: "delivery_" + d4, ID: d4}, want{Type: typ, Group: userD, ID: d4},
			want{Type: typ, Group: "driver_deliveries_" + d2.ID, ID: d4})
	}
	got = take()
	expectFrames(t, got, wants)
	if got[3].Data["status"] != "cancelled" {
		t.Fatalf("delivery_cancelled status %v", got[3].Data["status"])
	}

	// Refused actions publish nothing.
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+d4+"/cancel/", c.Tok, nil), 400)
	if n := len(w.Recorder.Take()); n != 0 {
		t.Fatalf("a refused action published %d frames", n)
	}
}
