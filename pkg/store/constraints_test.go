package store_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"hermez/db"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// migrated is a migrated and seeded database of the dialect: SQLite in a temp
// file, PostgreSQL a clone of the migrated template.
func migrated(t *testing.T, dialect string) *store.Store {
	t.Helper()
	st := openEmpty(t, dialect)
	ctx := testutil.Context(t)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func mkUser(t *testing.T, st *store.Store, id string) store.User {
	t.Helper()
	now := store.Now()
	u := store.User{UserID: id, CreatedAt: now, UpdatedAt: now}
	if err := st.DB.Create(&u).Error; err != nil {
		t.Fatalf("create user %s: %v", id, err)
	}
	return u
}

func category(t *testing.T, st *store.Store, name string) store.Category {
	t.Helper()
	var c store.Category
	if err := st.DB.Where("name = ?", name).Take(&c).Error; err != nil {
		t.Fatalf("category %s: %v", name, err)
	}
	return c
}

func vehicle(userID string, typeID uuid.UUID, plate, vin string) store.Vehicle {
	now := store.Now()
	return store.Vehicle{VehicleID: uuid.New(), UserID: userID, TypeID: typeID, Brand: "Yamaha", Model: "NMAX",
		Year: 2022, LicensePlate: plate, VIN: vin, Color: "Rojo",
		DriverLicenseStatus: "pending", RegistrationCardStatus: "pending", InsurancePolicyStatus: "pending",
		CriminalRecordStatus: "pending", CreatedAt: now, UpdatedAt: now}
}

func TestUniqueConstraints(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		mkUser(t, st, "user_plate")
		var moto store.VehicleType
		if err := st.DB.Where("name = ?", "Moto").Take(&moto).Error; err != nil {
			t.Fatal(err)
		}
		v1 := vehicle("user_plate", moto.ID, "ABC123", "VIN00000000000001")
		if err := st.DB.Create(&v1).Error; err != nil {
			t.Fatalf("first vehicle: %v", err)
		}
		dupPlate := vehicle("user_plate", moto.ID, "ABC123", "VIN00000000000002")
		err := st.DB.Create(&dupPlate).Error
		if !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate license_plate: want unique violation, got %v", err)
		}
		dupVIN := vehicle("user_plate", moto.ID, "XYZ999", "VIN00000000000001")
		if err := st.DB.Create(&dupVIN).Error; !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate vin: want unique violation, got %v", err)
		}
		var n int64
		st.DB.Model(&store.Vehicle{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d vehicles after refused duplicates, want 1", n)
		}
		dupCat := store.Category{ID: uuid.New(), Name: "Paquetes", Description: "x", IsActive: true, CreatedAt: store.Now(), UpdatedAt: store.Now()}
		if err := st.DB.Create(&dupCat).Error; !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate category name: want unique violation, got %v", err)
		}
	})
}

func TestForeignKeys(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		mkUser(t, st, "user_fk")
		cat := category(t, st, "Documentos")
		now := store.Now()
		q := store.Quote{ID: uuid.New(), ClientID: "user_fk", PickupAddress: "A", DeliveryAddress: "B",
			CategoryID: cat.ID, ClientPrice: decimal.RequireFromString("5000.00"), PaymentMethod: "efectivo",
			Status: store.QuotePending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), HistoryID: uuid.New()}
		if err := st.DB.Create(&q).Error; err != nil {
			t.Fatalf("create quote: %v", err)
		}

		// RESTRICT: a category referenced by a quote cannot be deleted.
		err := st.DB.Delete(&store.Category{}, "id = ?", cat.ID).Error
		if !store.IsForeignKeyViolation(err) {
			t.Fatalf("delete referenced category: want FK violation, got %v", err)
		}
		category(t, st, "Documentos") // still there

		// RESTRICT: a client with a quote cannot be deleted.
		if err := st.DB.Delete(&store.User{}, "userid = ?", "user_fk").Error; !store.IsForeignKeyViolation(err) {
			t.Fatalf("delete user with a quote: want FK violation, got %v", err)
		}

		// An unknown category is refused on insert.
		bad := q
		bad.ID, bad.HistoryID, bad.CategoryID = uuid.New(), uuid.New(), uuid.New()
		if err := st.DB.Create(&bad).Error; !store.IsForeignKeyViolation(err) {
			t.Fatalf("quote with unknown category: want FK violation, got %v", err)
		}

		// CASCADE: deleting a user deletes their addresses.
		mkUser(t, st, "user_addr")
		for i := range 2 {
			a := store.Address{AddressID: uuid.New(), UserID: "user_addr", Name: fmt.Sprint("Casa ", i), Description: "d",
				Type: "casa", Address: "Calle 1", City: "Bogotá"}
			if err := st.DB.Create(&a).Error; err != nil {
				t.Fatalf("create address: %v", err)
			}
		}
		if err := st.DB.Delete(&store.User{}, "userid = ?", "user_addr").Error; err != nil {
			t.Fatalf("delete user with addresses: %v", err)
		}
		var n int64
		st.DB.Model(&store.Address{}).Where("user_id = ?", "user_addr").Count(&n)
		if n != 0 {
			t.Fatalf("%d addresses left after deleting their user", n)
		}

		// SET NULL: deleting a vehicle type clears the quote's requested type.
		vt := store.VehicleType{ID: uuid.New(), Name: "Bicicleta", Description: "b", MaxWeightCapacityKg: decimal.NewFromInt(10),
			MaxVolumeCapacityLiters: decimal.NewFromInt(20), PassengerCapacity: 0, IsActive: true, CreatedAt: now, UpdatedAt: now}
		if err := st.DB.Omit("Categories").Create(&vt).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Model(&store.Quote{}).Where("id = ?", q.ID).Update("vehicle_type_id", vt.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Delete(&store.VehicleType{}, "id = ?", vt.ID).Error; err != nil {
			t.Fatalf("delete vehicle type referenced with SET NULL: %v", err)
		}
		var got store.Quote
		if err := st.DB.Take(&got, "id = ?", q.ID).Error; err != nil {
			t.Fatal(err)
		}
		if got.VehicleTypeID != nil {
			t.Fatalf("vehicle_type_id %v after deleting the type, want NULL", got.VehicleTypeID)
		}
	})
}

// A failed transaction leaves no half-written row.
func TestTransactionRollsBack(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		err := st.Transaction(testutil.Context(t), func(tx *gorm.DB) error {
			now := store.Now()
			if err := tx.Create(&store.User{UserID: "user_rb", CreatedAt: now, UpdatedAt: now}).Error; err != nil {
				return err
			}
			return errors.New("boom")
		})
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("transaction error %v", err)
		}
		var n int64
		st.DB.Model(&store.User{}).Where("userid = ?", "user_rb").Count(&n)
		if n != 0 {
			t.Fatal("row of a rolled-back transaction is visible")
		}
	})
}

func TestSeedTwiceSameRowsOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := openEmpty(t, dialect)
		ctx := testutil.Context(t)
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		type snapshot struct {
			cats  map[string]string
			types map[string]string
			links []string
		}
		snap := func() snapshot {
			var cats []store.Category
			var types []store.VehicleType
			if err := st.DB.Order("name").Find(&cats).Error; err != nil {
				t.Fatal(err)
			}
			if err := st.DB.Preload("Categories").Order("name").Find(&types).Error; err != nil {
				t.Fatal(err)
			}
			s := snapshot{cats: map[string]string{}, types: map[string]string{}}
			for _, c := range cats {
				s.cats[c.Name] = c.ID.String()
			}
			for _, vt := range types {
				s.types[vt.Name] = vt.ID.String()
				for _, c := range vt.Categories {
					s.links = append(s.links, vt.Name+"→"+c.Name)
				}
			}
			sort.Strings(s.links)
			return s
		}
		if err := st.Seed(ctx); err != nil {
			t.Fatalf("seed: %v", err)
		}
		first := snap()
		if err := st.Seed(ctx); err != nil {
			t.Fatalf("seed again: %v", err)
		}
		second := snap()

		wantCats := []string{"Alimentos", "Documentos", "Mercado", "Paquetes", "Personas"}
		if len(second.cats) != 5 {
			t.Fatalf("%d categories, want 5: %v", len(second.cats), second.cats)
		}
		for _, n := range wantCats {
			if second.cats[n] == "" {
				t.Errorf("category %s missing", n)
			}
		}
		if len(second.types) != 3 || second.types["Moto"] == "" || second.types["Carro"] == "" || second.types["Mototaxi"] == "" {
			t.Fatalf("vehicle types %v, want Moto, Carro, Mototaxi", second.types)
		}
		var wantLinks []string
		for _, vt := range db.VehicleTypes {
			for _, c := range vt.Categories {
				wantLinks = append(wantLinks, vt.Name+"→"+c)
			}
		}
		sort.Strings(wantLinks)
		if fmt.Sprint(second.links) != fmt.Sprint(wantLinks) {
			t.Fatalf("links %v, want %v", second.links, wantLinks)
		}
		// The docs/data-model.md table, literally.
		for _, l := range []string{"Moto→Alimentos", "Moto→Documentos", "Carro→Paquetes", "Mototaxi→Alimentos"} {
			if !strings.Contains(fmt.Sprint(second.links), l) {
				t.Errorf("link %s missing", l)
			}
		}
		if strings.Contains(fmt.Sprint(second.links), "Carro→Documentos") {
			t.Error("Carro must not carry Documentos")
		}
		if fmt.Sprint(first) != fmt.Sprint(second) {
			t.Fatalf("second seed changed rows:\n%v\n%v", first, second)
		}
		var nLinks int64
		st.DB.Model(&store.VehicleTypeCategory{}).Count(&nLinks)
		if int(nLinks) != len(wantLinks) {
			t.Fatalf("%d link rows, want %d", nLinks, len(wantLinks))
		}
	})
}

// Concurrent writers that read then write in one transaction all succeed: on
// SQLite BEGIN IMMEDIATE serializes them (no SQLITE_BUSY upgrade deadlock).
func TestConcurrentWritersSerialized(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		st := migrated(t, dialect)
		const n = 16
		errs := make(chan error, n)
		for i := range n {
			go func() {
				errs <- st.Transaction(testutil.Context(t), func(tx *gorm.DB) error {
					var count int64
					if err := tx.Model(&store.User{}).Count(&count).Error; err != nil {
						return err
					}
					now := store.Now()
					return tx.Create(&store.User{UserID: fmt.Sprintf("user_w%d_%d", i, count), CreatedAt: now, UpdatedAt: now}).Error
				})
			}()
		}
		for range n {
			select {
			case err := <-errs:
				if err != nil {
					t.Fatalf("concurrent writer: %v", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("writers did not finish within 60 s")
			}
		}
		var total int64
		st.DB.Model(&store.User{}).Count(&total)
		if total != n {
			t.Fatalf("%d users, want %d", total, n)
		}
	})
}
