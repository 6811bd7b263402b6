package store_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"gorm.io/gorm/schema"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// emptyPostgresURL is an empty PostgreSQL database of this test (no
// template, no migration); it skips without TEST_DATABASE_URL.
func emptyPostgresURL(t *testing.T) string { return testutil.EmptyDatabaseURL(t, "hermez_t_empty") }

// openEmpty opens an unmigrated database of the given dialect.
func openEmpty(t *testing.T, dialect string) *store.Store {
	t.Helper()
	var (
		st  *store.Store
		err error
	)
	if dialect == store.Postgres {
		st, err = store.Open(emptyPostgresURL(t), "")
	} else {
		st, err = store.Open("", filepath.Join(t.TempDir(), "empty.db"))
	}
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// eachDialect runs fn on SQLite always and on PostgreSQL when configured.
func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{store.SQLite, store.Postgres} {
		t.Run(d, func(t *testing.T) {
			if d == store.Postgres && testutil.PostgresURL() == "" {
				t.Skip("PostgreSQL: TEST_DATABASE_URL not set")
			}
			fn(t, d)
		})
	}
}

// tables lists the user tables of the database.
func tables(t *testing.T, st *store.Store) []string {
	t.Helper()
	ts, err := st.DB.Migrator().GetTables()
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	out := ts[:0]
	for _, n := range ts {
		if n == "sqlite_sequence" {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func gooseState(t *testing.T, st *store.Store) (rows int, max int64) {
	t.Helper()
	if err := st.DB.Raw("SELECT COUNT(*), COALESCE(MAX(version_id), 0) FROM goose_db_version").Row().Scan(&rows, &max); err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	return rows, max
}

func TestMigrateFromEmptyAndAgain(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := openEmpty(t, dialect)
		if got := tables(t, st); len(got) != 0 {
			t.Fatalf("database not empty before migrating: %v", got)
		}
		ctx := testutil.Context(t)
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate from empty: %v", err)
		}
		want := []string{"addresses", "deliveries", "delivery_categories", "delivery_history", "delivery_offers", "delivery_track",
			"delivery_quotes", "goose_db_version", "outbox_events", "runner_leases", "staff_accounts", "user_rating", "users",
			"vehicle_type_categories", "vehicle_types", "vehicles", "webhook_events"}
		got := tables(t, st)
		have := map[string]bool{}
		for _, n := range got {
			have[n] = true
		}
		for _, n := range want {
			if !have[n] {
				t.Errorf("table %s missing after migrate (tables: %v)", n, got)
			}
		}
		rows, max := gooseState(t, st)
		if max < 1 {
			t.Fatalf("goose version %d after migrate", max)
		}
		// Again: a no-op.
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
		rows2, max2 := gooseState(t, st)
		if rows2 != rows || max2 != max {
			t.Fatalf("second migrate changed goose_db_version: %d rows v%d → %d rows v%d", rows, max, rows2, max2)
		}
		if got2 := tables(t, st); fmt.Sprint(got2) != fmt.Sprint(got) {
			t.Fatalf("second migrate changed tables: %v → %v", got, got2)
		}
	})
}

// The clone testutil hands out is already migrated: migrating it again is a no-op too.
func TestMigrateCloneIsNoop(t *testing.T) {
	t.Parallel()
	st := testutil.NewStore(t)
	rows, max := gooseState(t, st)
	if err := st.Migrate(testutil.Context(t)); err != nil {
		t.Fatalf("migrate migrated %s database: %v", st.Dialect, err)
	}
	if rows2, max2 := gooseState(t, st); rows2 != rows || max2 != max {
		t.Fatalf("migrate changed goose_db_version: %d/%d → %d/%d", rows, max, rows2, max2)
	}
}

// TestSchemaMatchesModels fails when a GORM model and the migrated schema
// disagree: a column or a table missing on either side.
func TestSchemaMatchesModels(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := openEmpty(t, dialect)
		if err := st.Migrate(testutil.Context(t)); err != nil {
			t.Fatal(err)
		}
		modelTables := map[string]bool{}
		cache := &sync.Map{}
		for _, m := range store.AllModels() {
			sch, err := schema.Parse(m, cache, schema.NamingStrategy{})
			if err != nil {
				t.Fatalf("parse %T: %v", m, err)
			}
			modelTables[sch.Table] = true
			if !st.DB.Migrator().HasTable(m) {
				t.Errorf("model %T: table %s not in the migrated schema", m, sch.Table)
				continue
			}
			cols, err := st.DB.Migrator().ColumnTypes(m)
			if err != nil {
				t.Fatalf("columns of %s: %v", sch.Table, err)
			}
			inDB := map[string]bool{}
			for _, c := range cols {
				inDB[c.Name()] = true
			}
			inModel := map[string]bool{}
			for _, f := range sch.Fields {
				if f.DBName == "" {
					continue
				}
				inModel[f.DBName] = true
				if !inDB[f.DBName] {
					t.Errorf("model %T field %s: column %s.%s missing in the migrated schema", m, f.Name, sch.Table, f.DBName)
				}
			}
			for c := range inDB {
				if !inModel[c] {
					t.Errorf("column %s.%s has no field in model %T", sch.Table, c, m)
				}
			}
		}
		for _, tbl := range tables(t, st) {
			if tbl == "goose_db_version" || tbl == "goose_lock" { // goose_lock: migrations behind a transaction pooler
				continue
			}
			if !modelTables[tbl] {
				t.Errorf("table %s has no model in store.AllModels()", tbl)
			}
		}
	})
}

// migrateAtOnce opens n stores with open and migrates them at once: every
// migrator succeeds and every migration is recorded once. It returns the
// stores (closed at cleanup).
func migrateAtOnce(t *testing.T, n int, open func() (*store.Store, error)) []*store.Store {
	t.Helper()
	stores := make([]*store.Store, n)
	for i := range stores {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
	}
	ctx := testutil.Context(t)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range stores {
		wg.Go(func() {
			<-start
			errs[i] = stores[i].Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d of %d: %v", i, n, err)
		}
	}
	rows, _ := gooseState(t, stores[0])
	var versions int
	if err := stores[0].DB.Raw("SELECT COUNT(DISTINCT version_id) FROM goose_db_version").Row().Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions {
		t.Fatalf("a migration was recorded twice: %d rows for %d versions", rows, versions)
	}
	return stores
}

// Two instances deploying at once both succeed: the session lock serializes them.
func TestConcurrentMigratorsPostgres(t *testing.T) {
	t.Parallel()
	u := emptyPostgresURL(t)
	migrateAtOnce(t, 3, func() (*store.Store, error) { return store.Open(u, "") })
}

// Two local processes (say `web serve` and `web seed`) migrating one fresh
// SQLite file at once both succeed.
func TestConcurrentMigratorsSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "race.db")
	migrateAtOnce(t, 4, func() (*store.Store, error) { return store.Open("", path) })
}
