package ws_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"hermez/pkg/market"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The snapshots read a constant number of queries whatever the row count (no N+1).
func TestSnapshotQueriesDoNotGrowWithRows(t *testing.T) {
	st := testutil.NewStore(t)
	var queries atomic.Int64
	if err := st.DB.Callback().Query().After("gorm:query").Register("count_queries", func(*gorm.DB) { queries.Add(1) }); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, st)
	ctx := context.Background()
	run := func() map[string]int64 {
		out := map[string]int64{}
		for name, fn := range map[string]func() error{
			"new quotes":  func() error { _, err := market.SnapshotNewQuotes(ctx, st.DB, store.Now(), nil); return err },
			"user quotes": func() error { _, err := market.SnapshotUserQuotes(ctx, st.DB, f.Client, store.Now(), nil); return err },
			"client deliveries": func() error {
				_, err := market.SnapshotClientDeliveries(ctx, st.DB, f.Client, nil)
				return err
			},
			"driver offers": func() error {
				_, err := market.SnapshotDriverOffers(ctx, st.DB, f.Driver, store.Now(), nil)
				return err
			},
			"person stats": func() error { _, err := market.PersonStats(ctx, st.DB, f.Driver); return err },
		} {
			before := queries.Load()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = queries.Load() - before
		}
		return out
	}
	small := run()
	for i := range 5 {
		q := addQuote(t, st, f.Client, store.Now().Add(time.Duration(i+1)*time.Second))
		driver := "user_more_" + q.ID.String()[:8]
		addUser(t, st, driver)
		addOffer(t, st, q, driver)
		addOffer(t, st, q, f.Driver)
		addDelivery(t, st, f.Client, f.Driver, store.DeliveryAssigned, "1000")
		addDelivery(t, st, f.Client, f.Driver, store.DeliveryDelivered, "1000")
	}
	big := run()
	t.Logf("queries per snapshot: %v", big)
	for name, n := range small {
		if n == 0 {
			t.Fatalf("%s: no query counted", name)
		}
		if big[name] != n {
			t.Errorf("%s: %d queries with few rows, %d with more", name, n, big[name])
		}
	}
}
