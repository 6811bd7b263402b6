package store_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The fixed inserts (InsertQuote, InsertHistory, InsertOutbox) store what
// GORM's Create stored: the same values written both ways read back equal,
// field by field, on both dialects, NULLs included; the ids come back; a
// foreign key refused is still told apart (IsForeignKeyViolation drives the
// catalog retry of market.changeWithRefs).
func TestInsertsStoreWhatCreateStored(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		mkUser(t, st, "user_insert")
		cat := category(t, st, "Documentos")
		var vt store.VehicleType
		if err := st.DB.Take(&vt).Error; err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		at := now.Add(90 * time.Second)
		full := func() store.Quote {
			return store.Quote{ID: uuid.New(), ClientID: "user_insert", PickupAddress: "Calle 1", DeliveryAddress: "Calle 2",
				CategoryID: cat.ID, Description: testutil.Ptr("Caja"), Observations: store.StringList{"Frágil", `comillas "y" \`},
				VehicleTypeID: &vt.ID, EstimatedWeight: testutil.Ptr(decimal.RequireFromString("3.50")),
				EstimatedSize: testutil.Ptr("Mediano"), ClientPrice: decimal.RequireFromString("12000.00"),
				PaymentMethod: "efectivo", Status: store.QuotePending,
				PickupLatitude: testutil.Ptr(7.119349), PickupLongitude: testutil.Ptr(-73.122742),
				DeliveryLatitude: testutil.Ptr(7.1), DeliveryLongitude: testutil.Ptr(-73.1),
				AutoAcceptLowest: true, AutoAcceptAt: &at, Version: 3, CreatedAt: now, ExpiresAt: now.Add(time.Hour), HistoryID: uuid.New()}
		}
		bare := func() store.Quote {
			return store.Quote{ID: uuid.New(), ClientID: "user_insert", PickupAddress: "Calle 1", DeliveryAddress: "Calle 2",
				CategoryID: cat.ID, Observations: store.StringList{}, ClientPrice: decimal.RequireFromString("1"),
				PaymentMethod: "efectivo", Status: store.QuotePending, Version: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour), HistoryID: uuid.New()}
		}
		for name, mk := range map[string]func() store.Quote{"full": full, "nulls": bare} {
			byCreate, byInsert := mk(), mk()
			byInsert.ID, byInsert.HistoryID = uuid.New(), uuid.New()
			hCreate := []store.HistoryEvent{
				{ID: uuid.New(), HistoryID: byCreate.HistoryID, EventType: store.HistoryQuoteCreated, Description: "uno", ChangedByID: testutil.Ptr("user_insert"), CreatedAt: now},
				{ID: uuid.New(), HistoryID: byCreate.HistoryID, EventType: store.HistoryQuoteCreated, Description: "dos", CreatedAt: now},
			}
			hInsert := []store.HistoryEvent{hCreate[0], hCreate[1]}
			for i := range hInsert {
				hInsert[i].ID, hInsert[i].HistoryID = uuid.New(), byInsert.HistoryID
			}
			frames := `[{"group":"g","type":"t","payload":{"a":1}}]`
			oCreate := store.OutboxEvent{CreatedAt: now, Frames: &frames, Heads: "quote:x 1 g\n"}
			oInsert := oCreate
			single := store.OutboxEvent{GroupName: "g", EventType: "t", Payload: `{"a":1}`, CreatedAt: now, Resource: "quote:x", Version: 2, Final: true}
			singleInsert := single
			err := st.Transaction(testutil.Context(t), func(tx *gorm.DB) error {
				if err := tx.Omit(clause.Associations).Create(&byCreate).Error; err != nil {
					return err
				}
				if err := store.InsertQuote(tx, &byInsert); err != nil {
					return err
				}
				if err := tx.Omit(clause.Associations).Create(&hCreate).Error; err != nil {
					return err
				}
				if err := store.InsertHistory(tx, hInsert...); err != nil {
					return err
				}
				for _, o := range []*store.OutboxEvent{&oCreate, &single} {
					if err := tx.Create(o).Error; err != nil {
						return err
					}
				}
				for _, o := range []*store.OutboxEvent{&oInsert, &singleInsert} {
					if err := store.InsertOutbox(tx, o); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: write: %v", name, err)
			}
			var a, b store.Quote
			if err := st.DB.Take(&a, "id = ?", byCreate.ID).Error; err != nil {
				t.Fatal(err)
			}
			if err := st.DB.Take(&b, "id = ?", byInsert.ID).Error; err != nil {
				t.Fatal(err)
			}
			b.ID, b.HistoryID = a.ID, a.HistoryID
			if fa, fb := fmt.Sprintf("%+v", byValue(a)), fmt.Sprintf("%+v", byValue(b)); fa != fb {
				t.Errorf("%s: quote read back differs:\nCreate %s\nInsert %s", name, fa, fb)
			}
			for i := range hCreate {
				var ha, hb store.HistoryEvent
				if err := st.DB.Take(&ha, "id = ?", hCreate[i].ID).Error; err != nil {
					t.Fatal(err)
				}
				if err := st.DB.Take(&hb, "id = ?", hInsert[i].ID).Error; err != nil {
					t.Fatal(err)
				}
				hb.ID, hb.HistoryID = ha.ID, ha.HistoryID
				if fa, fb := fmt.Sprintf("%+v", byValue(ha)), fmt.Sprintf("%+v", byValue(hb)); fa != fb {
					t.Errorf("%s: history row %d read back differs:\nCreate %s\nInsert %s", name, i, fa, fb)
				}
			}
			for _, pair := range [][2]store.OutboxEvent{{oCreate, oInsert}, {single, singleInsert}} {
				if pair[1].ID == 0 || pair[1].ID == pair[0].ID {
					t.Fatalf("%s: InsertOutbox set id %d (Create's row: %d)", name, pair[1].ID, pair[0].ID)
				}
				var oa, ob store.OutboxEvent
				if err := st.DB.Take(&oa, "id = ?", pair[0].ID).Error; err != nil {
					t.Fatal(err)
				}
				if err := st.DB.Take(&ob, "id = ?", pair[1].ID).Error; err != nil {
					t.Fatal(err)
				}
				ob.ID = oa.ID
				if fa, fb := fmt.Sprintf("%+v", byValue(oa)), fmt.Sprintf("%+v", byValue(ob)); fa != fb {
					t.Errorf("%s: outbox row read back differs:\nCreate %s\nInsert %s", name, fa, fb)
				}
			}
		}

		// A client that does not exist: the foreign key refuses it, and the
		// error is the one IsForeignKeyViolation recognizes.
		err := st.Transaction(testutil.Context(t), func(tx *gorm.DB) error {
			q := bare()
			q.ClientID = "user_nobody"
			return store.InsertQuote(tx, &q)
		})
		if !store.IsForeignKeyViolation(err) {
			t.Errorf("a quote of an unknown client: %v, want a foreign-key violation", err)
		}
	})
}

// byValue renders a row's pointer fields by value, so two rows compare by
// what they hold.
func byValue(v any) map[string]any {
	out := map[string]any{}
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		f := rv.Field(i)
		if !rv.Type().Field(i).IsExported() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				out[rv.Type().Field(i).Name] = nil
				continue
			}
			f = f.Elem()
		}
		out[rv.Type().Field(i).Name] = fmt.Sprint(f.Interface())
	}
	return out
}
