package store

import (
	"slices"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// The fixed inserts name every column of their model (the outbox's id
// aside: the database numbers it), so a column added to a model and not to
// its insert fails here instead of being left out of every new row.
func TestInsertColumnsAreTheModels(t *testing.T) {
	for _, c := range []struct {
		model any
		cols  []string
	}{
		{&Quote{}, quoteCols},
		{&HistoryEvent{}, historyCols},
		{&OutboxEvent{}, append([]string{"id"}, outboxCols...)},
	} {
		s, err := schema.Parse(c.model, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		want, got := slices.Sorted(slices.Values(s.DBNames)), slices.Sorted(slices.Values(c.cols))
		if !slices.Equal(want, got) {
			t.Errorf("%s: the insert writes %v, the model has %v", s.Table, got, want)
		}
	}
}
