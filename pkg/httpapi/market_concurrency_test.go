package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/config"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// 20 drivers' offers on one quote, accepted by 20 goroutines at once: exactly
// one delivery and one 201; every loser gets 400, 404 or 409 with the error shape.
func TestConcurrentAccept(t *testing.T) {
	t.Parallel()
	const drivers = 20
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_race_client")
	qid := createQuote(t, w, client, nil)
	offers := make([]string, drivers)
	for i := range offers {
		d := newActor(t, w, fmt.Sprintf("user_race_driver_%02d", i))
		offers[i] = makeOffer(t, w, d, qid, 10000+i, 201)["id"].(string)
	}
	var q store.Quote
	if err := w.Store.DB.Where("id = ?", qid).Take(&q).Error; err != nil {
		t.Fatal(err)
	}

	type result struct {
		status int
		body   map[string]any
		err    error
	}
	results := make([]result, drivers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	httpc := &http.Client{Timeout: 60 * time.Second}
	for i := range offers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", w.URL+"/deliveries/api/offers/"+offers[i]+"/accept/", nil)
			req.Header.Set("Authorization", "Bearer "+client.Tok)
			<-start
			res, err := httpc.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			results[i].status = res.StatusCode
			results[i].err = json.Unmarshal(b, &results[i].body)
		}(i)
	}
	close(start)
	wg.Wait()

	created, byStatus := 0, map[int]int{}
	for i, r := range results {
		byStatus[r.status]++
		if r.err != nil {
			t.Fatalf("accept %d: %v", i, r.err)
		}
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict:
			if r.body["detail"] == nil || len(r.body) != 1 {
				t.Fatalf("loser %d (%d) without the error shape: %v", i, r.status, r.body)
			}
		default:
			t.Fatalf("accept %d: unexpected status %d %v", i, r.status, r.body)
		}
	}
	t.Logf("%s: statuses %v", testutil.Dialect(), byStatus)
	if created != 1 {
		t.Fatalf("%d accepts answered 201, want exactly 1", created)
	}
	var n int64
	w.Store.DB.Model(&store.Delivery{}).Where("history_id = ?", q.HistoryID).Count(&n)
	if n != 1 {
		t.Fatalf("%d deliveries for one quote (%s)", n, testutil.Dialect())
	}
	w.Store.DB.Model(&store.Offer{}).Where("quote_id = ?", qid).Count(&n)
	if n != 0 {
		t.Fatalf("%d offers left", n)
	}
	w.Store.DB.Model(&store.HistoryEvent{}).Where("history_id = ? AND event_type = ?", q.HistoryID, store.HistoryOfferAccepted).Count(&n)
	if n != 1 {
		t.Fatalf("%d offer_accepted history rows", n)
	}
}

// Filters: a month of another month excludes; empty parameters mean no
// filter; bad months and years are ignored (a status naming nothing: see
// TestDeliveryFilterLabels); the slashless path answers the same.
func TestDeliveryFilters(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_filter_client")
	driver := newActor(t, w, "user_filter_driver")
	accept := func(over map[string]any) string {
		qid := createQuote(t, w, client, over)
		oid := makeOffer(t, w, driver, qid, 8000, 201)["id"].(string)
		return mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
	}
	recent := accept(nil)
	nequi := accept(map[string]any{"payment_method": "nequi"})
	old := accept(nil)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+nequi+"/cancel/", client.Tok, nil), 200)
	oldDate := time.Date(2020, 3, 15, 12, 0, 0, 0, time.UTC)
	if err := w.Store.DB.Model(&store.Delivery{}).Where("id = ?", old).Update("created_at", oldDate).Error; err != nil {
		t.Fatal(err)
	}
	now := store.Now()

	ids := func(path string) []string {
		t.Helper()
		res := w.Do(t, "GET", path, client.Tok, nil)
		mustStatus(t, res, 200)
		var list []map[string]any
		res.JSON(t, &list)
		out := make([]string, len(list))
		for i, d := range list {
			out[i] = d["id"].(string)
		}
		return out
	}
	same := func(got []string, want ...string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	all := []string{nequi, recent, old} // newest first: the old one was moved to 2020
	cases := []struct {
		path string
		want []string
	}{
		{"/deliveries/api/", all},
		{"/deliveries/api", all},
		{"/deliveries/api?status=&month=&year=&payment_method=&filter_by=", all},
		{"/deliveries/api/?status=&month=&year=&payment_method=", all},
		{"/deliveries/api/?month=13&year=abc", all},
		{fmt.Sprintf("/deliveries/api?month=%d", int(now.Month())), []string{nequi, recent}},
		{fmt.Sprintf("/deliveries/api?month=%d&year=%d", int(now.Month()), now.Year()), []string{nequi, recent}},
		{"/deliveries/api?month=3&year=2020", []string{old}},
		{"/deliveries/api?year=2020", []string{old}},
		{fmt.Sprintf("/deliveries/api?month=%d&year=2019", int(now.Month())), nil},
		{"/deliveries/api?status=cancelled", []string{nequi}},
		{"/deliveries/api?payment_method=nequi", []string{nequi}},
		{"/deliveries/api?payment_method=efectivo&status=assigned", []string{recent, old}},
		{"/deliveries/api/?limit=1&offset=1", []string{recent}},
		{"/deliveries/api/?filter_by=delivery_person", nil},
	}
	for _, c := range cases {
		if got := ids(c.path); !same(got, c.want...) {
			t.Errorf("%s → %v, want %v", c.path, got, c.want)
		}
	}
	if got := len(ids("/deliveries/api?filter_by=delivery_person")); got != 0 {
		t.Fatalf("client as driver: %d", got)
	}
	res := w.Do(t, "GET", "/deliveries/api?filter_by=delivery_person&status=", driver.Tok, nil)
	var list []any
	res.JSON(t, &list)
	if len(list) != 3 {
		t.Fatalf("driver's deliveries: %s", res.Body)
	}
	a := w.Do(t, "GET", "/deliveries/api?status=assigned", client.Tok, nil)
	b := w.Do(t, "GET", "/deliveries/api/?status=assigned", client.Tok, nil)
	if a.Status != 200 || string(a.Body) != string(b.Body) {
		t.Fatalf("slashless path differs:\n%s\n%s", a.Body, b.Body)
	}
}

// Lists load nested objects with a fixed number of queries, however long they are.
func TestMarketListsNoNPlusOne(t *testing.T) {
	t.Parallel()
	// One client creates more quotes than THROTTLE_QUOTES's default allows.
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleQuotes, c.ThrottleUserWrites = "0", "0" }})
	// Every request reads its user (no 2-s user cache that could expire
	// between the two counts and add a statement to one of them).
	w.App.Auth.UserTTL = 0
	client := newActor(t, w, "user_n1_client")
	var queries atomic.Int64
	err := w.Store.DB.Callback().Query().After("gorm:query").Register("test:count", func(tx *gorm.DB) {
		if ctx := tx.Statement.Context; ctx != nil && ctx.Value(http.ServerContextKey) != nil {
			queries.Add(1) // a request's, not a background loop's
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func(path string, tok string) int64 {
		queries.Store(0)
		mustStatus(t, w.Do(t, "GET", path, tok, nil), 200)
		return queries.Load()
	}
	grow := func(n int, prefix string) {
		for i := range n {
			d := newActor(t, w, fmt.Sprintf("%s_%02d", prefix, i))
			addVehicle(t, w, d.ID, "Moto", false)
			qid := createQuote(t, w, client, nil)
			oid := makeOffer(t, w, d, qid, 7000, 201)["id"].(string)
			createQuote(t, w, client, nil)
			makeOffer(t, w, d, createQuote(t, w, client, nil), 7000, 201)
			mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)
		}
	}
	grow(1, "user_n1_a")
	paths := []string{"/deliveries/api/", "/deliveries/api/quotes/", "/deliveries/api/offers/"}
	small := map[string]int64{}
	for _, p := range paths {
		small[p] = count(p, client.Tok)
	}
	grow(6, "user_n1_b")
	for _, p := range paths {
		big := count(p, client.Tok)
		t.Logf("%s: %d queries with 1 item, %d with 7", p, small[p], big)
		if big != small[p] {
			t.Errorf("%s: %d queries with 1 item, %d with 7", p, small[p], big)
		}
	}
}
