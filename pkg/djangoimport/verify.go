package djangoimport

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// A verification compares, for one table, the number of source rows and an
// order-independent checksum of their key columns (the sum of a 60-bit slice
// of md5 per row) with the same over the target rows that carry the source
// ids. Key columns are identities and references, after the category and
// vehicle-type mapping, plus values that never change (prices, statuses as
// imported, creation times).
type verification struct {
	name     string
	src      string // FROM … of the source, with the key expression as k
	dst      string // the target table, aliased t, with the key expression as k
	key      string // t's primary key column
	srcArgs  func(r *run) []any
	noMerge  bool // meaningful only when the target holds nothing else
	idsTable string
}

func rowHash(expr string) string {
	return `('x' || substr(md5(` + expr + `), 1, 15))::bit(60)::bigint`
}

func (r *run) verifications() []verification {
	none := func(*run) []any { return nil }
	cats := func(r *run) []any { return []any{r.ref.cats.src, r.ref.cats.dst} }
	return []verification{{
		name: "users", idsTable: "users", key: "userid", srcArgs: none,
		src: `SELECT userid AS k FROM users_user`,
		dst: `SELECT t.{key} AS id, t.userid AS k FROM users t`,
	}, {
		name: "users.current_vehicle", idsTable: "users", key: "userid", srcArgs: none, noMerge: true,
		src: `SELECT userid || '|' || current_vehicle_id::text AS k FROM users_user WHERE current_vehicle_id IS NOT NULL`,
		dst: `SELECT t.{key} AS id, t.userid || '|' || t.current_vehicle_id::text AS k FROM users t WHERE t.current_vehicle_id IS NOT NULL`,
	}, {
		name: "vehicles", idsTable: "vehicles", key: "vehicle_id",
		srcArgs: func(r *run) []any { return []any{r.ref.types.src, r.ref.types.dst} },
		src: `SELECT concat_ws('|', v."vehicleId", v."userId_id", m.dst, v."licensePlate", v.vin, v."isVerified") AS k
			FROM vehicles_vehicle v LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS m(src, dst) ON m.src = v.type_id`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.vehicle_id, t.user_id, t.type_id, t.license_plate, t.vin, t.is_verified) AS k FROM vehicles t`,
	}, {
		name: "addresses", idsTable: "addresses", key: "address_id", srcArgs: none,
		src: `SELECT concat_ws('|', "addressId", "userId_id", type, "isFavorite") AS k FROM addresses_address`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.address_id, t.user_id, t.type, t.is_favorite) AS k FROM addresses t`,
	}, {
		name: "quotes", idsTable: "quotes", key: "id", srcArgs: cats,
		src: `SELECT concat_ws('|', q.id, q.client_id, m.dst, q.history_id, q.client_price, q.status, q.created_at) AS k
			FROM deliveries_deliveryquote q LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS m(src, dst) ON m.src = q.category_id`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.id, t.client_id, t.category_id, t.history_id, t.client_price, t.status, t.created_at) AS k
			FROM delivery_quotes t`,
	}, {
		name: "offers", idsTable: "offers", key: "id", srcArgs: none,
		src: `SELECT concat_ws('|', id, quote_id, delivery_person_id, proposed_price, coalesce(` + intervalMicros("estimated_delivery_time") + `::text, '-'),
			status, created_at) AS k FROM deliveries_deliveryoffer`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.id, t.quote_id, t.delivery_person_id, t.proposed_price, coalesce(t.estimated_delivery_time::text, '-'),
			t.status, t.created_at) AS k FROM delivery_offers t`,
	}, {
		name: "deliveries", idsTable: "deliveries", key: "id", srcArgs: cats,
		src: `SELECT concat_ws('|', d.id, d.client_id, coalesce(d.delivery_person_id, '-'), m.dst, d.history_id, d.final_price,
			d.status, d.created_at) AS k
			FROM deliveries_delivery d LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS m(src, dst) ON m.src = d.category_id`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.id, t.client_id, coalesce(t.delivery_person_id, '-'), t.category_id, t.history_id, t.final_price,
			t.status, t.created_at) AS k FROM deliveries t`,
	}, {
		name: "history", idsTable: "history", key: "id", srcArgs: none,
		src: `SELECT concat_ws('|', id, history_id, event_type, changed_by_id, created_at) AS k FROM deliveries_deliveryhistory`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.id, t.history_id, t.event_type, coalesce(t.changed_by, '-'), t.created_at) AS k FROM delivery_history t`,
	}, {
		name: "ratings", idsTable: "ratings", key: "id", srcArgs: none,
		src: `SELECT concat_ws('|', id, rater_id, ratee_id, rating, created_at) AS k FROM user_rating`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.id, t.rater_id, t.ratee_id, t.rating, t.created_at) AS k FROM user_rating t`,
	}, {
		// The totals our trigger keeps on users, against the old ratings.
		name: "users.rating totals", idsTable: "users", key: "userid", srcArgs: none, noMerge: true,
		src: `SELECT concat_ws('|', ratee_id, count(*), sum(rating)) AS k FROM user_rating GROUP BY ratee_id`,
		dst: `SELECT t.{key} AS id, concat_ws('|', t.userid, t.rating_count, t.rating_sum) AS k FROM users t WHERE t.rating_count <> 0`,
	}}
}

func (r *run) verify(ctx context.Context) error {
	if err := r.verifyReference(ctx); err != nil {
		return err
	}
	loaded := ""
	for _, v := range r.verifications() {
		res := VerifyResult{Table: v.name}
		if v.noMerge && r.o.Merge {
			res.Note = "not compared with --merge (the target holds other rows too)"
			res.OK = true
			r.rep.Verify = append(r.rep.Verify, res)
			continue
		}
		if err := r.srcTx.QueryRow(ctx, `SELECT count(*), coalesce(sum(`+rowHash("k")+`), 0)::text FROM (`+v.src+`) AS s`,
			v.srcArgs(r)...).Scan(&res.SourceCount, &res.SourceSum); err != nil {
			return fmt.Errorf("%s: source checksum: %w", v.name, err)
		}
		if loaded != v.idsTable {
			if err := r.loadIDs(ctx, r.ids[v.idsTable]); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			loaded = v.idsTable
		}
		ids := "verify_ids_uuid"
		if v.idsTable == "users" { // the only text key (Clerk ids)
			ids = "verify_ids_text"
		}
		dst := `SELECT count(*), coalesce(sum(` + rowHash("s.k") + `), 0)::text FROM (` + strings.ReplaceAll(v.dst, "{key}", v.key) +
			`) AS s JOIN ` + ids + ` AS i ON i.id = s.id`
		if err := r.dstQueryRow(ctx, dst).Scan(&res.TargetCount, &res.TargetSum); err != nil {
			return fmt.Errorf("%s: target checksum: %w", v.name, err)
		}
		res.OK = res.SourceCount == res.TargetCount && res.SourceSum == res.TargetSum
		r.rep.Verify = append(r.rep.Verify, res)
	}
	return nil
}

// loadIDs puts the ids of the source rows of one table into a temporary table of the target.
func (r *run) loadIDs(ctx context.Context, s *idSet) error {
	for _, stmt := range []string{
		`CREATE TEMP TABLE IF NOT EXISTS verify_ids_uuid (id uuid)`, `CREATE TEMP TABLE IF NOT EXISTS verify_ids_text (id text)`,
		`TRUNCATE verify_ids_uuid, verify_ids_text`,
	} {
		if _, err := r.exec(ctx, stmt); err != nil {
			return fmt.Errorf("verification ids: %w", err)
		}
	}
	if s == nil || s.len() == 0 {
		return nil
	}
	table := "verify_ids_text"
	var col [][]any
	if len(s.uuids) > 0 {
		table = "verify_ids_uuid"
		col = make([][]any, len(s.uuids))
		for i, u := range s.uuids {
			col[i] = []any{u}
		}
	} else {
		col = make([][]any, len(s.texts))
		for i, t := range s.texts {
			col[i] = []any{t}
		}
	}
	var err error
	if r.dryTx != nil {
		_, err = r.dryTx.CopyFrom(ctx, pgx.Identifier{table}, []string{"id"}, pgx.CopyFromRows(col))
	} else {
		_, err = r.dst.CopyFrom(ctx, pgx.Identifier{table}, []string{"id"}, pgx.CopyFromRows(col))
	}
	if err != nil {
		return fmt.Errorf("verification ids: %w", err)
	}
	_, err = r.exec(ctx, `ANALYZE `+table)
	return err
}

// verifyReference checks that every old category and vehicle type has its row
// here (under its mapped id and name) and every old link its mapped link.
func (r *run) verifyReference(ctx context.Context) error {
	for _, x := range []struct {
		name, table string
		m           idMap
	}{{"categories", "delivery_categories", r.ref.cats}, {"vehicle types", "vehicle_types", r.ref.types}} {
		res := VerifyResult{Table: x.name, SourceCount: int64(len(x.m.src))}
		if err := r.dstQueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[], $2::text[]) AS m(id, name)
			JOIN `+x.table+` t ON t.id = m.id AND t.name = m.name`, x.m.dst, x.m.name).Scan(&res.TargetCount); err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
		res.OK = res.SourceCount == res.TargetCount
		r.rep.Verify = append(r.rep.Verify, res)
	}
	res := VerifyResult{Table: "vehicle type categories"}
	if err := r.srcTx.QueryRow(ctx, `SELECT count(*) FROM vehicles_vehicletype_delivery_categories`).Scan(&res.SourceCount); err != nil {
		return err
	}
	// Each old link, mapped, must exist here.
	rows, err := r.srcTx.Query(ctx, `SELECT tm.dst::text, cm.dst::text FROM vehicles_vehicletype_delivery_categories l
		LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS tm(src, dst) ON tm.src = l.vehicletype_id
		LEFT JOIN unnest($3::uuid[], $4::uuid[]) AS cm(src, dst) ON cm.src = l.deliverycategory_id`,
		r.ref.types.src, r.ref.types.dst, r.ref.cats.src, r.ref.cats.dst)
	if err != nil {
		return err
	}
	var vts, cs []*string
	for rows.Next() {
		var vt, c *string
		if err := rows.Scan(&vt, &c); err != nil {
			rows.Close()
			return err
		}
		vts, cs = append(vts, vt), append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := r.dstQueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[], $2::uuid[]) AS m(vt, c)
		JOIN vehicle_type_categories l ON l.vehicle_type_id = m.vt AND l.category_id = m.c`, vts, cs).Scan(&res.TargetCount); err != nil {
		return err
	}
	res.OK = res.SourceCount == res.TargetCount
	r.rep.Verify = append(r.rep.Verify, res)
	return nil
}
