package app_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/app"
	"hermez/pkg/config"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// Single-process mode runs the automatic accept in its runner: a quote with
// auto_accept_lowest and AUTO_ACCEPT_DELAY_SECONDS=0 is accepted within
// place.md's 2 s of its first offer, by nobody but the loop.
func TestSingleProcessRunsAutoAccept(t *testing.T) {
	m := realtime.NewMemory()
	w := testutil.NewWeb(t, testutil.WebOptions{Broker: &app.Broker{Publisher: m, Memory: m},
		Config: func(c *config.Config) { c.AutoAcceptDelaySeconds = 0 }})
	if w.App.Runner == nil || w.App.Runner.AutoAccept == nil {
		t.Fatal("no automatic accept in the single-process runner")
	}
	client, driver := w.Token(t, "user_sp_client"), w.Token(t, "user_sp_driver")
	var cat store.Category
	if err := w.Store.DB.Where("is_active").Order("name").Take(&cat).Error; err != nil {
		t.Fatal(err)
	}
	res := w.Do(t, "POST", "/deliveries/api/quotes/", client, map[string]any{"category_id": cat.ID, "client_price": 9000,
		"pickup_address": "Calle 1", "delivery_address": "Calle 2", "auto_accept_lowest": true})
	if res.Status != 201 {
		t.Fatalf("quote: %d %s", res.Status, res.Body)
	}
	qid := res.Map(t)["id"].(string)
	w.Do(t, "GET", "/deliveries/api/categories/", driver, nil) // first sight of the driver
	res = w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/offers/", driver, map[string]any{"proposed_price": 8000})
	if res.Status != 201 {
		t.Fatalf("offer: %d %s", res.Status, res.Body)
	}
	offered := time.Now()
	var q store.Quote
	if err := w.Store.DB.Unscoped().Select("history_id").Where("id = ?", uuid.MustParse(qid)).Take(&q).Error; err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "the automatic accept", func() bool {
		var n int64
		w.Store.DB.Model(&store.Delivery{}).Where("history_id = ?", q.HistoryID).Count(&n)
		return n == 1
	})
	t.Logf("accepted %s after the offer", time.Since(offered).Round(time.Millisecond))
}
