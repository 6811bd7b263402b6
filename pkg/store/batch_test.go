package store_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// batchStores is one migrated database per dialect reached every way web may
// reach it: on PostgreSQL pgx's default mode (statements prepared and
// cached), exec (DATABASE_POOLER=transaction), simple_protocol, and through
// the transaction-mode PgBouncer of TEST_PGBOUNCER_URL when set.
func batchStores(t *testing.T) map[string]*store.Store {
	t.Helper()
	out := map[string]*store.Store{}
	sq, err := store.Open("", filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	out["sqlite"] = sq
	if testutil.PostgresURL() == "" {
		return out
	}
	u := emptyPostgresURL(t)
	open := func(name, dsn string, o store.Options) {
		st, err := store.OpenWith(dsn, "", o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { st.Close() })
		out[name] = st
	}
	open("postgres", u, store.Options{})
	for _, mode := range []string{"exec", "simple_protocol"} {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		q := p.Query()
		q.Set("default_query_exec_mode", mode)
		p.RawQuery = q.Encode()
		open("postgres-"+mode, p.String(), store.Options{TransactionPooler: true})
	}
	if pooled := testutil.Pooled(u); pooled != "" {
		open("pgbouncer-transaction", pooled, store.Options{TransactionPooler: true})
	}
	return out
}

// A store.Batch writes what the fixed inserts write, as one transaction: all
// its rows or none (a refused last statement leaves no quote behind), the
// outbox id comes back, refused keys are told apart as the inserts' are,
// and the connection serves the next batch after a failure.
func TestWriteBatchIsOneTransaction(t *testing.T) {
	t.Parallel()
	stores := batchStores(t)
	ctx := testutil.Context(t)
	for _, name := range []string{"sqlite", "postgres"} {
		if st := stores[name]; st != nil {
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := st.Seed(ctx); err != nil {
				t.Fatal(err)
			}
			mkUser(t, st, "user_batch")
		}
	}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			cat := category(t, st, "Documentos")
			now := store.Now()
			mkQuote := func() store.Quote {
				return store.Quote{ID: uuid.New(), ClientID: "user_batch", PickupAddress: "Calle 1", DeliveryAddress: "Calle 2",
					CategoryID: cat.ID, Description: testutil.Ptr("Caja"), Observations: store.StringList{"Frágil"},
					EstimatedWeight: testutil.Ptr(decimal.RequireFromString("3.50")), ClientPrice: decimal.RequireFromString("12000.00"),
					PaymentMethod: "efectivo", Status: store.QuotePending, PickupLatitude: testutil.Ptr(7.119349), PickupLongitude: testutil.Ptr(-73.122742),
					Version: 1, CreatedAt: now, ExpiresAt: now.AddDate(0, 0, 1), HistoryID: uuid.New()}
			}
			history := func(q store.Quote) store.HistoryEvent {
				return store.HistoryEvent{ID: uuid.New(), HistoryID: q.HistoryID, EventType: store.HistoryQuoteCreated,
					Description: "creada", ChangedByID: testutil.Ptr("user_batch"), CreatedAt: now}
			}
			exists := func(q store.Quote) bool {
				var n int64
				if err := st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n > 0
			}
			for round := range 3 { // the same statements again: cached or not, on the same connections
				q := mkQuote()
				h := history(q)
				frames := `[{"group":"g","type":"t","payload":{"a":1}}]`
				row := store.OutboxEvent{CreatedAt: now, Frames: &frames, Heads: "quote:x 1 g\n"}
				var b store.Batch
				b.InsertQuote(st.Dialect, &q)
				b.InsertHistory(st.Dialect, h)
				b.InsertOutbox(st.Dialect, &row)
				if err := st.WriteBatch(ctx, &b); err != nil {
					t.Fatalf("round %d: write: %v", round, err)
				}
				var got store.Quote
				if err := st.DB.Take(&got, "id = ?", q.ID).Error; err != nil {
					t.Fatalf("round %d: quote: %v", round, err)
				}
				want := q
				want.CreatedAt, want.ExpiresAt = got.CreatedAt, got.ExpiresAt // the clock's precision
				if fa, fb := fmt.Sprintf("%+v", byValue(want)), fmt.Sprintf("%+v", byValue(got)); fa != fb {
					t.Errorf("round %d: quote read back differs:\nwrote %s\nread  %s", round, fa, fb)
				}
				var hn int64
				if err := st.DB.Model(&store.HistoryEvent{}).Where("id = ?", h.ID).Count(&hn).Error; err != nil || hn != 1 {
					t.Errorf("round %d: history row: %d %v", round, hn, err)
				}
				var o store.OutboxEvent
				if row.ID == 0 {
					t.Fatalf("round %d: outbox id not set", round)
				}
				if err := st.DB.Take(&o, "id = ?", row.ID).Error; err != nil || o.Frames == nil || *o.Frames != frames {
					t.Errorf("round %d: outbox row %d: %+v %v", round, row.ID, o, err)
				}

				// The last statement refused (a history id written twice):
				// nothing of the batch stays.
				q2 := mkQuote()
				h2 := history(q2)
				var bad store.Batch
				bad.InsertQuote(st.Dialect, &q2)
				bad.InsertHistory(st.Dialect, h2)
				bad.InsertHistory(st.Dialect, h2)
				err := st.WriteBatch(ctx, &bad)
				if !store.IsUniqueViolation(err) {
					t.Errorf("round %d: a history id twice: %v, want a unique violation", round, err)
				}
				if exists(q2) {
					t.Errorf("round %d: the refused batch's quote was committed", round)
				}

				// An unknown client: the foreign-key violation the catalog retry looks for.
				q3 := mkQuote()
				q3.ClientID = "user_nobody"
				var fk store.Batch
				fk.InsertQuote(st.Dialect, &q3)
				fk.InsertHistory(st.Dialect, history(q3))
				if err := st.WriteBatch(ctx, &fk); !store.IsForeignKeyViolation(err) {
					t.Errorf("round %d: an unknown client: %v, want a foreign-key violation", round, err)
				}
				if exists(q3) {
					t.Errorf("round %d: the refused quote was committed", round)
				}
			}
		})
	}
}
