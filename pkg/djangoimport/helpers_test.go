package djangoimport_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"

	"hermez/pkg/testutil"
)

// The fixtures are copies of ../shared/fixtures/django (schema.sql as the
// Django migrations make it, and data set A). DJANGO_DATASET names another
// data set file to run the same tests on it.
func datasetPath() string {
	if p := os.Getenv("DJANGO_DATASET"); p != "" {
		return p
	}
	return filepath.Join("testdata", "dataset-a.sql")
}

func requirePG(t *testing.T) {
	t.Helper()
	if testutil.PostgresURL() == "" {
		t.Skip("import-django reads a PostgreSQL Django database: set TEST_DATABASE_URL to run this test")
	}
}

// execFile runs a SQL file through pgx (simple protocol: many statements, the
// data file's own BEGIN … COMMIT, deferred foreign keys checked at COMMIT), on
// a connection of its own (pg_dump files clear the search_path).
func execFile(t *testing.T, dbURL, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(testutil.Context(t), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(testutil.Context(t), string(b)); err != nil {
		t.Fatalf("restore %s: %v", path, err)
	}
}

// newDjango restores the Django schema and the data set into a fresh database.
func newDjango(t *testing.T) string {
	t.Helper()
	u := testutil.EmptyDatabaseURL(t, "hermez_t_django")
	execFile(t, u, filepath.Join("testdata", "schema.sql"))
	execFile(t, u, datasetPath())
	return u
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["TimeZone"] = "UTC"
	conn, err := pgx.ConnectConfig(testutil.Context(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(testutil.Context(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(testutil.Context(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// snapshot renders every imported table of a target database as sorted text
// rows (minus the columns listed in skip, "table.column").
func snapshot(t *testing.T, dbURL string, skip ...string) map[string][]string {
	t.Helper()
	conn := connect(t, dbURL)
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	out := map[string][]string{}
	for _, table := range []string{"users", "addresses", "vehicles", "vehicle_types", "delivery_categories",
		"vehicle_type_categories", "delivery_quotes", "delivery_offers", "deliveries", "delivery_history", "user_rating"} {
		rows, err := conn.Query(testutil.Context(t), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		fields := rows.FieldDescriptions()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				name := fields[i].Name
				if skipped[table+"."+name] {
					continue
				}
				fmt.Fprintf(&b, "%s=%v;", name, v)
			}
			out[table] = append(out[table], b.String())
		}
		rows.Close()
		sort.Strings(out[table])
	}
	return out
}

func diffSnapshots(t *testing.T, a, b map[string][]string) {
	t.Helper()
	for table, rows := range a {
		if len(rows) != len(b[table]) {
			t.Errorf("%s: %d rows vs %d", table, len(rows), len(b[table]))
			continue
		}
		for i := range rows {
			if rows[i] != b[table][i] {
				t.Errorf("%s differs:\n  %s\n  %s", table, rows[i], b[table][i])
				break
			}
		}
	}
}
