package store_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// InsertOfferWithHistory and AcceptWrites store what GORM's Create (and
// Delete) stored, on both dialects: an offer read back equals one Created
// with the same values; a second offer of the same driver on the same quote
// is not written and neither is its history row (the history insert depends
// on the offer's); the accept's delivery reads back as a Created one, its
// history row is there, its quote and the quote's offers are gone; a foreign
// key refused is still told apart.
func TestOfferAndAcceptWrites(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		for _, u := range []string{"user_oa_client", "user_oa_d1", "user_oa_d2"} {
			mkUser(t, st, u)
		}
		cat := category(t, st, "Documentos")
		var vt store.VehicleType
		if err := st.DB.Take(&vt).Error; err != nil {
			t.Fatal(err)
		}
		v := vehicle("user_oa_d1", vt.ID, "OAA111", "VINOA000000000001")
		if err := st.DB.Omit("Type").Create(&v).Error; err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		q := store.Quote{ID: uuid.New(), ClientID: "user_oa_client", PickupAddress: "Calle 1", DeliveryAddress: "Calle 2",
			CategoryID: cat.ID, Observations: store.StringList{"Frágil"}, ClientPrice: decimal.RequireFromString("12000"),
			PaymentMethod: "efectivo", Status: store.QuotePending, Version: 1, CreatedAt: now, ExpiresAt: now.Add(3600e9), HistoryID: uuid.New()}
		mkOffer := func(driver string, vid *uuid.UUID) store.Offer {
			return store.Offer{ID: uuid.New(), DeliveryPersonID: driver, QuoteID: q.ID, ProposedPrice: decimal.RequireFromString("13500.50"),
				EstimatedDeliveryTime: testutil.Ptr(int64(1200e6)), VehicleID: vid, Status: store.OfferPending, Version: 1,
				CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(600e9)}
		}
		hist := func(desc string) store.HistoryEvent {
			return store.HistoryEvent{ID: uuid.New(), HistoryID: q.HistoryID, EventType: store.HistoryOfferMade, Description: desc,
				ChangedByID: testutil.Ptr("user_oa_d1"), CreatedAt: now}
		}
		ctx := testutil.Context(t)
		byInsert, byCreate := mkOffer("user_oa_d1", &v.VehicleID), mkOffer("user_oa_d2", &v.VehicleID)
		again := mkOffer("user_oa_d1", nil)
		h1, h2 := hist("primera"), hist("segunda")
		err := st.Transaction(ctx, func(tx *gorm.DB) error {
			if err := store.InsertQuote(tx, &q); err != nil {
				return err
			}
			if ok, err := store.InsertOfferWithHistory(tx, &byInsert, h1); err != nil || !ok {
				return fmt.Errorf("first offer: inserted %v, %v", ok, err)
			}
			if ok, err := store.InsertOfferWithHistory(tx, &again, h2); err != nil || ok {
				return fmt.Errorf("second offer of the same driver: inserted %v, %v", ok, err)
			}
			return tx.Omit(clause.Associations).Create(&byCreate).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		var a, b store.Offer
		if err := st.DB.Take(&a, "id = ?", byCreate.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Take(&b, "id = ?", byInsert.ID).Error; err != nil {
			t.Fatal(err)
		}
		b.ID, b.DeliveryPersonID = a.ID, a.DeliveryPersonID
		if fa, fb := fmt.Sprintf("%+v", byValue(a)), fmt.Sprintf("%+v", byValue(b)); fa != fb {
			t.Errorf("offer read back differs:\nCreate %s\nInsert %s", fa, fb)
		}
		var n int64
		if err := st.DB.Model(&store.Offer{}).Where("id = ?", again.ID).Count(&n).Error; err != nil || n != 0 {
			t.Errorf("the refused offer was written (%d rows, %v)", n, err)
		}
		var hs []store.HistoryEvent
		if err := st.DB.Where("history_id = ?", q.HistoryID).Find(&hs).Error; err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0].ID != h1.ID || hs[0].Description != "primera" || hs[0].ChangedByID == nil {
			t.Errorf("history after an offer written and one refused: %+v, want only %s", hs, h1.ID)
		}

		// The accept.
		mkDelivery := func() store.Delivery {
			return store.Delivery{ID: uuid.New(), Version: 1, ClientID: q.ClientID, DeliveryPersonID: testutil.Ptr("user_oa_d1"),
				PickupAddress: q.PickupAddress, DeliveryAddress: q.DeliveryAddress, CategoryID: q.CategoryID,
				Description: testutil.Ptr("Caja"), Observations: store.StringList{"Frágil"}, EstimatedWeight: testutil.Ptr(decimal.RequireFromString("3.5")),
				PaymentMethod: "nequi", FinalPrice: byInsert.ProposedPrice, VehicleID: &v.VehicleID, VehicleTypeID: &vt.ID,
				VehicleTypeName: &vt.Name, Status: store.DeliveryAssigned, CreatedAt: now, UpdatedAt: now, HistoryID: q.HistoryID,
				PickupLatitude: testutil.Ptr(7.1), PickupLongitude: testutil.Ptr(-73.1)}
		}
		dInsert, dCreate := mkDelivery(), mkDelivery()
		dCreate.HistoryID = uuid.New()
		ha := hist("aceptada")
		ha.EventType = store.HistoryOfferAccepted
		err = st.Transaction(ctx, func(tx *gorm.DB) error {
			if err := store.AcceptWrites(tx, &dInsert, ha, q.ID); err != nil {
				return err
			}
			return tx.Omit(clause.Associations).Create(&dCreate).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		var da, db store.Delivery
		if err := st.DB.Take(&da, "id = ?", dCreate.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Take(&db, "id = ?", dInsert.ID).Error; err != nil {
			t.Fatal(err)
		}
		db.ID, db.HistoryID = da.ID, da.HistoryID
		if fa, fb := fmt.Sprintf("%+v", byValue(da)), fmt.Sprintf("%+v", byValue(db)); fa != fb {
			t.Errorf("delivery read back differs:\nCreate %s\nInsert %s", fa, fb)
		}
		var hist2 store.HistoryEvent
		if err := st.DB.Take(&hist2, "id = ?", ha.ID).Error; err != nil || hist2.EventType != store.HistoryOfferAccepted || hist2.Description != "aceptada" {
			t.Errorf("accept history row: %+v, %v", hist2, err)
		}
		var left int64
		if err := st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Count(&left).Error; err != nil || left != 0 {
			t.Errorf("the quote is still there (%d, %v)", left, err)
		}
		if err := st.DB.Model(&store.Offer{}).Where("quote_id = ?", q.ID).Count(&left).Error; err != nil || left != 0 {
			t.Errorf("the quote's offers are still there (%d, %v)", left, err)
		}

		// A delivery of a client that does not exist: refused by the foreign key, told apart.
		err = st.Transaction(ctx, func(tx *gorm.DB) error {
			d := mkDelivery()
			d.ClientID, d.HistoryID = "user_nobody", uuid.New()
			return store.AcceptWrites(tx, &d, hist("x"), uuid.New())
		})
		if !store.IsForeignKeyViolation(err) {
			t.Errorf("a delivery of an unknown client: %v, want a foreign-key violation", err)
		}
	})
}
