package store_test

import (
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func TestPoolerDSN(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "postgres://u:p@db:6432/hermez?sslmode=require", want: "default_query_exec_mode=exec"},
		{in: "postgresql://db/hermez", want: "default_query_exec_mode=exec"},
		{in: "postgres://db/hermez?default_query_exec_mode=simple_protocol", want: "default_query_exec_mode=simple_protocol"},
		{in: "postgres://db/hermez?default_query_exec_mode=exec", want: "default_query_exec_mode=exec"},
		{in: "postgres://db/hermez?default_query_exec_mode=cache_statement", err: "cache_statement"},
		{in: "postgres://db/hermez?default_query_exec_mode=describe_exec", err: "describe_exec"},
		{in: "host=db dbname=hermez", err: "postgres://"},
	} {
		got, err := store.PoolerDSN(c.in)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %q %v, want an error naming %s", c.in, got, err, c.err)
			}
		case err != nil || !strings.Contains(got, c.want) || strings.Count(got, "default_query_exec_mode") != 1:
			t.Errorf("%s: %q %v, want %s", c.in, got, err, c.want)
		case strings.Contains(c.in, "sslmode=require") && !strings.Contains(got, "sslmode=require"):
			t.Errorf("%s: parameters lost: %q", c.in, got)
		}
	}
}

// pooledEmpty is an empty database reached through the transaction-mode
// PgBouncer of TEST_PGBOUNCER_URL (skips without it).
func pooledEmpty(t *testing.T) string {
	t.Helper()
	if testutil.PgBouncerURL() == "" {
		t.Skip("needs TEST_PGBOUNCER_URL (a PgBouncer in transaction mode; .ci/run starts one)")
	}
	return testutil.Pooled(emptyPostgresURL(t))
}

// Three instances migrating one empty database at once through PgBouncer in
// transaction mode (goose's lease row, not a session lock, and no prepared
// statement), then many concurrent queries of several shapes through it.
func TestMigrateAndQueryThroughTransactionPooler(t *testing.T) {
	t.Parallel()
	u := pooledEmpty(t)
	const n = 3
	stores := migrateAtOnce(t, n, func() (*store.Store, error) {
		return store.OpenWith(u, "", store.Options{TransactionPooler: true})
	})
	ctx := testutil.Context(t)
	if err := stores[0].Seed(ctx); err != nil {
		t.Fatalf("seed through the pooler: %v", err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
	)
	for g := range 8 {
		st := stores[g%n]
		wg.Go(func() {
			for i := range 50 {
				var err error
				switch i % 3 {
				case 0:
					var cats []store.Category
					err = st.DB.WithContext(ctx).Where("is_active = ?", true).Find(&cats).Error
				case 1:
					var c int64
					err = st.DB.WithContext(ctx).Model(&store.User{}).Where("userid IN ?", []string{"a", "b"}).Count(&c).Error
				default:
					err = st.Transaction(ctx, func(tx *gorm.DB) error {
						return tx.Exec("UPDATE delivery_categories SET updated_at = updated_at WHERE name = ?", "none").Error
					})
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of 400 queries failed through the pooler, first: %v", len(failures), failures[0])
	}
}
