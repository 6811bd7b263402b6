package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"hermez/pkg/config"
	"hermez/pkg/market"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
	"hermez/pkg/view"
)

// place.md §7 over HTTP: auto_accept_lowest on create and PATCH (its
// client's, while pending), auto_accept_at read-only and announced by
// quote_updated, and the automatic accept publishing what the client's does.
func TestAutoAcceptHTTP(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	clock := testutil.NewClock(t0)
	st := testutil.NewStore(t)
	st.Now = clock.Now
	w := testutil.NewWeb(t, testutil.WebOptions{Store: st, Config: func(c *config.Config) { c.AutoAcceptDelaySeconds = 60 }})
	client := newActor(t, w, "user_aa_client")
	driver := newActor(t, w, "user_aa_driver")
	other := newActor(t, w, "user_aa_other")
	at := view.Time(t0.Add(60 * time.Second))
	wantAt, _ := at.MarshalJSON()
	wantAtText := strings.Trim(string(wantAt), `"`)

	wantFieldError(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{"auto_accept_lowest": "talvez"})), "auto_accept_lowest")
	q := mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{
		"auto_accept_lowest": true, "auto_accept_at": "2020-01-01T00:00:00Z"})), 201)
	if q["auto_accept_lowest"] != true || q["auto_accept_at"] != nil {
		t.Fatalf("created %v", q)
	}
	qid := q["id"].(string)
	plain := createQuote(t, w, client, nil)
	if m := mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+plain+"/", client.Tok, nil), 200); m["auto_accept_lowest"] != false || m["auto_accept_at"] != nil {
		t.Fatalf("default: %v", m)
	}
	w.Recorder.Take()

	// The first offer sets the instant; quote_updated says so.
	makeOffer(t, w, driver, qid, 8000, 201)
	updated := 0
	for _, f := range decodeFrames(t, w.Recorder.Take()) {
		if f.Type == "quote_updated" {
			updated++
			if f.Data["auto_accept_at"] != wantAtText {
				t.Fatalf("quote_updated → %s: auto_accept_at %v, want %s", f.Group, f.Data["auto_accept_at"], wantAtText)
			}
		}
	}
	if updated == 0 {
		t.Fatal("no quote_updated when auto_accept_at was set")
	}
	if m := mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", client.Tok, nil), 200); m["auto_accept_at"] != wantAtText {
		t.Fatalf("read: %v", m["auto_accept_at"])
	}

	// Only its client switches it; off clears the instant, on recomputes it.
	wantStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", other.Tok, map[string]any{"auto_accept_lowest": false}), 403)
	m := mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", client.Tok, map[string]any{"auto_accept_lowest": false}), 200)
	if m["auto_accept_lowest"] != false || m["auto_accept_at"] != nil {
		t.Fatalf("off: %v", m)
	}
	m = mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", client.Tok, map[string]any{"auto_accept_lowest": true, "auto_accept_at": nil}), 200)
	if m["auto_accept_lowest"] != true || m["auto_accept_at"] != wantAtText {
		t.Fatalf("on again: %v", m)
	}
	w.Recorder.Take()

	// At the instant the runner's job accepts it, as the client would have.
	clock.Set(t0.Add(60 * time.Second))
	if n, err := w.App.Market.AutoAcceptDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("due: %d %v", n, err)
	}
	var types []string
	for _, f := range decodeFrames(t, w.Recorder.Take()) {
		types = append(types, f.Type)
	}
	got := strings.Join(types, ",")
	for _, want := range []string{"offer.accepted", "quote_accepted", "quote_deleted", "delivery.created", "delivery_created", "delivery_assigned"} {
		if !strings.Contains(got, want) {
			t.Fatalf("automatic accept frames %s: no %s", got, want)
		}
	}
	list := w.Do(t, "GET", "/deliveries/api/", client.Tok, nil)
	var ds []map[string]any
	list.JSON(t, &ds)
	if len(ds) != 1 || ds[0]["final_price"] != "8000.00" {
		t.Fatalf("deliveries %s", list.Body)
	}
	var h store.HistoryEvent
	if err := st.DB.Where("event_type = ? AND description = ?", store.HistoryOfferAccepted, market.MsgAutoAccepted).Take(&h).Error; err != nil || *h.ChangedByID != client.ID {
		t.Fatalf("history: %v %+v", err, h)
	}
	wantStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", client.Tok, map[string]any{"auto_accept_lowest": false}), 404)
}
