package djangoimport_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"hermez/pkg/djangoimport"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func printed(rep *djangoimport.Report) string {
	var b strings.Builder
	rep.Print(&b)
	return b.String()
}

// A dry run writes nothing and counts what a run writes; a second run is a
// no-op and says so.
func TestDryRunThenImportThenNoop(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	to := testutil.NewDatabaseURL(t)
	before := snapshot(t, to)

	dry := mustImport(t, from, to, func(o *djangoimport.Options) { o.DryRun = true })
	if dry.Written() == 0 {
		t.Fatalf("dry run would write nothing:\n%s", printed(dry))
	}
	if !strings.Contains(printed(dry), "Dry run") {
		t.Errorf("dry run report:\n%s", printed(dry))
	}
	diffSnapshots(t, before, snapshot(t, to))
	if n := count(t, connect(t, to), `SELECT count(*) FROM django_import`); n != 0 {
		t.Errorf("dry run left %d ledger rows", n)
	}

	first := mustImport(t, from, to, nil)
	if first.Written() != dry.Written() {
		t.Errorf("dry run said %d rows, the run wrote %d", dry.Written(), first.Written())
	}
	for _, tr := range first.Tables {
		if tr2 := dry.Table(tr.Name); tr2 == nil || tr2.Written != tr.Written || tr2.Read != tr.Read {
			t.Errorf("%s: dry %+v, run %+v", tr.Name, tr2, tr)
		}
	}
	after := snapshot(t, to)
	ledger := snapshotLedger(t, to)

	second := mustImport(t, from, to, nil)
	if second.Written() != 0 {
		t.Errorf("second run wrote %d rows:\n%s", second.Written(), printed(second))
	}
	for _, tr := range second.Tables {
		if tr.Skipped != tr.Read {
			t.Errorf("second run %s: read %d, skipped %d", tr.Name, tr.Read, tr.Skipped)
		}
	}
	if !strings.Contains(printed(second), "Nothing to do") {
		t.Errorf("second run report:\n%s", printed(second))
	}
	diffSnapshots(t, after, snapshot(t, to))
	if got := snapshotLedger(t, to); got != ledger {
		t.Errorf("second run changed the ledger: %s → %s", ledger, got)
	}
}

func snapshotLedger(t *testing.T, dbURL string) string {
	rows := queryMaps(t, connect(t, dbURL), `SELECT source, started_at::text, finished_at::text FROM django_import ORDER BY source`)
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r["source"].(string) + "|" + r["started_at"].(string) + "|")
		if f, ok := r["finished_at"].(string); ok {
			b.WriteString(f)
		}
		b.WriteString(";")
	}
	return b.String()
}

// A run stopped after some committed batches leaves whole batches; the re-run
// finishes, and the result equals a run that was never stopped.
func TestStoppedRunResumes(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	straight := testutil.NewDatabaseURL(t)
	mustImport(t, from, straight, nil)

	stopped := testutil.NewDatabaseURL(t)
	for _, after := range []int{3, 9, 17} { // several stops, at reference data, mid-table and later
		rep, err := importOnce(t, from, stopped, func(o *djangoimport.Options) { djangoimport.FailAfter(o, after) })
		if err == nil || !strings.Contains(err.Error(), "stopped on purpose") {
			t.Fatalf("stop after %d batches: %v", after, err)
		}
		if !strings.Contains(printed(rep), "Stopped before the end") {
			t.Errorf("report of a stopped run:\n%s", printed(rep))
		}
	}
	conn := connect(t, stopped)
	if n := count(t, conn, `SELECT count(*) FROM users`); n == 0 {
		t.Fatal("the stopped runs wrote nothing")
	}
	rep := mustImport(t, from, stopped, nil)
	if rep.Written() == 0 {
		t.Errorf("the re-run wrote nothing:\n%s", printed(rep))
	}
	// Fields the old rows lack take the time of the first run, in every batch.
	if n := count(t, conn, `SELECT count(DISTINCT created_at) FROM users`); n != 1 {
		t.Errorf("users.created_at: %d distinct values, want the one import time", n)
	}
	if n := count(t, conn, `SELECT count(*) FROM users u JOIN django_import d ON d.started_at = u.created_at`); n != count(t, conn, `SELECT count(*) FROM users`) {
		t.Errorf("users.created_at is not the ledger's first start")
	}
	// Identical, apart from that import time.
	skip := []string{"users.created_at", "users.updated_at", "vehicles.created_at", "vehicles.updated_at"}
	diffSnapshots(t, snapshot(t, straight, skip...), snapshot(t, stopped, skip...))
}

// Rows that break a refusing rule stop the import before anything is written,
// each named; corrected rows are listed; fixed, the import goes through.
func TestBadRowsReported(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	src := connect(t, from)
	to := testutil.NewDatabaseURL(t)

	// PostgreSQL itself refuses a NUL in text: a Django database cannot hold one.
	if _, err := src.Exec(testutil.Context(t), `UPDATE addresses_address SET name = E'a\u0000b'`); err == nil {
		t.Fatal("the source accepted a NUL in text")
	}
	var rater, ratee, stranger string
	if err := src.QueryRow(testutil.Context(t), `SELECT rater_id, ratee_id FROM user_rating ORDER BY id LIMIT 1`).Scan(&rater, &ratee); err != nil {
		t.Fatal(err)
	}
	mustExec(t, src, `INSERT INTO users_user (userid, username, gender, role, is_online, is_available)
		VALUES ('user_bad_blank', 'blank_one', '', '', false, false),
		       ('user_bad_gender', 'gender_one', 'M', NULL, false, false),
		       ('user_case_a', 'Pedro.Perez', NULL, NULL, false, false),
		       ('user_case_b', 'pedro.perez', NULL, NULL, false, false)`)
	stranger = "user_bad_blank"
	mustExec(t, src, `INSERT INTO user_rating (id, rating, comment, ratee_id, rater_id, created_at) VALUES
		('00000000-0000-4000-8000-000000000011', 11, 'once más', $1, $2, now()),
		('00000000-0000-4000-8000-000000001001', 7, repeat('x', 1001), $1, $2, now()),
		('00000000-0000-4000-8000-000000000777', 9, 'sin domicilio', $1, $3, now())`, ratee, rater, stranger)
	mustExec(t, src, `UPDATE deliveries_deliveryquote SET payment_method = 'bitcoin'
		WHERE id = (SELECT id FROM deliveries_deliveryquote ORDER BY id LIMIT 1)`)

	rep, err := importOnce(t, from, to, nil)
	if !errors.Is(err, djangoimport.ErrRefused) {
		t.Fatalf("want ErrRefused, got %v\n%s", err, printed(rep))
	}
	out := printed(rep)
	for _, want := range []string{
		"ratings 00000000-0000-4000-8000-000000000011: rating \"11\" outside 0..10 → refused",
		"ratings 00000000-0000-4000-8000-000000001001: comment \"1001 characters\" longer than our 1000 characters → refused",
		"users user_bad_gender: gender \"M\" not male, female or other → refused",
		"payment_method \"bitcoin\" not efectivo or nequi → refused",
		"Nothing was written.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	dst := connect(t, to)
	if n := count(t, dst, `SELECT count(*) FROM users`) + count(t, dst, `SELECT count(*) FROM django_import`); n != 0 {
		t.Errorf("a refused import wrote %d rows", n)
	}

	// The operator fixes the old rows; blank choices are corrected on the way.
	mustExec(t, src, `UPDATE user_rating SET rating = 10 WHERE id = '00000000-0000-4000-8000-000000000011'`)
	mustExec(t, src, `UPDATE user_rating SET comment = left(comment, 1000) WHERE id = '00000000-0000-4000-8000-000000001001'`)
	mustExec(t, src, `UPDATE users_user SET gender = 'male' WHERE userid = 'user_bad_gender'`)
	mustExec(t, src, `UPDATE deliveries_deliveryquote SET payment_method = 'nequi' WHERE payment_method = 'bitcoin'`)
	rep = mustImport(t, from, to, nil)
	out = printed(rep)
	for _, want := range []string{
		"users user_bad_blank: gender \"\" blank → imported as null (not set)",
		"users user_bad_blank: role \"\" blank → imported as null (not set)",
		"users user_case_b: username \"pedro.perez\" equal to another old user's but for letter case → imported as is",
		"kept without a delivery",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if n := count(t, dst, `SELECT count(*) FROM users WHERE lower(username) = 'pedro.perez'`); n != 2 {
		t.Errorf("%d users named pedro.perez, want both", n)
	}
	if n := count(t, dst, `SELECT count(*) FROM users WHERE userid = 'user_bad_blank' AND gender IS NULL AND role IS NULL`); n != 1 {
		t.Errorf("blank gender/role not imported as null")
	}
	// The rating between two users who shared no delivery is kept, with none,
	// and counts in the ratee's totals as it did in the old system.
	if n := count(t, dst, `SELECT count(*) FROM user_rating WHERE id = '00000000-0000-4000-8000-000000000777' AND delivery_id IS NULL`); n != 1 {
		t.Errorf("the rating with no shared delivery was not kept without one")
	}
	want := count(t, src, `SELECT count(*) FROM user_rating WHERE ratee_id = $1`, ratee)
	if got := count(t, dst, `SELECT rating_count FROM users WHERE userid = $1`, ratee); got != want {
		t.Errorf("rating_count of %s: %d, old %d", ratee, got, want)
	}
	if a, b := count(t, src, `SELECT sum(rating) FROM user_rating WHERE ratee_id = $1`, ratee),
		count(t, dst, `SELECT rating_sum FROM users WHERE userid = $1`, ratee); a != b {
		t.Errorf("rating_sum of %s: %d, old %d", ratee, b, a)
	}
	// No rater has two ratings on one delivery.
	if n := count(t, dst, `SELECT count(*) FROM (SELECT rater_id, delivery_id FROM user_rating WHERE delivery_id IS NOT NULL
		GROUP BY 1, 2 HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d doubly used deliveries", n)
	}
}

// A target with marketplace rows from elsewhere is refused unless --merge;
// with it, a username another user of ours holds is imported as is and listed.
func TestForeignRowsNeedMerge(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	src := connect(t, from)
	to := testutil.NewDatabaseURL(t)
	dst := connect(t, to)
	var uid, username string
	if err := src.QueryRow(testutil.Context(t), `SELECT userid, username FROM users_user WHERE username IS NOT NULL ORDER BY userid LIMIT 1`).Scan(&uid, &username); err != nil {
		t.Fatal(err)
	}
	mustExec(t, dst, `INSERT INTO users (userid, username, created_at, updated_at) VALUES ('user_new_here', $1, now(), now())`, username)
	// A user of the old system already here, as `web staff` makes one: staff, empty profile.
	var staff string
	if err := src.QueryRow(testutil.Context(t), `SELECT userid FROM users_user WHERE phone IS NOT NULL AND userid <> $1 ORDER BY userid LIMIT 1`, uid).Scan(&staff); err != nil {
		t.Fatal(err)
	}
	mustExec(t, dst, `INSERT INTO users (userid, is_staff, first_name, created_at, updated_at) VALUES ($1, true, 'Ya', now(), now())`, staff)

	rep, err := importOnce(t, from, to, nil)
	if !errors.Is(err, djangoimport.ErrRefused) || !strings.Contains(printed(rep), "users: 1 rows not from this source (e.g. [user_new_here])") {
		t.Fatalf("want a refusal naming user_new_here, got %v\n%s", err, printed(rep))
	}
	if n := count(t, dst, `SELECT count(*) FROM users`); n != 2 {
		t.Fatalf("a refused import wrote users: %d", n)
	}
	rep = mustImport(t, from, to, func(o *djangoimport.Options) { o.Merge = true })
	if want := "users " + uid + ": username \"" + username + "\" also the username of user user_new_here in the target → imported as is"; !strings.Contains(printed(rep), want) {
		t.Errorf("report lacks %q:\n%s", want, printed(rep))
	}
	if n := count(t, dst, `SELECT count(*) FROM users WHERE username = $1`, username); n != 2 {
		t.Errorf("%d users named %s, want both", n, username)
	}
	if a, b := count(t, src, `SELECT count(*) FROM users_user`)+1, count(t, dst, `SELECT count(*) FROM users`); a != b {
		t.Errorf("users: %d, want %d", b, a)
	}
	// The user already here kept their values and got the old ones where theirs were empty.
	if n := count(t, dst, `SELECT count(*) FROM users WHERE userid = $1 AND is_staff AND first_name = 'Ya'
		AND phone = (SELECT phone FROM users WHERE userid = $1) AND phone IS NOT NULL`, staff); n != 1 {
		t.Errorf("the user already here was not kept and filled")
	}
	var phone string
	if err := src.QueryRow(testutil.Context(t), `SELECT phone FROM users_user WHERE userid = $1`, staff).Scan(&phone); err != nil {
		t.Fatal(err)
	}
	if n := count(t, dst, `SELECT count(*) FROM users WHERE userid = $1 AND phone = $2`, staff, phone); n != 1 {
		t.Errorf("phone not filled from the old row")
	}
	if !strings.Contains(printed(rep), "users: 1 rows already here had empty fields filled from the old rows") {
		t.Errorf("report lacks the filled row:\n%s", printed(rep))
	}
	if again := mustImport(t, from, to, func(o *djangoimport.Options) { o.Merge = true }); again.Written() != 0 {
		t.Errorf("a second --merge run wrote %d:\n%s", again.Written(), printed(again))
	}
}

// The simplest cutover: one PostgreSQL database holds Django's tables (in
// public) and ours, in a schema of their own (both have a user_rating).
func TestSameDatabase(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	mustExec(t, connect(t, from), `CREATE SCHEMA hermez`)
	to := from + "&search_path=hermez"
	if !strings.Contains(from, "?") {
		to = from + "?search_path=hermez"
	}
	st, err := store.Open(to, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	if err := st.Seed(testutil.Context(t)); err != nil {
		t.Fatal(err)
	}
	// Pointing --from at our schema is refused, not mixed up.
	mixed := strings.Replace(to, "search_path=hermez", "search_path=hermez,public", 1)
	if _, err := importOnce(t, mixed, to, nil); err == nil || !strings.Contains(err.Error(), "own schema") {
		t.Fatalf("--from resolving to our tables: %v", err)
	}
	rep := mustImport(t, from, to, nil)
	if rep.Written() == 0 {
		t.Fatalf("nothing imported:\n%s", printed(rep))
	}
	conn := connect(t, to)
	if a, b := count(t, conn, `SELECT count(*) FROM public.user_rating`), count(t, conn, `SELECT count(*) FROM hermez.user_rating`); a != b || a == 0 {
		t.Errorf("ratings: Django %d, ours %d", a, b)
	}
	if n := count(t, conn, `SELECT count(*) FROM hermez.users`); n != count(t, conn, `SELECT count(*) FROM public.users_user`) {
		t.Errorf("users: %d", n)
	}
}

// Reference rows are matched by name after the renames, whether or not our
// seed ran first; a staff-made name comes over; two old rows that meet in one
// of ours (an old "Alimentos" next to "Comida") stay one, and a re-run is a no-op.
func TestReferenceReconciliation(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	src := connect(t, from)
	mustExec(t, src, `INSERT INTO deliveries_deliverycategory (id, name, description, is_active, created_at, updated_at) VALUES
		('00000000-0000-4000-8000-00000000fa01', 'Farmacia', NULL, true, now(), now()),
		('00000000-0000-4000-8000-00000000a11a', 'Alimentos', 'otra', false, now(), now())`)
	mustExec(t, src, `INSERT INTO vehicles_vehicletype_delivery_categories (vehicletype_id, deliverycategory_id)
		SELECT id, '00000000-0000-4000-8000-00000000fa01' FROM vehicles_vehicletype WHERE name = 'Motocarro'`)
	mustExec(t, src, `UPDATE deliveries_deliveryquote SET category_id = '00000000-0000-4000-8000-00000000a11a'
		WHERE id = (SELECT id FROM deliveries_deliveryquote ORDER BY id LIMIT 1)`)

	for _, seeded := range []bool{true, false} {
		to := testutil.NewDatabaseURL(t)
		dst := connect(t, to)
		if !seeded {
			mustExec(t, dst, `DELETE FROM vehicle_type_categories; DELETE FROM vehicle_types; DELETE FROM delivery_categories`)
		}
		mustImport(t, from, to, nil)
		if n := count(t, dst, `SELECT count(*) FROM delivery_categories`); n != 6 {
			t.Errorf("seeded=%v: %d categories, want Alimentos Paquetes Documentos Personas Mercado Farmacia", seeded, n)
		}
		if n := count(t, dst, `SELECT count(*) FROM delivery_categories WHERE name = 'Comida'`); n != 0 {
			t.Errorf("seeded=%v: Comida exists", seeded)
		}
		// The old row named exactly like ours gives the attributes, not the renamed one.
		if n := count(t, dst, `SELECT count(*) FROM delivery_categories WHERE name = 'Alimentos' AND description = 'otra' AND NOT is_active`); n != 1 {
			t.Errorf("seeded=%v: Alimentos does not carry the attributes of the old Alimentos row", seeded)
		}
		if n := count(t, dst, `SELECT count(*) FROM vehicle_types WHERE name IN ('Moto', 'Carro', 'Mototaxi')`); n != 3 || count(t, dst, `SELECT count(*) FROM vehicle_types`) != 3 {
			t.Errorf("seeded=%v: vehicle types", seeded)
		}
		if n := count(t, dst, `SELECT count(*) FROM vehicle_type_categories l JOIN vehicle_types v ON v.id = l.vehicle_type_id
			JOIN delivery_categories c ON c.id = l.category_id WHERE v.name = 'Mototaxi' AND c.name = 'Farmacia'`); n != 1 {
			t.Errorf("seeded=%v: the link Mototaxi–Farmacia is missing", seeded)
		}
		if n := count(t, dst, `SELECT count(*) FROM delivery_quotes q JOIN delivery_categories c ON c.id = q.category_id
			WHERE c.name = 'Alimentos'`); n != count(t, src, `SELECT count(*) FROM deliveries_deliveryquote q
			JOIN deliveries_deliverycategory c ON c.id = q.category_id WHERE c.name IN ('Comida', 'Alimentos')`) {
			t.Errorf("seeded=%v: quotes of Comida and of the old Alimentos are not all under our Alimentos", seeded)
		}
		if again := mustImport(t, from, to, nil); again.Written() != 0 {
			t.Errorf("seeded=%v: re-run wrote %d:\n%s", seeded, again.Written(), printed(again))
		}
		// Our seed afterwards finds its names and adds nothing.
		st, err := store.Open(to, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Seed(testutil.Context(t)); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if n := count(t, dst, `SELECT count(*) FROM delivery_categories`) + count(t, dst, `SELECT count(*) FROM vehicle_types`); n != 9 {
			t.Errorf("seeded=%v: seed after the import made rows: %d", seeded, n)
		}
	}
}

// A run cancelled in the middle of a table (Ctrl-C, SIGTERM of a job) stops
// with whole batches only; the re-run finishes it.
func TestCancelledRunResumes(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	to := testutil.NewDatabaseURL(t)
	ctx, cancel := context.WithCancel(testutil.Context(t))
	defer cancel()
	// Cancel as soon as the offers are done, while the next table is being read.
	log := slog.New(cancelOn{slog.NewTextHandler(io.Discard, nil), "offers", cancel})
	_, err := djangoimport.Run(ctx, djangoimport.Options{From: from, To: to, BatchSize: 5, Log: log})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancelled run, got %v", err)
	}
	dst := connect(t, to)
	if count(t, dst, `SELECT count(*) FROM delivery_offers`) == 0 || count(t, dst, `SELECT count(*) FROM user_rating`) != 0 {
		t.Fatalf("the cancelled run did not stop after the offers")
	}
	rep := mustImport(t, from, to, nil)
	if rep.Table("offers").Written != 0 || rep.Table("ratings").Written == 0 {
		t.Errorf("the re-run did not continue where the cancelled one stopped:\n%s", printed(rep))
	}
}

type cancelOn struct {
	slog.Handler
	table  string
	cancel context.CancelFunc
}

func (c cancelOn) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "table done" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "table" && a.Value.String() == c.table {
				c.cancel()
			}
			return true
		})
	}
	return c.Handler.Handle(ctx, r)
}

// A target row that differs from the old one in a key column fails the
// verification (exit 1), naming the table.
func TestVerificationMismatch(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	to := testutil.NewDatabaseURL(t)
	mustImport(t, from, to, nil)
	mustExec(t, connect(t, to), `UPDATE delivery_history SET event_type = 'completed'
		WHERE id = (SELECT id FROM delivery_history ORDER BY id LIMIT 1)`)
	rep, err := importOnce(t, from, to, nil)
	if !errors.Is(err, djangoimport.ErrMismatch) {
		t.Fatalf("want ErrMismatch, got %v\n%s", err, printed(rep))
	}
	out := printed(rep)
	if !strings.Contains(out, "history                  MISMATCH") || !strings.Contains(out, "The verification found a mismatch") {
		t.Errorf("report:\n%s", out)
	}
}

// An old database with its reference rows and nothing else imports cleanly
// (every table empty on both sides still verifies).
func TestEmptySource(t *testing.T) {
	requirePG(t)
	t.Parallel()
	from := newDjango(t)
	src := connect(t, from)
	mustExec(t, src, `UPDATE users_user SET current_vehicle_id = NULL`)
	for _, table := range []string{"user_rating", "deliveries_deliveryhistory", "deliveries_deliveryoffer", "deliveries_delivery",
		"deliveries_deliveryquote", "addresses_address", "vehicles_vehicle", "users_user"} {
		mustExec(t, src, `DELETE FROM `+table)
	}
	to := testutil.NewDatabaseURL(t)
	rep := mustImport(t, from, to, nil)
	for _, v := range rep.Verify {
		if !v.OK || v.SourceCount != v.TargetCount {
			t.Errorf("verification %+v", v)
		}
	}
	if n := count(t, connect(t, to), `SELECT count(*) FROM users`); n != 0 {
		t.Errorf("%d users from an empty source", n)
	}
}
