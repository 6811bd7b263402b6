package djangoimport

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// table is one copy step: a source query whose columns are, in order, the
// target columns cols (the first one the target's primary key).
type table struct {
	name   string // in the report
	target string
	cols   []string
	query  string
	count  string // counts the rows query yields (for the progress bar)
	args   func(r *run) []any
	apply  string // how the staged batch reaches the target; default INSERT … ON CONFLICT (cols[0]) DO NOTHING
	verify bool   // the ids are kept for the verification pass
}

func (t table) stage() string {
	return "import_stage_" + strings.NewReplacer(" ", "_", ".", "_").Replace(t.name)
}

func (t table) applySQL() string {
	if t.apply != "" {
		return strings.ReplaceAll(t.apply, "{stage}", t.stage())
	}
	cols := strings.Join(t.cols, ", ")
	return fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT (%s) DO NOTHING`,
		t.target, cols, cols, t.stage(), t.cols[0])
}

const micro = ` * interval '1 microsecond'`

const userCols = `userid, username, first_name, last_name, email, image_url, gender, phone, age, role, is_online,
	is_available, is_staff, created_at, updated_at`

var userProfile = []string{"username", "first_name", "last_name", "email", "image_url", "gender", "phone", "age", "role"}

func fillSet(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = COALESCE(users.%s, EXCLUDED.%s)", c, c, c)
	}
	return b.String()
}

func fillWhere(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "(users.%s IS NULL AND EXCLUDED.%s IS NOT NULL)", c, c)
	}
	return b.String()
}

// tables lists the copy steps in dependency order (reference data and ratings
// have their own steps, before and after).
func (r *run) tables() []table {
	none := func(*run) []any { return nil }
	return []table{{
		name:   "users",
		target: "users",
		cols: []string{"userid", "username", "first_name", "last_name", "email", "image_url", "gender", "phone",
			"age", "role", "is_online", "is_available", "is_staff", "created_at", "updated_at"},
		query: `SELECT userid, username, first_name, last_name, email, image_url, NULLIF(gender, ''), phone,
			age, NULLIF(role, ''), is_online, is_available, false, $1::timestamptz, $1::timestamptz FROM users_user`,
		count: `SELECT count(*) FROM users_user`,
		args:  func(r *run) []any { return []any{r.importTime} },
		// A user already here (signed in before the import, or made by `web staff`)
		// keeps their values and gets the old ones in the profile fields that are
		// empty — never a deleted user's.
		apply: `INSERT INTO users (` + userCols + `) SELECT ` + userCols + ` FROM {stage}
			ON CONFLICT (userid) DO UPDATE SET ` + fillSet(userProfile) + `
			WHERE users.deleted_at IS NULL AND (` + fillWhere(userProfile) + `)
			RETURNING (xmax = 0)`,
		verify: true,
	}, {
		name:   "vehicles",
		target: "vehicles",
		cols: []string{"vehicle_id", "user_id", "type_id", "brand", "model", "year", "license_plate", "vin", "color",
			"driver_license_status", "registration_card_status", "insurance_policy_status", "criminal_record_status",
			"is_verified", "verification_notes", "created_at", "updated_at"},
		query: `SELECT v."vehicleId", v."userId_id", m.dst, v.brand, v.model, v.year, v."licensePlate", v.vin, v.color,
			v."driverLicenseStatus", v."registrationCardStatus", v."insurancePolicyStatus", v."criminalRecordStatus",
			v."isVerified", v."verificationNotes", $3::timestamptz, $3::timestamptz
			FROM vehicles_vehicle v LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS m(src, dst) ON m.src = v.type_id`,
		count:  `SELECT count(*) FROM vehicles_vehicle`,
		args:   func(r *run) []any { return []any{r.ref.types.src, r.ref.types.dst, r.importTime} },
		verify: true,
	}, {
		// The users ↔ vehicles cycle: users come first without their current
		// vehicle, which is set here once the vehicles exist (only where ours is empty).
		name:   "users.current_vehicle",
		target: "users",
		cols:   []string{"userid", "current_vehicle_id"},
		query:  `SELECT userid, current_vehicle_id FROM users_user WHERE current_vehicle_id IS NOT NULL`,
		count:  `SELECT count(*) FROM users_user WHERE current_vehicle_id IS NOT NULL`,
		args:   none,
		apply: `UPDATE users u SET current_vehicle_id = s.current_vehicle_id FROM {stage} s
			WHERE u.userid = s.userid AND u.current_vehicle_id IS NULL`,
	}, {
		name:   "addresses",
		target: "addresses",
		cols:   []string{"address_id", "user_id", "name", "description", "type", "address", "city", "is_favorite"},
		query:  `SELECT "addressId", "userId_id", name, description, type, address, city, "isFavorite" FROM addresses_address`,
		count:  `SELECT count(*) FROM addresses_address`,
		args:   none,
		verify: true,
	}, {
		name:   "quotes",
		target: "delivery_quotes",
		cols: []string{"id", "client_id", "pickup_address", "delivery_address", "category_id", "description", "observations",
			"vehicle_type_id", "estimated_weight", "estimated_size", "client_price", "payment_method", "status",
			"created_at", "expires_at", "history_id"},
		query: `SELECT q.id, q.client_id, q.pickup_address, q.delivery_address, cm.dst, q.description, q.observations::text,
			tm.dst, q.estimated_weight, q.estimated_size, q.client_price, q.payment_method, q.status,
			q.created_at, coalesce(q.expires_at, q.created_at + $5::bigint` + micro + `), q.history_id
			FROM deliveries_deliveryquote q
			LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS cm(src, dst) ON cm.src = q.category_id
			LEFT JOIN unnest($3::uuid[], $4::uuid[]) AS tm(src, dst) ON tm.src = q.vehicle_type_id`,
		count: `SELECT count(*) FROM deliveries_deliveryquote`,
		args: func(r *run) []any {
			return []any{r.ref.cats.src, r.ref.cats.dst, r.ref.types.src, r.ref.types.dst, r.o.QuoteTTL.Microseconds()}
		},
		verify: true,
	}, {
		name:   "offers",
		target: "delivery_offers",
		cols: []string{"id", "delivery_person_id", "quote_id", "proposed_price", "estimated_delivery_time", "vehicle_id",
			"status", "created_at", "updated_at", "expires_at"},
		query: `SELECT id, delivery_person_id, quote_id, proposed_price, ` + intervalMicros("estimated_delivery_time") + `, vehicle_id,
			status, created_at, updated_at, coalesce(expires_at, created_at + $1::bigint` + micro + `)
			FROM deliveries_deliveryoffer`,
		count:  `SELECT count(*) FROM deliveries_deliveryoffer`,
		args:   func(r *run) []any { return []any{r.o.OfferTTL.Microseconds()} },
		verify: true,
	}, {
		// Django's delivery has no payment method and no vehicle type: the quote of
		// the same lifecycle gives the payment method when older code kept it (else
		// the default of a fresh row, efectivo); the type is the vehicle's, else the
		// quote's requested one (the rule of accept), else none.
		name:   "deliveries",
		target: "deliveries",
		cols: []string{"id", "client_id", "delivery_person_id", "pickup_address", "delivery_address", "category_id",
			"description", "observations", "estimated_weight", "estimated_size", "payment_method", "vehicle_type_id",
			"vehicle_type_name", "final_price", "vehicle_id", "status", "created_at", "updated_at", "completed_at",
			"cancelled_at", "history_id"},
		query: `SELECT d.id, d.client_id, d.delivery_person_id, d.pickup_address, d.delivery_address, cm.dst,
			d.description, d.observations::text, d.estimated_weight, d.estimated_size, coalesce(q.payment_method, 'efectivo'),
			coalesce(vt.dst, qt.dst), coalesce(vt.name, qt.name), d.final_price, d.vehicle_id, d.status, d.created_at,
			d.updated_at, d.completed_at, d.cancelled_at, d.history_id
			FROM deliveries_delivery d
			LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS cm(src, dst) ON cm.src = d.category_id
			LEFT JOIN deliveries_deliveryquote q ON q.history_id = d.history_id
			LEFT JOIN vehicles_vehicle v ON v."vehicleId" = d.vehicle_id
			LEFT JOIN unnest($3::uuid[], $4::uuid[], $5::text[]) AS vt(src, dst, name) ON vt.src = v.type_id
			LEFT JOIN unnest($3::uuid[], $4::uuid[], $5::text[]) AS qt(src, dst, name) ON qt.src = q.vehicle_type_id`,
		count: `SELECT count(*) FROM deliveries_delivery`,
		args: func(r *run) []any {
			return []any{r.ref.cats.src, r.ref.cats.dst, r.ref.types.src, r.ref.types.dst, r.ref.types.name}
		},
		verify: true,
	}, {
		name:   "history",
		target: "delivery_history",
		cols:   []string{"id", "history_id", "event_type", "description", "changed_by", "created_at"},
		query:  `SELECT id, history_id, event_type, description, changed_by_id, created_at FROM deliveries_deliveryhistory`,
		count:  `SELECT count(*) FROM deliveries_deliveryhistory`,
		args:   none,
		verify: true,
	}}
}

// intervalMicros is a Django duration (interval, no months) in microseconds.
func intervalMicros(col string) string {
	return `(extract(epoch FROM ` + col + `) * 1000000)::bigint`
}

// copyTable streams one source query into the target in batches: a reader
// goroutine fills batches while the writer commits the previous one.
func (r *run) copyTable(ctx context.Context, t table) error {
	var total int64
	if err := r.srcTx.QueryRow(ctx, t.count).Scan(&total); err != nil {
		return fmt.Errorf("count: %w", err)
	}
	tr := r.rep.table(t.name)
	if _, err := r.exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s AS SELECT %s FROM %s WITH NO DATA`,
		t.stage(), strings.Join(t.cols, ", "), t.target)); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	bar := r.prog.start(t.name, total)
	defer bar.done(tr)
	var ids *idSet
	if t.verify {
		ids = &idSet{}
		r.ids[t.name] = ids
	}

	batches := make(chan [][]any, 2)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		rows, err := r.srcTx.Query(gctx, t.query, t.args(r)...)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		defer rows.Close()
		batch := make([][]any, 0, r.o.BatchSize)
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			r.stripNUL(t, vals)
			batch = append(batch, vals)
			if len(batch) == r.o.BatchSize {
				select {
				case batches <- batch:
				case <-gctx.Done():
					return gctx.Err()
				}
				batch = make([][]any, 0, r.o.BatchSize)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		for b := range batches {
			n, filled, err := r.writeBatch(gctx, t, b)
			if err != nil {
				return err
			}
			tr.Read += int64(len(b))
			tr.Written += n
			tr.Filled += filled
			tr.Skipped += int64(len(b)) - n
			if ids != nil {
				ids.add(b)
			}
			bar.add(len(b))
			if err := r.committed(); err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// writeBatch moves one batch in one transaction: COPY into the staging table,
// then INSERT … SELECT … ON CONFLICT DO NOTHING. It returns the rows written
// and, of those, the rows already there whose empty fields were filled (an
// apply statement that says RETURNING (xmax = 0): true for an inserted row).
func (r *run) writeBatch(ctx context.Context, t table, b [][]any) (written, filled int64, err error) {
	tx, err := r.begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.stage()}, t.cols, pgx.CopyFromRows(b)); err != nil {
		return 0, 0, fmt.Errorf("copy to staging: %w", err)
	}
	if strings.Contains(t.applySQL(), "RETURNING (xmax = 0)") {
		rows, err := tx.Query(ctx, t.applySQL())
		if err != nil {
			return 0, 0, fmt.Errorf("write batch: %w", err)
		}
		inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
		if err != nil {
			return 0, 0, fmt.Errorf("write batch: %w", err)
		}
		for _, ins := range inserted {
			if !ins {
				filled++
			}
		}
		written = int64(len(inserted))
	} else {
		tag, err := tx.Exec(ctx, t.applySQL())
		if err != nil {
			return 0, 0, fmt.Errorf("write batch: %w", err)
		}
		written = tag.RowsAffected()
	}
	if _, err := tx.Exec(ctx, `TRUNCATE `+t.stage()); err != nil {
		return 0, 0, fmt.Errorf("empty staging: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("commit batch: %w", err)
	}
	return written, filled, nil
}

// stripNUL applies the NUL rule: PostgreSQL text cannot hold a NUL (so a
// PostgreSQL source never has one); should a value carry one anyway it is
// removed and the correction listed.
func (r *run) stripNUL(t table, vals []any) {
	for i, v := range vals {
		s, ok := v.(string)
		if !ok || strings.IndexByte(s, 0) < 0 {
			continue
		}
		vals[i] = strings.ReplaceAll(s, "\x00", "")
		r.rep.correct(Finding{Table: t.name, ID: fmt.Sprint(keyString(vals[0])), Column: t.cols[i],
			Problem: "text holds a NUL character", Action: "imported without the NUL"})
	}
}

// idSet keeps the primary keys of the rows of one table (uuid or text).
type idSet struct {
	uuids [][16]byte
	texts []string
}

func (s *idSet) add(b [][]any) {
	for _, row := range b {
		switch k := row[0].(type) {
		case [16]byte:
			s.uuids = append(s.uuids, k)
		case string:
			s.texts = append(s.texts, k)
		}
	}
}

func (s *idSet) len() int { return len(s.uuids) + len(s.texts) }

func keyString(v any) string {
	switch k := v.(type) {
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", k[0:4], k[4:6], k[6:8], k[8:10], k[10:16])
	default:
		return fmt.Sprint(k)
	}
}
