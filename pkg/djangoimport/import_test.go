package djangoimport_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/djangoimport"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
	"hermez/pkg/view"
)

func importOnce(t *testing.T, from, to string, edit func(*djangoimport.Options)) (*djangoimport.Report, error) {
	t.Helper()
	o := djangoimport.Options{From: from, To: to, BatchSize: 5, Log: testutil.Logger()}
	if edit != nil {
		edit(&o)
	}
	return djangoimport.Run(testutil.Context(t), o)
}

func mustImport(t *testing.T, from, to string, edit func(*djangoimport.Options)) *djangoimport.Report {
	t.Helper()
	rep, err := importOnce(t, from, to, edit)
	if err != nil {
		var b strings.Builder
		if rep != nil {
			rep.Print(&b)
		}
		t.Fatalf("import: %v\n%s", err, b.String())
	}
	return rep
}

// Every user sees, through the HTTP API, what the old database held for them.
func TestImportedDataThroughTheAPI(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	to := testutil.NewDatabaseURL(t)
	rep := mustImport(t, from, to, nil)
	for _, v := range rep.Verify {
		if !v.OK {
			t.Errorf("verification %s: %+v", v.Table, v)
		}
	}
	src := connect(t, from)
	dst := connect(t, to)

	// Before the web process (and its sweeper) runs: every row came over,
	// expired pending quotes and offers included.
	for _, c := range [][2]string{{"users_user", "users"}, {"addresses_address", "addresses"}, {"vehicles_vehicle", "vehicles"},
		{"deliveries_deliveryquote", "delivery_quotes"}, {"deliveries_deliveryoffer", "delivery_offers"},
		{"deliveries_delivery", "deliveries"}, {"deliveries_deliveryhistory", "delivery_history"}, {"user_rating", "user_rating"}} {
		if a, b := count(t, src, "SELECT count(*) FROM "+c[0]), count(t, dst, "SELECT count(*) FROM "+c[1]); a != b {
			t.Errorf("%s: %d rows, %s: %d", c[0], a, c[1], b)
		}
	}
	// Reference rows exist once, under our names.
	for _, q := range []string{
		`SELECT count(*) FROM delivery_categories WHERE name IN ('Comida')`,
		`SELECT count(*) FROM vehicle_types WHERE name IN ('Motocarro')`,
	} {
		if n := count(t, dst, q); n != 0 {
			t.Errorf("%s: %d", q, n)
		}
	}
	// The old system knew no place: every imported row has null coordinates (place.md §1).
	for _, q := range []string{
		`SELECT count(*) FROM addresses WHERE latitude IS NOT NULL OR longitude IS NOT NULL`,
		`SELECT count(*) FROM delivery_quotes WHERE pickup_latitude IS NOT NULL OR pickup_longitude IS NOT NULL OR delivery_latitude IS NOT NULL OR delivery_longitude IS NOT NULL`,
		`SELECT count(*) FROM deliveries WHERE pickup_latitude IS NOT NULL OR pickup_longitude IS NOT NULL OR delivery_latitude IS NOT NULL OR delivery_longitude IS NOT NULL`,
	} {
		if n := count(t, dst, q); n != 0 {
			t.Errorf("%s: %d", q, n)
		}
	}
	if a, b := count(t, src, `SELECT count(*) FROM deliveries_deliverycategory WHERE name NOT IN ('Comida','Alimentos','Paquetes','Documentos','Personas','Mercado')`)+5,
		count(t, dst, `SELECT count(*) FROM delivery_categories`); a != b {
		t.Errorf("categories: want %d (seed + staff-made), got %d", a, b)
	}

	st, err := store.Open(to, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := testutil.NewWeb(t, testutil.WebOptions{Store: st, Config: func(c *config.Config) { c.ExpireIntervalSeconds = 3600 }})

	users := queryMaps(t, src, `SELECT userid, username, first_name, last_name, email, image_url, NULLIF(gender, '') AS gender,
		phone, age, NULLIF(role, '') AS role, is_online, is_available, current_vehicle_id::text AS current_vehicle_id,
		(SELECT count(*) FROM user_rating r WHERE r.ratee_id = u.userid) AS rating_count,
		(SELECT avg(rating)::float8 FROM user_rating r WHERE r.ratee_id = u.userid) AS rating_avg
		FROM users_user u ORDER BY userid`)
	if len(users) == 0 {
		t.Fatal("the data set has no users")
	}
	now := time.Now()
	for _, u := range users {
		uid := u["userid"].(string)
		// The token's claims match the row, so authenticating changes nothing.
		opts := authOpts(u)
		tok, err := w.Dev.Mint(uid, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(uid, func(t *testing.T) {
			// Profile.
			var me []map[string]any
			res := w.Do(t, "GET", "/user/api/me/", tok, nil)
			if res.Status != 200 {
				t.Fatalf("me: %d %s", res.Status, res.Body)
			}
			res.JSON(t, &me)
			p := me[0]
			for _, f := range []string{"first_name", "last_name", "email", "image_url", "gender", "phone", "role"} {
				if !sameValue(u[f], p[f]) {
					t.Errorf("%s: old %v, API %v", f, u[f], p[f])
				}
			}
			if u["username"] != nil && !sameValue(u["username"], p["username"]) {
				t.Errorf("username: old %v, API %v", u["username"], p["username"])
			}
			if !sameNumber(u["age"], p["age"]) || p["is_online"] != u["is_online"] || p["is_available"] != u["is_available"] {
				t.Errorf("age/online/available: old %v %v %v, API %v %v %v", u["age"], u["is_online"], u["is_available"], p["age"], p["is_online"], p["is_available"])
			}
			if cv, _ := u["current_vehicle_id"].(string); cv != "" {
				v, _ := p["current_vehicle"].(map[string]any)
				if v == nil || v["vehicleId"] != cv {
					t.Errorf("current_vehicle: old %s, API %v", cv, p["current_vehicle"])
				}
			} else if p["current_vehicle"] != nil {
				t.Errorf("current_vehicle: old none, API %v", p["current_vehicle"])
			}
			if !sameNumber(u["rating_count"], p["rating_count"]) {
				t.Errorf("rating_count: old %v, API %v", u["rating_count"], p["rating_count"])
			}
			if avg, ok := u["rating_avg"].(float64); ok {
				got, _ := p["rating_average"].(float64)
				if math.Abs(got-math.Round(avg*100)/100) > 1e-9 {
					t.Errorf("rating_average: old %.4f, API %v", avg, p["rating_average"])
				}
			} else if p["rating_average"] != nil {
				t.Errorf("rating_average: old none, API %v", p["rating_average"])
			}

			// Addresses.
			want := keyed(queryMaps(t, src, `SELECT "addressId"::text AS "addressId", "userId_id" AS "userId", name, description,
				address, city, type, "isFavorite" FROM addresses_address WHERE "userId_id" = $1`, uid), "addressId")
			got := keyed(list(t, w, "/user/api/me/addresses/", tok), "addressId")
			compareSets(t, "addresses", want, got, "userId", "name", "description", "address", "city", "type", "isFavorite")

			// Vehicles, with their verification state and our type name.
			want = keyed(queryMaps(t, src, `SELECT v."vehicleId"::text AS "vehicleId", v.brand, v.model, v.year, v."licensePlate", v.vin,
				v.color, v."driverLicenseStatus", v."registrationCardStatus", v."insurancePolicyStatus", v."criminalRecordStatus",
				v."isVerified", v."verificationNotes", CASE t.name WHEN 'Motocarro' THEN 'Mototaxi' ELSE t.name END AS type_name
				FROM vehicles_vehicle v JOIN vehicles_vehicletype t ON t.id = v.type_id WHERE v."userId_id" = $1`, uid), "vehicleId")
			got = keyed(list(t, w, "/user/api/me/vehicles/", tok), "vehicleId")
			for _, v := range got {
				if ty, ok := v["type"].(map[string]any); ok {
					v["type_name"] = ty["name"]
				}
			}
			compareSets(t, "vehicles", want, got, "brand", "model", "year", "licensePlate", "vin", "color", "driverLicenseStatus",
				"registrationCardStatus", "insurancePolicyStatus", "criminalRecordStatus", "isVerified", "verificationNotes", "type_name")

			// Quotes the user made (the expired pending ones may already be swept, as usual).
			want = keyed(queryMaps(t, src, `SELECT q.id::text AS id, q.pickup_address, q.delivery_address, q.description,
				q.observations::text AS observations, q.estimated_weight::text AS estimated_weight, q.estimated_size,
				q.client_price::text AS client_price, q.payment_method, q.status, q.history_id::text AS history_id,
				CASE c.name WHEN 'Comida' THEN 'Alimentos' ELSE c.name END AS category,
				CASE t.name WHEN 'Motocarro' THEN 'Mototaxi' ELSE t.name END AS vehicle_type,
				q.created_at, coalesce(q.expires_at, q.created_at + interval '10 minutes') AS expires_at
				FROM deliveries_deliveryquote q JOIN deliveries_deliverycategory c ON c.id = q.category_id
				LEFT JOIN vehicles_vehicletype t ON t.id = q.vehicle_type_id WHERE q.client_id = $1`, uid), "id")
			got = map[string]map[string]any{}
			for _, q := range list(t, w, "/deliveries/api/quotes/", tok) {
				if c, _ := q["client"].(map[string]any); c != nil && c["userid"] == uid {
					got[q["id"].(string)] = q
				}
			}
			for id, q := range want {
				if q["status"] == "pending" && q["expires_at"].(time.Time).Before(now) {
					if _, ok := got[id]; !ok {
						delete(want, id)
					}
				}
			}
			compareSets(t, "quotes", want, got, "pickup_address", "delivery_address", "description", "observations",
				"estimated_weight", "estimated_size", "client_price", "payment_method", "status", "history_id", "category",
				"vehicle_type", "created_at", "expires_at")

			// Offers made or received (pending expired ones may be swept).
			want = keyed(queryMaps(t, src, `SELECT o.id::text AS id, o.proposed_price::text AS proposed_price,
				(extract(epoch FROM o.estimated_delivery_time) * 1000000)::bigint AS micros, o.status, o.created_at,
				o.vehicle_id::text AS vehicle, coalesce(o.expires_at, o.created_at + interval '4 minutes') AS expires_at,
				q.status AS quote_status, coalesce(q.expires_at, q.created_at + interval '10 minutes') AS quote_expires
				FROM deliveries_deliveryoffer o JOIN deliveries_deliveryquote q ON q.id = o.quote_id
				WHERE o.delivery_person_id = $1 OR q.client_id = $1`, uid), "id")
			got = keyed(list(t, w, "/deliveries/api/offers/", tok), "id")
			for id, o := range want {
				expired := o["status"] == "pending" && o["expires_at"].(time.Time).Before(now) ||
					o["quote_status"] == "pending" && o["quote_expires"].(time.Time).Before(now)
				if _, ok := got[id]; !ok && expired {
					delete(want, id)
				}
			}
			for _, o := range got {
				if s, ok := o["estimated_delivery_time"].(string); ok {
					us, _ := view.ParseDuration(s)
					o["micros"] = float64(us)
				}
				if v, ok := o["vehicle"].(map[string]any); ok {
					o["vehicle"] = v["vehicleId"]
				}
			}
			compareSets(t, "offers", want, got, "proposed_price", "micros", "status", "created_at", "vehicle", "expires_at")

			// Deliveries as client and as driver, each with its history.
			want = keyed(queryMaps(t, src, `SELECT d.id::text AS id, d.pickup_address, d.delivery_address, d.description,
				d.observations::text AS observations, d.estimated_weight::text AS estimated_weight, d.estimated_size,
				d.final_price::text AS final_price, d.status, d.created_at, d.updated_at, d.completed_at, d.cancelled_at,
				CASE c.name WHEN 'Comida' THEN 'Alimentos' ELSE c.name END AS category, d.history_id::text AS history_id,
				coalesce(q.payment_method, 'efectivo') AS payment_method,
				CASE coalesce(vt.name, qt.name) WHEN 'Motocarro' THEN 'Mototaxi' ELSE coalesce(vt.name, qt.name) END AS vehicle_type,
				d.client_id, d.delivery_person_id
				FROM deliveries_delivery d JOIN deliveries_deliverycategory c ON c.id = d.category_id
				LEFT JOIN deliveries_deliveryquote q ON q.history_id = d.history_id
				LEFT JOIN vehicles_vehicle v ON v."vehicleId" = d.vehicle_id
				LEFT JOIN vehicles_vehicletype vt ON vt.id = v.type_id
				LEFT JOIN vehicles_vehicletype qt ON qt.id = q.vehicle_type_id
				WHERE d.client_id = $1 OR d.delivery_person_id = $1`, uid), "id")
			got = keyed(list(t, w, "/deliveries/api/", tok), "id")
			for id, d := range keyed(list(t, w, "/deliveries/api/?filter_by=delivery_person", tok), "id") {
				got[id] = d
			}
			for _, d := range got {
				if c, ok := d["client"].(map[string]any); ok {
					d["client_id"] = c["userid"]
				}
				if c, ok := d["delivery_person"].(map[string]any); ok {
					d["delivery_person_id"] = c["userid"]
				}
			}
			compareSets(t, "deliveries", want, got, "pickup_address", "delivery_address", "description", "observations",
				"estimated_weight", "estimated_size", "final_price", "status", "created_at", "updated_at", "completed_at",
				"cancelled_at", "category", "payment_method", "vehicle_type", "client_id", "delivery_person_id")
			for id, d := range want {
				hist := queryMaps(t, src, `SELECT id::text AS id, event_type, description, changed_by_id, created_at
					FROM deliveries_deliveryhistory WHERE history_id = $1::uuid ORDER BY created_at, id`, d["history_id"])
				res := w.Do(t, "GET", "/deliveries/api/"+id+"/history/", tok, nil)
				if res.Status != 200 {
					t.Errorf("history of %s: %d %s", id, res.Status, res.Body)
					continue
				}
				var h struct {
					History []map[string]any `json:"history"`
				}
				res.JSON(t, &h)
				if len(h.History) != len(hist) {
					t.Errorf("history of %s: %d events, old %d", id, len(h.History), len(hist))
					continue
				}
				byID := keyed(h.History, "id")
				for _, e := range hist {
					g := byID[e["id"].(string)]
					if g == nil {
						t.Errorf("history event %s missing", e["id"])
						continue
					}
					cb, _ := g["changed_by"].(map[string]any)
					if g["event_type"] != e["event_type"] || g["description"] != e["description"] || cb == nil ||
						cb["userid"] != e["changed_by_id"] || !sameValue(e["created_at"], g["created_at"]) {
						t.Errorf("history event %s: old %v, API %v", e["id"], e, g)
					}
				}
			}

			// Ratings received.
			want = keyed(queryMaps(t, src, `SELECT id::text AS id, rating, comment, created_at, rater_id
				FROM user_rating WHERE ratee_id = $1`, uid), "id")
			got = keyed(list(t, w, "/user/api/me/ratings/", tok), "id")
			for _, r := range got {
				if c, ok := r["rater"].(map[string]any); ok {
					r["rater_id"] = c["userid"]
				}
			}
			compareSets(t, "ratings", want, got, "rating", "comment", "created_at", "rater_id")
		})
	}
}

func authOpts(u map[string]any) auth.TokenOptions {
	o := auth.TokenOptions{}
	if s, ok := u["username"].(string); ok {
		o.Username = s
	} else {
		o.Username = u["userid"].(string)
	}
	return o
}

// queryMaps returns the rows of a query as maps by column name.
func queryMaps(t *testing.T, conn *pgx.Conn, sql string, args ...any) []map[string]any {
	t.Helper()
	rows, err := conn.Query(testutil.Context(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func list(t *testing.T, w *testutil.Web, path, tok string) []map[string]any {
	t.Helper()
	res := w.Do(t, "GET", path, tok, nil)
	if res.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
	}
	var out []map[string]any
	res.JSON(t, &out)
	return out
}

func keyed(rows []map[string]any, key string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range rows {
		if k, ok := r[key].(string); ok {
			out[k] = r
		}
	}
	return out
}

func compareSets(t *testing.T, what string, want, got map[string]map[string]any, fields ...string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: old %d rows, API %d", what, len(want), len(got))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s %s: missing from the API", what, id)
			continue
		}
		for _, f := range fields {
			if !sameValue(w[f], g[f]) {
				t.Errorf("%s %s %s: old %#v, API %#v", what, id, f, w[f], g[f])
			}
		}
	}
}

// sameValue compares an old database value with its JSON rendering.
func sameValue(old, api any) bool {
	switch o := old.(type) {
	case nil:
		return api == nil
	case time.Time:
		s, ok := api.(string)
		if !ok {
			return false
		}
		got, err := time.Parse(time.RFC3339Nano, s)
		return err == nil && got.Equal(o) && strings.HasSuffix(s, "Z")
	case bool:
		return api == o
	case string:
		if strings.HasPrefix(o, "[") { // a JSON list (observations)
			var a, b any
			if json.Unmarshal([]byte(o), &a) != nil {
				return false
			}
			raw, _ := json.Marshal(api)
			_ = json.Unmarshal(raw, &b)
			ra, _ := json.Marshal(a)
			rb, _ := json.Marshal(b)
			return string(ra) == string(rb)
		}
		return api == o
	default:
		return sameNumber(old, api)
	}
}

func sameNumber(old, api any) bool {
	if old == nil || api == nil {
		return old == nil && api == nil
	}
	f, ok := api.(float64)
	if !ok {
		return false
	}
	switch o := old.(type) {
	case int32:
		return float64(o) == f
	case int64:
		return float64(o) == f
	case float64:
		return o == f
	}
	return false
}
