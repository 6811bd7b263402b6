package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The fixed-SQL reads (LockQuote, QuoteOffers) load what GORM's joins load,
// field by field (as JSON of the models), on both dialects: users with and
// without a current vehicle, every nullable column set and unset, a quote
// with and without a vehicle type, offers with and without a vehicle. A
// column added to a model and not to the fixed SQL fails here.
func TestFastLoads(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		ctx := testutil.Context(t)
		var moto store.VehicleType
		if err := st.DB.Where("name = ?", "Moto").Take(&moto).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Model(&moto).Updates(map[string]any{"image": "moto.png", "description": "Dos ruedas"}).Error; err != nil {
			t.Fatal(err)
		}
		cat := category(t, st, "Documentos")
		now := store.Now()
		full := store.User{UserID: "user_fl_full", Username: testutil.Ptr("full"), FirstName: testutil.Ptr("Ana"), LastName: testutil.Ptr("Ruiz"),
			Email: testutil.Ptr("ana@example.com"), ImageURL: testutil.Ptr("https://x/a.png"), Gender: testutil.Ptr("female"),
			Phone: testutil.Ptr("3001234567"), Age: testutil.Ptr(31), Role: testutil.Ptr("delivery"), IsOnline: true, IsAvailable: true,
			IsStaff: true, DeletedAt: &now, SuspendedAt: &now, SuspensionReason: testutil.Ptr("x"), ClerkUpdatedAt: &now,
			CreatedAt: now, UpdatedAt: now}
		for _, u := range []store.User{full, {UserID: "user_fl_bare", CreatedAt: now, UpdatedAt: now}, {UserID: "user_fl_d2", CreatedAt: now, UpdatedAt: now}} {
			if err := st.DB.Create(&u).Error; err != nil {
				t.Fatal(err)
			}
		}
		v := vehicle("user_fl_full", moto.ID, "FLA111", "VINFL000000000001")
		v.VerificationNotes, v.IsVerified = testutil.Ptr("ok"), true
		v2 := vehicle("user_fl_full", moto.ID, "FLA112", "VINFL000000000002")
		for _, x := range []*store.Vehicle{&v, &v2} {
			if err := st.DB.Omit("Type").Create(x).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := st.DB.Model(&store.User{}).Where("userid = ?", full.UserID).Update("current_vehicle_id", v.VehicleID).Error; err != nil {
			t.Fatal(err)
		}
		mkQuote := func(client string, vt *uuid.UUID) store.Quote {
			q := store.Quote{ID: uuid.New(), ClientID: client, PickupAddress: "Calle 1", DeliveryAddress: "Calle 2", CategoryID: cat.ID,
				Observations: store.StringList{}, VehicleTypeID: vt, ClientPrice: decimal.RequireFromString("12000"), PaymentMethod: "efectivo",
				Status: store.QuotePending, Version: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour), HistoryID: uuid.New()}
			if vt != nil {
				q.Description, q.EstimatedWeight, q.EstimatedSize = testutil.Ptr("Caja"), testutil.Ptr(decimal.RequireFromString("3.5")), testutil.Ptr("M")
				q.Observations, q.AutoAcceptLowest, q.AutoAcceptAt = store.StringList{"a"}, true, &now
				q.PickupLatitude, q.PickupLongitude, q.DeliveryLatitude, q.DeliveryLongitude = testutil.Ptr(7.1), testutil.Ptr(-73.1), testutil.Ptr(7.2), testutil.Ptr(-73.2)
			}
			if err := st.DB.Omit("Client", "Category", "VehicleType", "Offers").Create(&q).Error; err != nil {
				t.Fatal(err)
			}
			return q
		}
		q1, q2 := mkQuote("user_fl_full", &moto.ID), mkQuote("user_fl_bare", nil)
		for _, o := range []store.Offer{
			{ID: uuid.New(), DeliveryPersonID: "user_fl_full", QuoteID: q2.ID, ProposedPrice: decimal.RequireFromString("9000.5"),
				EstimatedDeliveryTime: testutil.Ptr(int64(6e8)), VehicleID: &v2.VehicleID, Status: store.OfferPending, Version: 2,
				CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)},
			{ID: uuid.New(), DeliveryPersonID: "user_fl_d2", QuoteID: q2.ID, ProposedPrice: decimal.RequireFromString("9100"),
				Status: store.OfferRejected, Version: 1, CreatedAt: now.Add(time.Second), UpdatedAt: now, ExpiresAt: now.Add(time.Hour)},
		} {
			if err := st.DB.Omit("Driver", "Quote", "Vehicle").Create(&o).Error; err != nil {
				t.Fatal(err)
			}
		}
		same := func(what string, a, b any) {
			t.Helper()
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Errorf("%s differs:\nGORM  %s\nfixed %s", what, ja, jb)
			}
		}
		err := st.Transaction(ctx, func(tx *gorm.DB) error {
			for _, c := range []struct {
				q      store.Quote
				client bool
				driver string
			}{{q1, true, "user_fl_full"}, {q2, true, "user_fl_bare"}, {q1, false, ""}, {q2, false, "user_fl_full"}} {
				var want store.Quote
				if err := store.JoinQuotes(tx).Where("delivery_quotes.id = ?", c.q.ID).Take(&want).Error; err != nil {
					return err
				}
				want.Category = &store.Category{ID: want.Category.ID, Name: want.Category.Name} // what a quote renders of them
				if want.VehicleType != nil {
					want.VehicleType = &store.VehicleType{ID: want.VehicleType.ID, Name: want.VehicleType.Name}
				}
				if !c.client {
					want.Client = nil
				}
				got, found, err := store.LockQuote(tx, store.ByQuote, c.q.ID, c.client, c.driver)
				if err != nil || !found {
					t.Fatalf("LockQuote %s: found %v, %v", c.q.ID, found, err)
				}
				same("quote "+c.q.ClientID, want, got.Quote)
				var vs []store.Vehicle
				if c.driver != "" {
					if err := store.JoinVehicles(tx).Where("vehicles.vehicle_id = (SELECT current_vehicle_id FROM users WHERE userid = ?)", c.driver).Find(&vs).Error; err != nil {
						return err
					}
				}
				var wantV *store.Vehicle
				if len(vs) > 0 {
					wantV = &vs[0]
				}
				same("current vehicle of "+c.driver, wantV, got.Vehicle)
			}
			var anOffer store.Offer
			if err := tx.Where("quote_id = ?", q2.ID).Take(&anOffer).Error; err != nil {
				return err
			}
			byOffer, found, err := store.LockQuote(tx, store.ByOffer, anOffer.ID, false, "")
			if err != nil || !found || byOffer.Quote.ID != q2.ID || byOffer.Quote.Client != nil || byOffer.Vehicle != nil {
				t.Errorf("LockQuote by offer %s: %+v, found %v, %v; want quote %s alone", anOffer.ID, byOffer, found, err, q2.ID)
			}
			if _, found, err := store.LockQuote(tx, store.ByOffer, uuid.New(), true, ""); err != nil || found {
				t.Errorf("LockQuote by no offer: found %v, %v", found, err)
			}
			if _, found, err := store.LockQuote(tx, store.ByQuote, uuid.New(), true, ""); err != nil || found {
				t.Errorf("LockQuote of no quote: found %v, %v", found, err)
			}
			for _, only := range []*uuid.UUID{nil, testutil.Ptr(uuid.New())} {
				var want []store.Offer
				load := store.JoinOffersNoQuote(tx).Where("delivery_offers.quote_id = ?", q2.ID)
				if only != nil {
					load = load.Where("delivery_offers.id = ?", *only)
				}
				if err := load.Order("delivery_offers.created_at").Order("delivery_offers.id").Find(&want).Error; err != nil {
					return err
				}
				got, err := store.QuoteOffers(tx, q2.ID, only)
				if err != nil {
					return err
				}
				if only == nil && len(want) != 2 {
					t.Fatalf("GORM loaded %d offers, want 2", len(want))
				}
				if len(want) == 0 && len(got) == 0 {
					continue
				}
				same("offers", want, got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
