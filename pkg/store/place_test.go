package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/geo"
	"hermez/pkg/store"
)

func fp(v float64) *float64 { return &v }

// Coordinates rounded to 6 decimals come back bit for bit on both dialects
// (numeric(9,6) on PostgreSQL, REAL on SQLite), and the CHECKs of migration
// 00006 refuse half a pair and a point out of range.
func TestCoordinatesRoundTripAndChecks(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		mkUser(t, st, "user_place")
		values := [][2]float64{
			{4.711, -74.0721},
			{geo.Round6(4.71098765432101), geo.Round6(-74.0721234567)},
			{90, 180},
			{-90, -180},
			{-0.000001, 0.000001},
			{0, 0},
			{12.345678, -123.456789},
		}
		for _, v := range values {
			a := store.Address{AddressID: uuid.New(), UserID: "user_place", Name: "Casa", Type: "casa",
				Address: "Calle 1", City: "Bogotá", Latitude: fp(v[0]), Longitude: fp(v[1])}
			if err := st.DB.Create(&a).Error; err != nil {
				t.Fatalf("address at %v: %v", v, err)
			}
			var got store.Address
			if err := st.DB.Take(&got, "address_id = ?", a.AddressID).Error; err != nil {
				t.Fatal(err)
			}
			if got.Latitude == nil || got.Longitude == nil || *got.Latitude != v[0] || *got.Longitude != v[1] {
				t.Errorf("%v stored, read back %v, %v", v, deref(got.Latitude), deref(got.Longitude))
			}
		}
		none := store.Address{AddressID: uuid.New(), UserID: "user_place", Name: "Sin", Type: "casa", Address: "x", City: "y"}
		if err := st.DB.Create(&none).Error; err != nil {
			t.Fatalf("address without coordinates: %v", err)
		}
		var got store.Address
		if err := st.DB.Take(&got, "address_id = ?", none.AddressID).Error; err != nil || got.Latitude != nil || got.Longitude != nil {
			t.Fatalf("address without coordinates read back %v/%v (%v)", got.Latitude, got.Longitude, err)
		}

		bad := []struct {
			name     string
			lat, lng *float64
		}{
			{"latitude alone", fp(4.7), nil},
			{"longitude alone", nil, fp(-74)},
			{"latitude over 90", fp(90.000001), fp(0)},
			{"longitude under -180", fp(0), fp(-180.5)},
		}
		for _, b := range bad {
			a := store.Address{AddressID: uuid.New(), UserID: "user_place", Name: "Mal", Type: "casa", Address: "x", City: "y",
				Latitude: b.lat, Longitude: b.lng}
			if err := st.DB.Create(&a).Error; err == nil {
				t.Errorf("%s: stored", b.name)
			}
		}

		// Quotes and deliveries: each pair checked on its own.
		cat := category(t, st, "Documentos")
		now := store.Now()
		q := store.Quote{ID: uuid.New(), ClientID: "user_place", PickupAddress: "A", DeliveryAddress: "B",
			CategoryID: cat.ID, ClientPrice: decimal.NewFromInt(10000), PaymentMethod: "efectivo", Status: store.QuotePending,
			CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), HistoryID: uuid.New(),
			DeliveryLatitude: fp(4.6), DeliveryLongitude: fp(-74.1)}
		if err := st.DB.Create(&q).Error; err != nil {
			t.Fatalf("quote with its delivery pair only: %v", err)
		}
		var gq store.Quote
		if err := st.DB.Take(&gq, "id = ?", q.ID).Error; err != nil {
			t.Fatal(err)
		}
		if gq.PickupLatitude != nil || gq.PickupLongitude != nil || deref(gq.DeliveryLatitude) != 4.6 || deref(gq.DeliveryLongitude) != -74.1 {
			t.Errorf("quote read back pickup %v/%v delivery %v/%v", gq.PickupLatitude, gq.PickupLongitude, deref(gq.DeliveryLatitude), deref(gq.DeliveryLongitude))
		}
		q2 := q
		q2.ID, q2.HistoryID, q2.PickupLatitude = uuid.New(), uuid.New(), fp(4.7)
		if err := st.DB.Create(&q2).Error; err == nil {
			t.Error("quote with a lone pickup_latitude stored")
		}
		d := store.Delivery{ID: uuid.New(), ClientID: "user_place", PickupAddress: "A", DeliveryAddress: "B",
			CategoryID: cat.ID, PaymentMethod: "efectivo", FinalPrice: decimal.NewFromInt(9000), Status: store.DeliveryAssigned,
			CreatedAt: now, UpdatedAt: now, HistoryID: uuid.New(), DeliveryLongitude: fp(-74.1)}
		if err := st.DB.Create(&d).Error; err == nil {
			t.Error("delivery with a lone delivery_longitude stored")
		}
	})
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
