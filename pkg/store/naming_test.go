package store

import (
	"fmt"
	"testing"

	"gorm.io/gorm/schema"
)

// The cached naming strategy answers what GORM's default one answers, from
// the cache on the second ask, and stops remembering past its bound.
func TestCachedNamingAnswersAsDefault(t *testing.T) {
	def := schema.NamingStrategy{IdentifierMaxLength: 64}
	n := newCachedNaming()
	for _, col := range []string{"Client__CurrentVehicle__type_id", "Driver__userid", "UserID", "HistoryID", "vehicle_id", "ID", ""} {
		want := def.ColumnName("delivery_quotes", col)
		for i := range 2 {
			if got := n.ColumnName("delivery_quotes", col); got != want {
				t.Errorf("ColumnName(%q) ask %d = %q, want %q", col, i+1, got, want)
			}
		}
	}
	for i := range namingCacheMax + 10 {
		col := fmt.Sprintf("Alias%d__SomeColumn", i)
		if got, want := n.ColumnName("t", col), def.ColumnName("t", col); got != want {
			t.Fatalf("ColumnName(%q) = %q, want %q", col, got, want)
		}
	}
	if len(n.names) != namingCacheMax {
		t.Errorf("%d names remembered, bound %d", len(n.names), namingCacheMax)
	}
}
