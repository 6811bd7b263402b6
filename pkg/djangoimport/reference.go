package djangoimport

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Renames our seed made of the old seed's names (the frontend pictures
// reference rows by lower-cased name and cannot show the old ones).
var (
	CategoryRenames    = map[string]string{"Comida": "Alimentos"}
	VehicleTypeRenames = map[string]string{"Motocarro": "Mototaxi"}
)

// idMap maps the source ids of one reference table to target ids (parallel
// slices, uuid text), with the target name of each.
type idMap struct {
	src, dst, name []string
}

func (m *idMap) put(src, dst, name string) {
	m.src = append(m.src, src)
	m.dst = append(m.dst, dst)
	m.name = append(m.name, name)
}

type refMap struct {
	cats, types idMap
}

type refRow struct {
	id, name    string
	description *string
	isActive    bool
	// vehicle types only (numerics as text)
	weight, volume *string
	passengers     *int32
	image          *string
	created, upd   any
}

// reference reconciles categories, vehicle types and their links by name, in
// one transaction: a name ours has (after the renames) keeps our row and id and
// takes the old row's description, capacities, image and active flag where the
// old row has them; a name ours lacks comes over with its old id.
func (r *run) reference(ctx context.Context) error {
	r.ref = &refMap{}
	tx, err := r.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin reference data: %w", err)
	}
	defer tx.Rollback(context.Background())
	if err := r.refCategories(ctx, tx); err != nil {
		return fmt.Errorf("categories: %w", err)
	}
	if err := r.refTypes(ctx, tx); err != nil {
		return fmt.Errorf("vehicle types: %w", err)
	}
	if err := r.refLinks(ctx, tx); err != nil {
		return fmt.Errorf("vehicle type categories: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit reference data: %w", err)
	}
	return r.committed()
}

func rename(m map[string]string, name string) string {
	if n, ok := m[name]; ok {
		return n
	}
	return name
}

func (r *run) refCategories(ctx context.Context, tx pgx.Tx) error {
	tr := r.rep.table("categories")
	src, err := r.readRef(ctx, r.srcTx, `SELECT id::text, name, description, is_active, NULL::text, NULL::text, NULL::int, NULL::text, created_at, updated_at
		FROM deliveries_deliverycategory ORDER BY name`)
	if err != nil {
		return err
	}
	ours, err := r.readRef(ctx, tx, `SELECT id::text, name, description, is_active, NULL::text, NULL::text, NULL::int, NULL::text, created_at, updated_at
		FROM delivery_categories`)
	if err != nil {
		return err
	}
	byName, byID := index(ours)
	renamedLast(src, CategoryRenames)
	applied := map[string]bool{}
	for _, c := range src {
		tr.Read++
		name := rename(CategoryRenames, c.name)
		if name != c.name {
			r.rep.note("categories: %q becomes %q", c.name, name)
		}
		if t, ok := byName[name]; ok {
			r.ref.cats.put(c.id, t.id, t.name)
			desc := coalesce(c.description, t.description)
			if applied[t.id] || desc == deref(t.description) && c.isActive == t.isActive {
				applied[t.id] = true
				tr.Skipped++
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE delivery_categories SET description = $2, is_active = $3, updated_at = $4 WHERE id = $1`,
				t.id, desc, c.isActive, c.upd); err != nil {
				return err
			}
			applied[t.id] = true
			tr.Written++
			continue
		}
		if t, ok := byID[c.id]; ok {
			return fmt.Errorf("category %s (%q): our row with that id is named %q", c.id, c.name, t.name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO delivery_categories (id, name, description, is_active, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, c.id, name, deref(c.description), c.isActive, c.created, c.upd); err != nil {
			return err
		}
		row := c
		row.name = name
		byName[name], byID[c.id] = &row, &row
		applied[c.id] = true
		r.ref.cats.put(c.id, c.id, name)
		tr.Written++
	}
	return nil
}

func (r *run) refTypes(ctx context.Context, tx pgx.Tx) error {
	tr := r.rep.table("vehicle types")
	const cols = `id::text, name, description, is_active, max_weight_capacity_kg::text, max_volume_capacity_liters::text,
		passenger_capacity, image, created_at, updated_at`
	src, err := r.readRef(ctx, r.srcTx, `SELECT `+cols+` FROM vehicles_vehicletype ORDER BY name`)
	if err != nil {
		return err
	}
	ours, err := r.readRef(ctx, tx, `SELECT `+cols+` FROM vehicle_types`)
	if err != nil {
		return err
	}
	byName, byID := index(ours)
	renamedLast(src, VehicleTypeRenames)
	applied := map[string]bool{}
	for _, v := range src {
		tr.Read++
		name := rename(VehicleTypeRenames, v.name)
		if name != v.name {
			r.rep.note("vehicle types: %q becomes %q", v.name, name)
		}
		if t, ok := byName[name]; ok {
			r.ref.types.put(v.id, t.id, t.name)
			desc, weight, volume := coalesce(v.description, t.description), coalesce(v.weight, t.weight), coalesce(v.volume, t.volume)
			pass := derefInt(t.passengers)
			if v.passengers != nil {
				pass = *v.passengers
			}
			image := t.image
			if v.image != nil {
				image = v.image
			}
			if applied[t.id] || desc == deref(t.description) && weight == deref(t.weight) && volume == deref(t.volume) &&
				pass == derefInt(t.passengers) && deref(image) == deref(t.image) && (image == nil) == (t.image == nil) && v.isActive == t.isActive {
				applied[t.id] = true
				tr.Skipped++
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE vehicle_types SET description = $2, max_weight_capacity_kg = $3::numeric,
				max_volume_capacity_liters = $4::numeric, passenger_capacity = $5, image = $6, is_active = $7, updated_at = $8 WHERE id = $1`,
				t.id, desc, weight, volume, pass, image, v.isActive, v.upd); err != nil {
				return err
			}
			applied[t.id] = true
			tr.Written++
			continue
		}
		if t, ok := byID[v.id]; ok {
			return fmt.Errorf("vehicle type %s (%q): our row with that id is named %q", v.id, v.name, t.name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO vehicle_types (id, name, description, max_weight_capacity_kg,
			max_volume_capacity_liters, passenger_capacity, image, is_active, created_at, updated_at)
			VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, $7, $8, $9, $10)`,
			v.id, name, deref(v.description), orZero(v.weight), orZero(v.volume), derefInt(v.passengers), v.image,
			v.isActive, v.created, v.upd); err != nil {
			return err
		}
		row := v
		row.name = name
		byName[name], byID[v.id] = &row, &row
		applied[v.id] = true
		r.ref.types.put(v.id, v.id, name)
		tr.Written++
	}
	return nil
}

func (r *run) refLinks(ctx context.Context, tx pgx.Tx) error {
	tr := r.rep.table("vehicle type categories")
	typeMap, catMap := mapOf(r.ref.types), mapOf(r.ref.cats)
	rows, err := r.srcTx.Query(ctx, `SELECT vehicletype_id::text, deliverycategory_id::text FROM vehicles_vehicletype_delivery_categories`)
	if err != nil {
		return err
	}
	seen := map[[2]string]bool{}
	var vts, cats []string
	for rows.Next() {
		var vt, cat string
		if err := rows.Scan(&vt, &cat); err != nil {
			rows.Close()
			return err
		}
		tr.Read++
		pair := [2]string{typeMap[vt], catMap[cat]}
		if seen[pair] {
			tr.Skipped++ // two old rows became one of ours
			continue
		}
		seen[pair] = true
		vts, cats = append(vts, pair[0]), append(cats, pair[1])
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO vehicle_type_categories (vehicle_type_id, category_id)
		SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING`, vts, cats)
	if err != nil {
		return err
	}
	tr.Written = tag.RowsAffected()
	tr.Skipped += int64(len(vts)) - tr.Written
	return nil
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func (r *run) readRef(ctx context.Context, q querier, sql string) ([]refRow, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []refRow
	for rows.Next() {
		var x refRow
		if err := rows.Scan(&x.id, &x.name, &x.description, &x.isActive, &x.weight, &x.volume, &x.passengers, &x.image,
			&x.created, &x.upd); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

func index(rows []refRow) (byName, byID map[string]*refRow) {
	byName, byID = map[string]*refRow{}, map[string]*refRow{}
	for i := range rows {
		byName[rows[i].name] = &rows[i]
		byID[rows[i].id] = &rows[i]
	}
	return byName, byID
}

func mapOf(m idMap) map[string]string {
	out := make(map[string]string, len(m.src))
	for i := range m.src {
		out[m.src[i]] = m.dst[i]
	}
	return out
}

// renamedLast orders the old rows so that one named as ours comes before one
// renamed to that name (both map to our row; the first gives its attributes).
func renamedLast(rows []refRow, renames map[string]string) {
	sort.SliceStable(rows, func(i, j int) bool {
		_, ri := renames[rows[i].name]
		_, rj := renames[rows[j].name]
		return !ri && rj
	})
}

func coalesce(a, b *string) string {
	if a != nil {
		return *a
	}
	return deref(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func orZero(s *string) string {
	if s == nil {
		return "0"
	}
	return *s
}
