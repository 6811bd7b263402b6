// Package testutil starts what tests need: a migrated database of their own
// (PostgreSQL when TEST_DATABASE_URL is set, else an SQLite file), a Redis with
// a key prefix of their own (TEST_REDIS_URL, else miniredis), development
// tokens, and the whole web process behind httptest.
package testutil

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the admin connection

	"hermez/db"
	"hermez/pkg/store"
)

var dbCounter atomic.Int64

// PostgresURL is TEST_DATABASE_URL ("" when tests run on SQLite).
func PostgresURL() string { return os.Getenv("TEST_DATABASE_URL") }

// NewStore returns a migrated, seeded database that belongs to this test alone:
// on PostgreSQL a CREATE DATABASE … TEMPLATE copy of a migrated template (dropped
// at cleanup); on SQLite a file in the test's temp dir.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	url := NewDatabaseURL(t)
	st, err := store.Open(url, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if url == "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := st.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if err := st.Seed(ctx); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	return st
}

// NewDatabaseURL creates a fresh migrated and seeded PostgreSQL database and
// returns its URL ("" without TEST_DATABASE_URL). It is dropped at cleanup.
func NewDatabaseURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	defer admin.Close()
	tpl, err := ensureTemplate(ctx, admin, base)
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	name := databaseName("hermez_t")
	if err := withLock(ctx, admin, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tpl))
		return err
	}); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dropAtCleanup(t, base, name)
	return withDatabase(base, name)
}

// EmptyDatabaseURL creates a truly empty PostgreSQL database (no template,
// no migration) named after prefix, for a test that migrates or restores it
// itself, and drops it at cleanup. It skips the test without TEST_DATABASE_URL.
func EmptyDatabaseURL(t testing.TB, prefix string) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		t.Skip("PostgreSQL: TEST_DATABASE_URL not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open admin connection: %v", err)
	}
	defer admin.Close()
	name := databaseName(prefix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	dropAtCleanup(t, base, name)
	return withDatabase(base, name)
}

// databaseName is prefix made unique across test processes and calls.
func databaseName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, dbCounter.Add(1))
}

// dropAtCleanup drops database name of base's server when the test ends
// (FORCE: a connection the test left open does not keep it).
func dropAtCleanup(t testing.TB, base, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
	})
}

// withLock runs fn holding a cluster-wide advisory lock, so parallel test
// packages create the template and clone it one at a time.
func withLock(ctx context.Context, admin *sql.DB, fn func(*sql.Conn) error) error {
	conn, err := admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(727274)`)
	return fn(conn)
}

// ensureTemplate creates (once per migration set) a migrated, seeded template.
func ensureTemplate(ctx context.Context, admin *sql.DB, base string) (string, error) {
	h := sha256.New()
	fsys, err := db.Migrations(store.Postgres)
	if err != nil {
		return "", err
	}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(fsys, p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	fmt.Fprintf(h, "%v%v", db.Categories, db.VehicleTypes)
	tpl := "hermez_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	err = withLock(ctx, admin, func(conn *sql.Conn) error {
		var exists bool
		if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tpl).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		building := tpl + "_building"
		_, _ = conn.ExecContext(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building))
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
			return err
		}
		st, err := store.Open(withDatabase(base, building), "")
		if err != nil {
			return err
		}
		err = st.Migrate(ctx)
		if err == nil {
			err = st.Seed(ctx)
		}
		st.Close()
		if err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, tpl))
		return err
	})
	return tpl, err
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

// Dialect names the database the tests run on, for messages.
func Dialect() string {
	if PostgresURL() != "" {
		return store.Postgres
	}
	return store.SQLite
}

// IsPostgres tells whether tests run on PostgreSQL.
func IsPostgres() bool { return strings.TrimSpace(PostgresURL()) != "" }
