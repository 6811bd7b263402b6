package market_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"hermez/pkg/store"
)

// countSelects counts the statements run on st that read from categories or
// vehicle types (the catalog's reloads included; a user's joined vehicle type
// is not such a read).
func countSelects(t *testing.T, st *store.Store) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	count := func(tx *gorm.DB) {
		sql := tx.Statement.SQL.String()
		if strings.Contains(sql, "FROM delivery_categories") || strings.Contains(sql, "FROM vehicle_types") ||
			strings.Contains(sql, `FROM "delivery_categories"`) || strings.Contains(sql, `FROM "vehicle_types"`) {
			n.Add(1)
		}
	}
	if err := st.DB.Callback().Raw().After("gorm:raw").Register("test:refs", count); err != nil {
		t.Fatal(err)
	}
	if err := st.DB.Callback().Query().After("gorm:query").Register("test:refs", count); err != nil {
		t.Fatal(err)
	}
	return &n
}

// A quote naming a known category is checked against the store's catalog:
// after the first quote, no statement reads categories.
func TestQuoteReferencesFromTheCatalog(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	reads := countSelects(t, f.st)
	ctx := context.Background()
	if _, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID)); err != nil {
		t.Fatal(err)
	}
	first := reads.Load()
	for range 3 {
		if _, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if got := reads.Load() - first; got != 0 {
		t.Fatalf("3 more quotes read categories %d times, want 0 (the catalog holds them)", got)
	}
	// A category the catalog does not hold (created behind its back, as by
	// another process) is looked up in the database.
	fresh := store.Category{ID: uuid.New(), Name: "Zz recién creada", IsActive: true, CreatedAt: f.st.Now(), UpdatedAt: f.st.Now()}
	if err := f.st.DB.Create(&fresh).Error; err != nil {
		t.Fatal(err)
	}
	q, err := f.svc.CreateQuote(ctx, f.client, validQuote(fresh.ID))
	if err != nil || q.CategoryID != fresh.ID || q.Category == nil || q.Category.Name != fresh.Name {
		t.Fatalf("quote on a category the catalog did not hold: %+v, %v", q, err)
	}
}

// A category another process deactivated is still accepted within the
// catalog's TTL; a write of this process drops the catalog at once.
func TestCatalogDroppedByThisProcessWrites(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID)); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DB.Model(&store.Category{}).Where("id = ?", f.cat.ID).Update("is_active", false).Error; err != nil {
		t.Fatal(err)
	}
	f.svc.CategoriesChanged() // what the console's and the API's category writes call
	_, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID))
	if got := fieldsOf(err)["category_id"]; len(got) != 1 || !strings.Contains(got[0], f.cat.ID.String()) {
		t.Fatalf("quote on a deactivated category: %v", err)
	}
}

// A category deleted by another process while this one's catalog still
// holds it: the insert is refused by the foreign key, the catalog is dropped
// and the change runs again against the database, which answers the 400 a
// missing category gets (never a 500).
func TestQuoteOnACategoryDeletedBehindTheCatalog(t *testing.T) {
	t.Parallel()
	f := newMarketFixture(t)
	ctx := context.Background()
	gone := store.Category{ID: uuid.New(), Name: "Aa efímera", IsActive: true, CreatedAt: f.st.Now(), UpdatedAt: f.st.Now()}
	if err := f.st.DB.Create(&gone).Error; err != nil {
		t.Fatal(err)
	}
	f.svc.CategoriesChanged()
	if _, err := f.svc.CreateQuote(ctx, f.client, validQuote(f.cat.ID)); err != nil { // loads the catalog
		t.Fatal(err)
	}
	if err := f.st.DB.Delete(&store.Category{}, "id = ?", gone.ID).Error; err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.CreateQuote(ctx, f.client, validQuote(gone.ID))
	want := `Clave primaria "` + gone.ID.String() + `" inválida - objeto no existe.`
	if got := fieldsOf(err)["category_id"]; len(got) != 1 || got[0] != want {
		t.Fatalf("quote on a category deleted behind the catalog: %v", err)
	}
	var n int64
	f.st.DB.Model(&store.Quote{}).Where("category_id = ?", gone.ID).Count(&n)
	if n != 0 {
		t.Fatalf("%d quotes written on the deleted category", n)
	}
}
