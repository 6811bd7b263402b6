package djangoimport

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Ratings of the old system name no delivery; ours name the delivery the two
// users shared. Each old rating, taken in (created_at, id) order, is attached
// to a delivered or paid delivery between its rater and ratee (either as client
// or driver) that the rater has no rating on yet: the newest one created before
// the rating, else the oldest one after it. A rating with no such delivery is
// kept with no delivery, so every user's rating_count and rating_average stay
// what the old system showed. Ratings already in the target keep their
// delivery; the choice for the others is the same whether or not a previous
// run was stopped halfway (a greedy pass in a fixed order).

type sharedDelivery struct {
	id      [16]byte
	created time.Time
}

type oldRating struct {
	id, ratee, rater string
	rating           int32
	comment          *string
	created          time.Time
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "\x00" + b
}

func (r *run) ratings(ctx context.Context) error {
	t := table{name: "ratings", target: "user_rating",
		cols: []string{"id", "ratee_id", "rater_id", "delivery_id", "rating", "comment", "created_at"}}
	tr := r.rep.table(t.name)

	shared := map[string][]sharedDelivery{}
	rows, err := r.srcTx.Query(ctx, `SELECT id, client_id, delivery_person_id, created_at FROM deliveries_delivery
		WHERE status IN ('delivered', 'paid') AND delivery_person_id IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("read shared deliveries: %w", err)
	}
	for rows.Next() {
		var d sharedDelivery
		var client, driver string
		if err := rows.Scan(&d.id, &client, &driver, &d.created); err != nil {
			rows.Close()
			return err
		}
		k := pairKey(client, driver)
		shared[k] = append(shared[k], d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ds := range shared {
		sort.Slice(ds, func(i, j int) bool {
			if !ds[i].created.Equal(ds[j].created) {
				return ds[i].created.Before(ds[j].created)
			}
			return string(ds[i].id[:]) < string(ds[j].id[:])
		})
	}

	// What the target already holds: those ratings keep their delivery.
	present := map[string]bool{}
	used := map[string]bool{} // rater + delivery
	trows, err := r.dstQuery(ctx, `SELECT id::text, rater_id, delivery_id FROM user_rating`)
	if err != nil {
		return fmt.Errorf("read target ratings: %w", err)
	}
	for trows.Next() {
		var id, rater string
		var delivery *[16]byte
		if err := trows.Scan(&id, &rater, &delivery); err != nil {
			trows.Close()
			return err
		}
		present[id] = true
		if delivery != nil {
			used[rater+string(delivery[:])] = true
		}
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return err
	}

	var old []oldRating
	srows, err := r.srcTx.Query(ctx, `SELECT id::text, ratee_id, rater_id, rating, comment, created_at FROM user_rating`)
	if err != nil {
		return fmt.Errorf("read ratings: %w", err)
	}
	for srows.Next() {
		var x oldRating
		if err := srows.Scan(&x.id, &x.ratee, &x.rater, &x.rating, &x.comment, &x.created); err != nil {
			srows.Close()
			return err
		}
		old = append(old, x)
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return err
	}
	sort.Slice(old, func(i, j int) bool {
		if !old[i].created.Equal(old[j].created) {
			return old[i].created.Before(old[j].created)
		}
		return old[i].id < old[j].id
	})

	if _, err := r.exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s AS SELECT %s FROM %s WITH NO DATA`,
		t.stage(), "id, ratee_id, rater_id, delivery_id, rating, comment, created_at", t.target)); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	bar := r.prog.start(t.name, int64(len(old)))
	defer bar.done(tr)
	ids := &idSet{}
	r.ids[t.name] = ids
	var attached, kept int
	batch := make([][]any, 0, r.o.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, _, err := r.writeBatch(ctx, t, batch)
		if err != nil {
			return err
		}
		tr.Read += int64(len(batch))
		tr.Written += n
		tr.Skipped += int64(len(batch)) - n
		ids.add(batch)
		bar.add(len(batch))
		batch = batch[:0]
		return r.committed()
	}
	for _, x := range old {
		var delivery any
		if !present[x.id] {
			if d := pick(shared[pairKey(x.rater, x.ratee)], x, used); d != nil {
				used[x.rater+string(d[:])] = true
				delivery = *d
				attached++
			} else {
				kept++
			}
		}
		id, err := parseUUID(x.id)
		if err != nil {
			return err
		}
		vals := []any{id, x.ratee, x.rater, delivery, x.rating, x.comment, x.created}
		r.stripNUL(t, vals)
		batch = append(batch, vals)
		if len(batch) == r.o.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if attached+kept > 0 {
		r.rep.note("ratings: %d attached to a delivery the two users shared, %d kept without a delivery (none left to attach)", attached, kept)
	}
	return nil
}

// pick chooses the delivery for one rating (see the comment at the top).
func pick(ds []sharedDelivery, x oldRating, used map[string]bool) *[16]byte {
	var before, after *[16]byte
	for i := range ds {
		if used[x.rater+string(ds[i].id[:])] {
			continue
		}
		if !ds[i].created.After(x.created) {
			before = &ds[i].id // ascending: the last one wins
		} else if after == nil {
			after = &ds[i].id
		}
	}
	if before != nil {
		return before
	}
	return after
}

func parseUUID(s string) ([16]byte, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return [16]byte{}, fmt.Errorf("rating id %q: %w", s, err)
	}
	return [16]byte(u), nil
}
