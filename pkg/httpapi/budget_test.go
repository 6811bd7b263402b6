package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/config"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// statementCounter counts the SQL statements a request runs, through GORM
// callbacks on the store: every create, query, update, delete, row and raw
// statement whose context comes from an HTTP request (background loops are
// not counted). BEGIN and COMMIT never pass through callbacks; SAVEPOINT and
// RELEASE (nested transactions) and the catalog's reloads are skipped.
type statementCounter struct {
	mu   sync.Mutex
	n    int
	sqls []string
}

func countStatements(t *testing.T, db *gorm.DB) *statementCounter {
	t.Helper()
	c := &statementCounter{}
	if err := db.Use(fixedSQLCounter{c}); err != nil {
		t.Fatalf("register the fixed-SQL counter: %v", err)
	}
	count := func(tx *gorm.DB) { c.count(tx.Statement.Context, tx.Statement.SQL.String()) }
	cb := db.Callback()
	for name, err := range map[string]error{
		"create": cb.Create().After("gorm:create").Register("budget:count", count),
		"query":  cb.Query().After("gorm:query").Register("budget:count", count),
		"update": cb.Update().After("gorm:update").Register("budget:count", count),
		"delete": cb.Delete().After("gorm:delete").Register("budget:count", count),
		"row":    cb.Row().After("gorm:row").Register("budget:count", count),
		"raw":    cb.Raw().After("gorm:raw").Register("budget:count", count),
	} {
		if err != nil {
			t.Fatalf("register %s counter: %v", name, err)
		}
	}
	return c
}

// count counts one statement sent with ctx, unless it is outside a request
// or bookkeeping (savepoints, the catalog's reload).
func (c *statementCounter) count(ctx context.Context, sql string) {
	if ctx == nil || (ctx.Value(http.ServerContextKey) == nil && ctx.Value(countedKey{}) == nil) {
		return
	}
	sql = strings.TrimSpace(sql)
	up := strings.ToUpper(sql)
	if strings.HasPrefix(up, "SAVEPOINT") || strings.HasPrefix(up, "RELEASE") || strings.HasPrefix(up, "ROLLBACK TO") {
		return
	}
	if strings.HasPrefix(sql, store.CatalogQueryTag) {
		return // the catalog's reload: at most once per store.CatalogTTL, not per request
	}
	c.mu.Lock()
	c.n++
	c.sqls = append(c.sqls, sql)
	c.mu.Unlock()
}

// fixedSQLCounter hears the statements store's fixed-SQL inserts send past
// GORM's callbacks (store.StatementObserver).
type fixedSQLCounter struct{ c *statementCounter }

func (fixedSQLCounter) Name() string              { return store.StatementObserverName }
func (fixedSQLCounter) Initialize(*gorm.DB) error { return nil }
func (f fixedSQLCounter) ObserveStatement(ctx context.Context, sql string) {
	f.c.count(ctx, sql)
}

// countedKey marks a context whose statements are counted outside requests.
type countedKey struct{}

// do runs one request and returns how many statements it ran.
func (c *statementCounter) do(t *testing.T, fn func()) (int, []string) {
	t.Helper()
	c.mu.Lock()
	c.n, c.sqls = 0, nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.sqls
}

// Each write and read of the marketplace stays within its statement budget
// (issue 14): the number of statements a request sends one after another
// while it holds row locks is what bounds the write rate.
func TestStatementBudgets(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleQuotes, c.ThrottleUserWrites = "0", "0" }})
	client := newActor(t, w, "user_budget_client")
	driver := newActor(t, w, "user_budget_driver")
	other := newActor(t, w, "user_budget_other")
	addVehicle(t, w, driver.ID, "Moto", true)
	addVehicle(t, w, other.ID, "Carro", true)
	c := countStatements(t, w.Store.DB)

	check := func(route string, budget int, fn func()) {
		t.Helper()
		n, sqls := c.do(t, fn)
		t.Logf("%s %s: %d statements", testutil.Dialect(), route, n)
		if n > budget {
			t.Errorf("%s: %d statements, budget %d:\n  %s", route, n, budget, strings.Join(sqls, "\n  "))
		}
		// Every write stores its outbox row: a count without it means the
		// counter stopped seeing a path (the fixed-SQL inserts once were).
		if strings.HasPrefix(route, "POST") && !strings.Contains(strings.Join(sqls, "\n"), `INSERT INTO "outbox_events"`) {
			t.Errorf("%s: the outbox insert was not counted:\n  %s", route, strings.Join(sqls, "\n  "))
		}
	}

	var qid, oid, did string
	check("POST /quotes/", 3, func() { qid = createQuote(t, w, client, nil) })
	// An offer locks its quote and reads the driver's vehicle in one
	// statement; a new offer and its history row are one statement on
	// PostgreSQL (two on SQLite).
	check("POST /quotes/{id}/offers/ (new)", onPostgres(3, 4), func() { oid = makeOffer(t, w, driver, qid, 9000, 201)["id"].(string) })
	check("POST /quotes/{id}/offers/ (update)", 6, func() { makeOffer(t, w, driver, qid, 8500, 200) })
	makeOffer(t, w, other, qid, 9500, 201)
	check("GET /offers/{id}/", 4, func() { mustStatus(t, w.Do(t, "GET", "/deliveries/api/offers/"+oid+"/", client.Tok, nil), 200) })
	check("GET /quotes/{id}/", 4, func() { mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", client.Tok, nil), 200) })
	// The delivery, its history row and the quote's deletion are one
	// statement on PostgreSQL (three on SQLite).
	check("POST /offers/{id}/accept/", onPostgres(4, 6), func() {
		did = mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+oid+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
	})
	check("GET /deliveries/{id}/", 4, func() { mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+did+"/", client.Tok, nil), 200) })
	for _, step := range []string{"picked_up", "in_transit", "delivered", "paid"} {
		check("POST /{id}/change_status/ → "+step, 8, func() {
			m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", driver.Tok, nil), 200)
			if m["new_status"] != step {
				t.Fatalf("change_status: %v, want %s", m["new_status"], step)
			}
		})
	}
	q2 := createQuote(t, w, client, nil)
	o2 := makeOffer(t, w, driver, q2, 9000, 201)["id"].(string)
	check("POST /offers/{id}/reject/", 5, func() { mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o2+"/reject/", client.Tok, nil), 200) })
	check("POST /quotes/{id}/extend-expiration/", 6, func() {
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+q2+"/extend-expiration/", client.Tok, map[string]any{"minutes": 5}), 200)
	})
	check("POST /quotes/{id}/cancel/", 8, func() { mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+q2+"/cancel/", client.Tok, nil), 200) })
	q3 := createQuote(t, w, client, nil)
	o3 := makeOffer(t, w, driver, q3, 9000, 201)["id"].(string)
	d3 := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o3+"/accept/", client.Tok, nil), 201)["delivery_id"].(string)
	q4 := createQuote(t, w, client, nil)
	makeOffer(t, w, driver, q4, 9000, 201)
	makeOffer(t, w, other, q4, 9100, 201)
	// Lists: two statements however long (TestMarketListsNoNPlusOne checks they do not grow).
	for _, path := range []string{"/deliveries/api/quotes/", "/deliveries/api/offers/", "/deliveries/api/", "/deliveries/api/quotes/" + q4 + "/offers/", "/deliveries/api/" + d3 + "/history/"} {
		check("GET "+path, 4, func() { mustStatus(t, w.Do(t, "GET", path, client.Tok, nil), 200) })
	}
	check("POST /{id}/cancel/", 8, func() { mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+d3+"/cancel/", client.Tok, nil), 200) })
}

// A client with a current vehicle (its type's categories are rendered in the
// quote) still creates a quote within the budget when no vehicle type is named.
func TestStatementBudgetClientWithVehicle(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_budget_vclient")
	addVehicle(t, w, client.ID, "Moto", true)
	c := countStatements(t, w.Store.DB)
	n, sqls := c.do(t, func() { createQuote(t, w, client, map[string]any{"vehicle_type_id": nil}) })
	t.Logf("%s POST /quotes/ (client with a vehicle): %d statements", testutil.Dialect(), n)
	if n > 3 {
		t.Errorf("POST /quotes/: %d statements, budget 3:\n  %s", n, strings.Join(sqls, "\n  "))
	}
	n, _ = c.do(t, func() { createQuote(t, w, client, nil) })
	t.Logf("%s POST /quotes/ (client with a vehicle, vehicle type named): %d statements", testutil.Dialect(), n)
	if n > 3 {
		t.Errorf("POST /quotes/ naming a vehicle type: %d statements, budget 3", n)
	}
}

// An offer made with one of the driver's vehicles that is not their current
// one loads it (one statement more) and stays within the offer's budget.
func TestStatementBudgetOfferWithAnotherVehicle(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_budget_ov_client")
	driver := newActor(t, w, "user_budget_ov_driver")
	other := addVehicle(t, w, driver.ID, "Carro", true)
	addVehicle(t, w, driver.ID, "Moto", true) // the current one
	// Callbacks registered before the first write: the outbox's background
	// loop runs statements from then on.
	c := countStatements(t, w.Store.DB)
	qid := createQuote(t, w, client, nil)
	var res map[string]any
	n, sqls := c.do(t, func() {
		body := map[string]any{"delivery_person_id": driver.ID, "quote_id": qid, "proposed_price": 8000, "vehicle_id": other.String()}
		res = mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/offers/", driver.Tok, body), 201)
	})
	t.Logf("%s POST /quotes/{id}/offers/ (another of the driver's vehicles): %d statements", testutil.Dialect(), n)
	if v, _ := res["vehicle"].(map[string]any); v == nil || v["vehicleId"] != other.String() {
		t.Fatalf("offer's vehicle: %v", res["vehicle"])
	}
	if budget := onPostgres(4, 5); n > budget {
		t.Errorf("offer with another vehicle: %d statements, budget %d:\n  %s", n, budget, strings.Join(sqls, "\n  "))
	}
}

// onPostgres is the budget on PostgreSQL, else (SQLite) other.
func onPostgres(pg, other int) int {
	if testutil.Dialect() == store.Postgres {
		return pg
	}
	return other
}

// One sweep runs the same statements whether 1 or 6 quotes (with their
// offers) and 1 or 6 offers expired: no query per quote or offer.
func TestStatementBudgetExpire(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.ThrottleQuotes, c.ThrottleUserWrites = "0", "0" }})
	client := newActor(t, w, "user_budget_exp_client")
	drivers := []actor{newActor(t, w, "user_budget_exp_d1"), newActor(t, w, "user_budget_exp_d2")}
	addVehicle(t, w, drivers[0].ID, "Moto", true)
	c := countStatements(t, w.Store.DB)
	ctx := context.WithValue(context.Background(), countedKey{}, true)
	past := time.Now().Add(-time.Hour)
	sweep := func(quotes, offers int) (int, []string) {
		t.Helper()
		var expired []string
		for range quotes {
			qid := createQuote(t, w, client, nil)
			for _, d := range drivers {
				makeOffer(t, w, d, qid, 9000, 201)
			}
			expired = append(expired, qid)
		}
		if err := w.Store.DB.Model(&store.Quote{}).Where("id IN ?", expired).Update("expires_at", past).Error; err != nil {
			t.Fatal(err)
		}
		var offerIDs []string
		for range offers {
			qid := createQuote(t, w, client, nil)
			offerIDs = append(offerIDs, makeOffer(t, w, drivers[0], qid, 9000, 201)["id"].(string))
		}
		if err := w.Store.DB.Model(&store.Offer{}).Where("id IN ?", offerIDs).Update("expires_at", past).Error; err != nil {
			t.Fatal(err)
		}
		var gotQ, gotO int
		n, sqls := c.do(t, func() {
			var err error
			if gotQ, gotO, err = w.App.Market.Expire(ctx); err != nil {
				t.Fatal(err)
			}
		})
		if gotQ != quotes || gotO != quotes*len(drivers)+offers {
			t.Fatalf("expired %d quotes %d offers, want %d and %d", gotQ, gotO, quotes, quotes*len(drivers)+offers)
		}
		t.Logf("%s expire %d quotes, %d offers: %d statements", testutil.Dialect(), quotes, offers, n)
		return n, sqls
	}
	one, _ := sweep(1, 1)
	six, sqls := sweep(6, 6)
	if one != six {
		t.Errorf("a sweep of 1 quote and 1 offer ran %d statements, of 6 and 6: %d:\n  %s", one, six, strings.Join(sqls, "\n  "))
	}
}
