package djangoimport

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MaxListed is how many rows of one rule a report names (the count is always exact).
const MaxListed = 200

// A rule is a check of the source rows against a rule of ours. Refusing rules
// stop the import before anything is written; the others import a corrected
// value (done by the copy query) and list each correction. Each query yields
// (row id, offending value) for the rows that break the rule. The README's
// table "Rows that break a rule of ours" says the same.
type rule struct {
	table, column, problem string
	refuse                 bool
	action                 string // for corrections: what was imported instead
	sql                    string
}

const obsNotStrings = `CASE WHEN jsonb_typeof(observations) = 'array'
	THEN EXISTS (SELECT 1 FROM jsonb_array_elements(observations) e WHERE jsonb_typeof(e) <> 'string')
	ELSE true END`

var rules = []rule{
	// Refused: our CHECK constraints, and what cannot be corrected without changing meaning.
	{table: "users", column: "gender", problem: "not male, female or other", refuse: true,
		sql: `SELECT userid, gender FROM users_user WHERE gender NOT IN ('', 'male', 'female', 'other')`},
	{table: "users", column: "role", problem: "not client or delivery", refuse: true,
		sql: `SELECT userid, role FROM users_user WHERE role NOT IN ('', 'client', 'delivery')`},
	{table: "addresses", column: "type", problem: "not casa, trabajo or edificio", refuse: true,
		sql: `SELECT "addressId"::text, type FROM addresses_address WHERE type NOT IN ('casa', 'trabajo', 'edificio')`},
	{table: "quotes", column: "client_price", problem: "not greater than 0", refuse: true,
		sql: `SELECT id::text, client_price::text FROM deliveries_deliveryquote WHERE client_price <= 0`},
	{table: "quotes", column: "payment_method", problem: "not efectivo or nequi", refuse: true,
		sql: `SELECT id::text, payment_method FROM deliveries_deliveryquote WHERE payment_method NOT IN ('efectivo', 'nequi')`},
	{table: "quotes", column: "status", problem: "not pending, accepted or cancelled", refuse: true,
		sql: `SELECT id::text, status FROM deliveries_deliveryquote WHERE status NOT IN ('pending', 'accepted', 'cancelled')`},
	{table: "quotes", column: "observations", problem: "not a JSON list of strings", refuse: true,
		sql: `SELECT id::text, left(observations::text, 80) FROM deliveries_deliveryquote WHERE ` + obsNotStrings},
	{table: "offers", column: "proposed_price", problem: "not greater than 0", refuse: true,
		sql: `SELECT id::text, proposed_price::text FROM deliveries_deliveryoffer WHERE proposed_price <= 0`},
	{table: "offers", column: "status", problem: "not pending, accepted or rejected", refuse: true,
		sql: `SELECT id::text, status FROM deliveries_deliveryoffer WHERE status NOT IN ('pending', 'accepted', 'rejected')`},
	{table: "offers", column: "estimated_delivery_time", problem: "counts months or years (not a fixed number of microseconds)", refuse: true,
		sql: `SELECT id::text, estimated_delivery_time::text FROM deliveries_deliveryoffer
			WHERE extract(month FROM estimated_delivery_time) <> 0 OR extract(year FROM estimated_delivery_time) <> 0`},
	{table: "deliveries", column: "status", problem: "not assigned, picked_up, in_transit, delivered, paid or cancelled", refuse: true,
		sql: `SELECT id::text, status FROM deliveries_delivery
			WHERE status NOT IN ('assigned', 'picked_up', 'in_transit', 'delivered', 'paid', 'cancelled')`},
	{table: "deliveries", column: "observations", problem: "not a JSON list of strings", refuse: true,
		sql: `SELECT id::text, left(observations::text, 80) FROM deliveries_delivery WHERE ` + obsNotStrings},
	{table: "history", column: "event_type", problem: "not one of our event types", refuse: true,
		sql: `SELECT id::text, event_type FROM deliveries_deliveryhistory WHERE event_type NOT IN
			('quote_created', 'offer_made', 'offer_accepted', 'offer_rejected', 'status_changed', 'cancelled', 'completed')`},
	{table: "ratings", column: "rating", problem: "outside 0..10", refuse: true,
		sql: `SELECT id::text, rating::text FROM user_rating WHERE rating NOT BETWEEN 0 AND 10`},
	{table: "ratings", column: "comment", problem: "longer than our 1000 characters", refuse: true,
		sql: `SELECT id::text, char_length(comment)::text || ' characters' FROM user_rating WHERE char_length(comment) > 1000`},

	// Corrected: a blank choice is "not set".
	{table: "users", column: "gender", problem: "blank", action: "imported as null (not set)",
		sql: `SELECT userid, '' FROM users_user WHERE gender = ''`},
	{table: "users", column: "role", problem: "blank", action: "imported as null (not set)",
		sql: `SELECT userid, '' FROM users_user WHERE role = ''`},

	// Remarked: imported as is.
	{table: "users", column: "username", problem: "equal to another old user's but for letter case",
		action: "imported as is (usernames are not unique here)",
		sql: `SELECT u.userid, u.username FROM users_user u WHERE EXISTS (SELECT 1 FROM users_user o
			WHERE lower(o.username) = lower(u.username) AND o.userid <> u.userid)`},
}

// fills count the rows whose missing fields take a value documented in the README.
var fills = []struct{ what, sql string }{
	{"quotes without expires_at: created_at + QUOTE_TTL", `SELECT count(*) FROM deliveries_deliveryquote WHERE expires_at IS NULL`},
	{"offers without expires_at: created_at + OFFER_TTL", `SELECT count(*) FROM deliveries_deliveryoffer WHERE expires_at IS NULL`},
	{"deliveries whose quote is gone: payment_method efectivo (the default)", `SELECT count(*) FROM deliveries_delivery d
		WHERE NOT EXISTS (SELECT 1 FROM deliveries_deliveryquote q WHERE q.history_id = d.history_id)`},
	{"deliveries with a kept quote: payment_method from it", `SELECT count(*) FROM deliveries_delivery d
		WHERE EXISTS (SELECT 1 FROM deliveries_deliveryquote q WHERE q.history_id = d.history_id)`},
	{"quotes with the leftover pickup_address_id / delivery_address_id set: not kept (no such columns here; the address texts are)",
		`SELECT count(*) FROM deliveries_deliveryquote WHERE pickup_address_id IS NOT NULL OR delivery_address_id IS NOT NULL`},
	{"deliveries with a vehicle: vehicle_type from the vehicle", `SELECT count(*) FROM deliveries_delivery d
		JOIN vehicles_vehicle v ON v."vehicleId" = d.vehicle_id`},
	{"deliveries without a vehicle but with a kept quote that requested a type: vehicle_type from the quote", `SELECT count(*)
		FROM deliveries_delivery d JOIN deliveries_deliveryquote q ON q.history_id = d.history_id
		WHERE d.vehicle_id IS NULL AND q.vehicle_type_id IS NOT NULL`},
}

// marketplace lists the tables whose target rows must come from this source (unless Merge).
var marketplace = []struct{ name, target, key, source, srcKey, typ string }{
	{"users", "users", "userid", "users_user", "userid", "text"},
	{"addresses", "addresses", "address_id", "addresses_address", `"addressId"`, "uuid"},
	{"vehicles", "vehicles", "vehicle_id", "vehicles_vehicle", `"vehicleId"`, "uuid"},
	{"quotes", "delivery_quotes", "id", "deliveries_deliveryquote", "id", "uuid"},
	{"offers", "delivery_offers", "id", "deliveries_deliveryoffer", "id", "uuid"},
	{"deliveries", "deliveries", "id", "deliveries_delivery", "id", "uuid"},
	{"history", "delivery_history", "id", "deliveries_deliveryhistory", "id", "uuid"},
	{"ratings", "user_rating", "id", "user_rating", "id", "uuid"},
}

// scan runs every read-only check before anything is written.
func (r *run) scan(ctx context.Context) error {
	for _, ru := range rules {
		rows, err := r.srcTx.Query(ctx, `SELECT k, v, count(*) OVER () FROM (`+ru.sql+`) AS x(k, v) ORDER BY k LIMIT $1`, MaxListed)
		if err != nil {
			return fmt.Errorf("check %s.%s: %w", ru.table, ru.column, err)
		}
		for rows.Next() {
			var id string
			var v *string
			var n int64
			if err := rows.Scan(&id, &v, &n); err != nil {
				rows.Close()
				return err
			}
			f := Finding{Table: ru.table, ID: id, Column: ru.column, Value: deref(v), Problem: ru.problem, Action: ru.action, total: n}
			if ru.refuse {
				f.Action = "refused"
				r.rep.refuse(f)
			} else {
				r.rep.correct(f)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check %s.%s: %w", ru.table, ru.column, err)
		}
	}
	for _, f := range fills {
		var n int64
		if err := r.srcTx.QueryRow(ctx, f.sql).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", f.what, err)
		}
		if n > 0 {
			r.rep.note("%s: %d", f.what, n)
		}
	}
	if err := r.checkVehicleKeys(ctx); err != nil {
		return err
	}
	if err := r.checkUsernames(ctx); err != nil {
		return err
	}
	if !r.o.Merge {
		if err := r.checkForeign(ctx); err != nil {
			return err
		}
	}
	return nil
}

// checkVehicleKeys refuses a source vehicle whose licence plate or VIN a
// different vehicle of the target already holds (ours are unique too).
func (r *run) checkVehicleKeys(ctx context.Context) error {
	plates, vins := map[string]string{}, map[string]string{}
	rows, err := r.dst.Query(ctx, `SELECT vehicle_id::text, license_plate, vin FROM vehicles`)
	if err != nil {
		return fmt.Errorf("read target vehicles: %w", err)
	}
	for rows.Next() {
		var id, plate, vin string
		if err := rows.Scan(&id, &plate, &vin); err != nil {
			rows.Close()
			return err
		}
		plates[plate], vins[vin] = id, id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(plates) == 0 {
		return nil
	}
	srows, err := r.srcTx.Query(ctx, `SELECT "vehicleId"::text, "licensePlate", vin FROM vehicles_vehicle`)
	if err != nil {
		return fmt.Errorf("read vehicles: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var id, plate, vin string
		if err := srows.Scan(&id, &plate, &vin); err != nil {
			return err
		}
		if other, ok := plates[plate]; ok && other != id {
			r.rep.refuse(Finding{Table: "vehicles", ID: id, Column: "licensePlate", Value: plate,
				Problem: "held by vehicle " + other + " of the target (unique here too)", Action: "refused"})
		}
		if other, ok := vins[vin]; ok && other != id {
			r.rep.refuse(Finding{Table: "vehicles", ID: id, Column: "vin", Value: vin,
				Problem: "held by vehicle " + other + " of the target (unique here too)", Action: "refused"})
		}
	}
	return srows.Err()
}

// checkUsernames lists source users whose username another user of the target
// holds: ours does not require usernames to be unique (Clerk owns that), so
// they are imported as they are, and listed.
func (r *run) checkUsernames(ctx context.Context) error {
	taken := map[string]string{}
	rows, err := r.dst.Query(ctx, `SELECT userid, username FROM users WHERE username IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("read target users: %w", err)
	}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return err
		}
		taken[name] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(taken) == 0 {
		return nil
	}
	srows, err := r.srcTx.Query(ctx, `SELECT userid, username FROM users_user WHERE username IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("read users: %w", err)
	}
	defer srows.Close()
	for srows.Next() {
		var id, name string
		if err := srows.Scan(&id, &name); err != nil {
			return err
		}
		if other, ok := taken[name]; ok && other != id {
			r.rep.correct(Finding{Table: "users", ID: id, Column: "username", Value: name,
				Problem: "also the username of user " + other + " in the target",
				Action:  "imported as is (usernames are not unique here)"})
		}
	}
	return srows.Err()
}

// checkForeign refuses a target that holds marketplace rows this source does
// not have (another source, or rows made by the new service), unless Merge.
func (r *run) checkForeign(ctx context.Context) error {
	const chunk = 50000
	for _, m := range marketplace {
		ids, err := r.targetKeys(ctx, fmt.Sprintf(`SELECT %s::text FROM %s`, m.key, m.target))
		if err != nil {
			return fmt.Errorf("read target %s: %w", m.name, err)
		}
		var n int64
		var examples []string
		for start := 0; start < len(ids); start += chunk {
			end := min(start+chunk, len(ids))
			rows, err := r.srcTx.Query(ctx, fmt.Sprintf(`SELECT k FROM unnest($1::%s[]) AS t(k)
				WHERE NOT EXISTS (SELECT 1 FROM %s s WHERE s.%s = t.k)`, m.typ, m.source, m.srcKey), ids[start:end])
			if err != nil {
				return fmt.Errorf("compare %s: %w", m.name, err)
			}
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					rows.Close()
					return err
				}
				n++
				if len(examples) < 5 {
					examples = append(examples, k)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if n > 0 {
			r.rep.Foreign = append(r.rep.Foreign, fmt.Sprintf("%s: %d rows not from this source (e.g. %v)", m.name, n, examples))
		}
	}
	return nil
}

func (r *run) targetKeys(ctx context.Context, sql string) ([]string, error) {
	rows, err := r.dst.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
