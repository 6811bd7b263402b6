package store_test

import (
	"sort"
	"strings"
	"testing"

	"gorm.io/gorm"

	"hermez/pkg/store"
)

// store.Models, which the store parses once when it opens (so no two first
// queries race inside GORM's schema cache), names a model for every table
// the migrations create, on both dialects: a new table whose model is left
// out of the list fails here.
func TestModelsCoverEveryTable(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		var tables []string
		q := "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
		if dialect == store.SQLite {
			q = "SELECT name FROM sqlite_master WHERE type = 'table'"
		}
		if err := st.DB.Raw(q).Scan(&tables).Error; err != nil {
			t.Fatalf("list tables: %v", err)
		}
		models := map[string]bool{}
		for _, m := range store.Models() {
			stmt := &gorm.Statement{DB: st.DB}
			if err := stmt.Parse(m); err != nil {
				t.Fatalf("parse %T: %v", m, err)
			}
			models[stmt.Schema.Table] = true
		}
		var missing []string
		for _, tb := range tables {
			if strings.HasPrefix(tb, "goose_") || strings.HasPrefix(tb, "sqlite_") {
				continue
			}
			if !models[tb] {
				missing = append(missing, tb)
			}
			delete(models, tb)
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("tables without a model in store.Models: %v", missing)
		}
		if len(models) > 0 {
			t.Errorf("models without a table: %v", models)
		}
		if len(tables) < 10 {
			t.Errorf("only %d tables listed: %v", len(tables), tables)
		}
	})
}
