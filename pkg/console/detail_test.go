package console_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/store"
)

// Every detail read of an unknown id answers the not-found kind (404).
func TestDetailNotFound(t *testing.T) {
	f := newFixture(t)
	unknown := uuid.New()
	cases := []struct {
		name string
		read func() error
	}{
		{"vehicle", func() error { _, _, err := f.svc.Vehicle(ctx, unknown); return err }},
		{"category", func() error { _, err := f.svc.Category(ctx, unknown); return err }},
		{"vehicle type", func() error { _, err := f.svc.VehicleType(ctx, unknown); return err }},
		{"quote", func() error { _, err := f.svc.Quote(ctx, unknown); return err }},
		{"user", func() error { _, err := f.svc.User(ctx, "user_unknown"); return err }},
		{"delivery", func() error { _, err := f.svc.Delivery(ctx, unknown); return err }},
	}
	for _, c := range cases {
		if err := c.read(); !isNotFound(err) {
			t.Errorf("%s: %v, want the not-found kind", c.name, err)
		}
	}
}

func TestVehicleDetail(t *testing.T) {
	w := newWorld(t)
	v, owner, err := w.svc.Vehicle(ctx, w.vVerOld.VehicleID)
	if err != nil {
		t.Fatal(err)
	}
	if v.LicensePlate != "XYZ99" || !v.IsVerified || v.Type == nil || v.Type.Name != "Carro" || owner.UserID != w.d2.UserID {
		t.Fatalf("Vehicle: %+v type %+v owner %s, want XYZ99 (Carro, verified) of %s", v, v.Type, owner.UserID, w.d2.UserID)
	}
}

func TestCategoriesAndVehicleTypes(t *testing.T) {
	f := newFixture(t)
	cs, err := f.svc.Categories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Alimentos", "Documentos", "Mercado", "Paquetes", "Personas"} // the seed, by name
	if got := ids(cs, func(c store.Category) string { return c.Name }); !slices.Equal(got, want) {
		t.Fatalf("Categories: %v, want %v", got, want)
	}
	c, err := f.svc.Category(ctx, f.cat.ID)
	if err != nil || c.Name != "Alimentos" {
		t.Fatalf("Category: %+v %v, want Alimentos", c, err)
	}

	ts, err := f.svc.VehicleTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(ts, func(vt store.VehicleType) string { return vt.Name }); !slices.Equal(got, []string{"Carro", "Moto", "Mototaxi"}) {
		t.Fatalf("VehicleTypes: %v, want by name", got)
	}
	if got := ids(ts[0].Categories, func(c store.Category) string { return c.Name }); !slices.Equal(got, []string{"Mercado", "Paquetes", "Personas"}) {
		t.Fatalf("Carro categories: %v, want by name", got)
	}
	vt, err := f.svc.VehicleType(ctx, f.moto.ID)
	if err != nil || vt.Name != "Moto" || len(vt.Categories) != 5 {
		t.Fatalf("VehicleType: %+v %v, want Moto with 5 categories", vt, err)
	}
}

func TestQuoteDetail(t *testing.T) {
	w := newWorld(t)
	q, err := w.svc.Quote(ctx, w.qOpen.ID)
	if err != nil {
		t.Fatal(err)
	}
	if q.Client == nil || q.Client.UserID != w.ana.UserID || q.Category == nil || q.Category.ID != w.cat.ID || q.VehicleType != nil {
		t.Fatalf("Quote: client %+v category %+v vehicle type %+v", q.Client, q.Category, q.VehicleType)
	}
	// Offers oldest first, with their drivers; only oOpen names a vehicle.
	if len(q.Offers) != 2 || q.Offers[0].ID != w.oOpen.ID || q.Offers[1].ID != w.oExpired.ID {
		t.Fatalf("Quote offers: %+v, want oOpen then oExpired", q.Offers)
	}
	o0, o1 := q.Offers[0], q.Offers[1]
	if o0.Driver == nil || o0.Driver.UserID != w.d1.UserID || o0.Vehicle == nil || o0.Vehicle.VehicleID != w.vVerNew.VehicleID {
		t.Fatalf("first offer: driver %+v vehicle %+v", o0.Driver, o0.Vehicle)
	}
	if o1.Driver == nil || o1.Driver.UserID != w.d2.UserID || o1.Vehicle != nil {
		t.Fatalf("second offer: driver %+v vehicle %+v", o1.Driver, o1.Vehicle)
	}
}

func TestUserDetail(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		id                 string
		vehicles           []string // plates, oldest first
		asClient, asDriver int64
	}{
		{w.ana.UserID, []string{}, 2, 0},
		{w.bea.UserID, []string{}, 2, 0},
		{w.d1.UserID, []string{"DEF456", "ABC123"}, 0, 2},
		{w.d2.UserID, []string{"XYZ99", "XY_99"}, 0, 1},
	}
	for _, c := range cases {
		d, err := w.svc.User(ctx, c.id)
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		plates := ids(d.Vehicles, func(v store.Vehicle) string { return v.LicensePlate })
		if d.U.UserID != c.id || !slices.Equal(plates, c.vehicles) || d.AsClient != c.asClient || d.AsDriver != c.asDriver {
			t.Errorf("User(%s): id %s vehicles %v client %d driver %d, want %v %d %d",
				c.id, d.U.UserID, plates, d.AsClient, d.AsDriver, c.vehicles, c.asClient, c.asDriver)
		}
		for _, v := range d.Vehicles {
			if v.Type == nil {
				t.Errorf("User(%s): vehicle %s without its type", c.id, v.LicensePlate)
			}
		}
	}
}

func TestDeliveryDetail(t *testing.T) {
	w := newWorld(t)
	// Two events on dAssigned's history, one on another history.
	ev := func(h uuid.UUID, typ string, by *string, at time.Time) {
		w.must(w.st.DB.Create(&store.HistoryEvent{ID: uuid.New(), HistoryID: h, EventType: typ, ChangedByID: by, CreatedAt: at}).Error)
	}
	ev(w.dAssigned.HistoryID, store.HistoryOfferAccepted, &w.ana.UserID, t0.Add(-2*time.Hour))
	ev(w.dAssigned.HistoryID, store.HistoryQuoteCreated, &w.ana.UserID, t0.Add(-3*time.Hour))
	ev(w.dPaidA.HistoryID, store.HistoryCompleted, nil, t0)

	d, err := w.svc.Delivery(ctx, w.dAssigned.ID)
	if err != nil {
		t.Fatal(err)
	}
	types := ids(d.History, func(e store.HistoryEvent) string { return e.EventType })
	if !slices.Equal(types, []string{store.HistoryQuoteCreated, store.HistoryOfferAccepted}) {
		t.Fatalf("history: %v, want oldest first and only this delivery's", types)
	}
	if d.History[0].ChangedBy == nil || d.History[0].ChangedBy.UserID != w.ana.UserID {
		t.Fatalf("history changed_by not loaded: %+v", d.History[0].ChangedBy)
	}
	if d.Vehicle == nil || d.Vehicle.VehicleID != w.vVerNew.VehicleID || d.Vehicle.Type == nil {
		t.Fatalf("vehicle: %+v, want DEF456 with its type", d.Vehicle)
	}
	if d.D.Client == nil || d.D.Driver == nil || d.D.Driver.UserID != w.d1.UserID || d.D.Category == nil {
		t.Fatalf("delivery: client/driver/category not loaded: %+v", d.D)
	}

	// No driver, no vehicle, no history.
	d, err = w.svc.Delivery(ctx, w.dCancelled.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Vehicle != nil || d.D.Driver != nil || len(d.History) != 0 {
		t.Fatalf("cancelled delivery: vehicle %+v driver %+v history %v, want none", d.Vehicle, d.D.Driver, d.History)
	}
}
