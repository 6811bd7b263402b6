package console_test

import (
	"reflect"
	"testing"
	"time"

	"hermez/pkg/console"
	"hermez/pkg/store"
)

// world is a small known data set: two clients, three drivers (one deleted),
// a staff user, four vehicles, four quotes, three offers, four deliveries.
type world struct {
	*fixture
	ana, bea, d1, d2                       store.User
	vPending1, vPending2, vVerOld, vVerNew store.Vehicle
	qOpen, qExpired, qAccepted, qCancelled store.Quote
	oOpen, oExpired, oAccepted             store.Offer
	dAssigned, dPaidA, dPaidB, dCancelled  store.Delivery
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{fixture: newFixture(t)}
	h := func(n int) time.Time { return t0.Add(-time.Duration(n) * time.Hour) }

	w.ana = w.user(store.User{UserID: "user_ana", Username: ptr("ana_lopez"), FirstName: ptr("Ana"),
		Email: ptr("ana@example.com"), Phone: ptr("3001112233"), CreatedAt: h(10)})
	w.bea = w.user(store.User{UserID: "user_bea", Username: ptr("bea"), FirstName: ptr("Beatriz"), CreatedAt: h(9)})
	w.d1 = w.user(store.User{UserID: "user_d1", Username: ptr("carlos"), Role: ptr("delivery"),
		IsAvailable: true, IsOnline: true, CreatedAt: h(8)})
	w.d2 = w.user(store.User{UserID: "user_d2", Username: ptr("diego"), Role: ptr("delivery"),
		IsOnline: true, CreatedAt: h(7)})
	w.user(store.User{UserID: "user_gone", Username: ptr("gone"), Role: ptr("delivery"),
		IsAvailable: true, IsOnline: true, DeletedAt: ptr(h(1)), CreatedAt: h(6)})
	w.user(store.User{UserID: "user_staff", Username: ptr("staffer"), IsStaff: true, CreatedAt: h(5)})

	w.vPending1 = w.vehicle(store.Vehicle{UserID: w.d1.UserID, LicensePlate: "ABC123", Brand: "Yamaha", CreatedAt: h(4)})
	w.vPending2 = w.vehicle(store.Vehicle{UserID: w.d2.UserID, LicensePlate: "XY_99", Brand: "Honda", CreatedAt: h(3)})
	w.vVerOld = w.vehicle(store.Vehicle{UserID: w.d2.UserID, LicensePlate: "XYZ99", TypeID: w.carro.ID, Brand: "Toyota",
		IsVerified: true, CreatedAt: h(5), UpdatedAt: h(2)})
	w.vVerNew = w.vehicle(store.Vehicle{UserID: w.d1.UserID, LicensePlate: "DEF456", Brand: "Suzuki",
		IsVerified: true, CreatedAt: h(6), UpdatedAt: h(1)})

	w.qOpen = w.quote(store.Quote{ClientID: w.ana.UserID, PickupAddress: "Calle 10 # 5-20", CreatedAt: h(4)})
	w.qExpired = w.quote(store.Quote{ClientID: w.ana.UserID, CreatedAt: h(3), ExpiresAt: t0.Add(-time.Minute)})
	w.qAccepted = w.quote(store.Quote{ClientID: w.bea.UserID, Status: store.QuoteAccepted, CreatedAt: h(2)})
	w.qCancelled = w.quote(store.Quote{ClientID: w.bea.UserID, DeliveryAddress: "Avenida 100%", Status: store.QuoteCancelled, CreatedAt: h(1)})

	w.oOpen = w.offer(store.Offer{DeliveryPersonID: w.d1.UserID, QuoteID: w.qOpen.ID, VehicleID: &w.vVerNew.VehicleID, CreatedAt: h(3)})
	w.oExpired = w.offer(store.Offer{DeliveryPersonID: w.d2.UserID, QuoteID: w.qOpen.ID, CreatedAt: h(2), ExpiresAt: t0.Add(-time.Second)})
	w.oAccepted = w.offer(store.Offer{DeliveryPersonID: w.d1.UserID, QuoteID: w.qAccepted.ID, Status: store.OfferAccepted, CreatedAt: h(1)})

	w.dAssigned = w.delivery(store.Delivery{ClientID: w.ana.UserID, DeliveryPersonID: &w.d1.UserID,
		VehicleID: &w.vVerNew.VehicleID, CreatedAt: h(4)})
	w.dPaidA = w.delivery(store.Delivery{ClientID: w.ana.UserID, DeliveryPersonID: &w.d2.UserID,
		Status: store.DeliveryPaid, PaymentMethod: "nequi", CreatedAt: h(3)})
	w.dPaidB = w.delivery(store.Delivery{ClientID: w.bea.UserID, DeliveryPersonID: &w.d1.UserID,
		Status: store.DeliveryPaid, DeliveryAddress: "Calle 50_B", CreatedAt: h(2)})
	w.dCancelled = w.delivery(store.Delivery{ClientID: w.bea.UserID, Status: store.DeliveryCancelled, CreatedAt: h(1)})
	return w
}

func TestDashboard(t *testing.T) {
	w := newWorld(t)
	got, err := w.svc.Dashboard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := &console.Dashboard{
		PendingQuotes:    1, // qOpen; qExpired is past expires_at
		OpenOffers:       1, // oOpen; oExpired is past expires_at
		DriversAvailable: 1, // d1; the deleted driver is not counted
		DriversOnline:    2, // d1, d2
		VehiclesAwaiting: 2,
		Users:            5, // six rows, one deleted
		Deliveries: []console.StatusCount{
			{Status: store.DeliveryAssigned, Count: 1},
			{Status: store.DeliveryPickedUp, Count: 0},
			{Status: store.DeliveryInTransit, Count: 0},
			{Status: store.DeliveryDelivered, Count: 0},
			{Status: store.DeliveryPaid, Count: 2},
			{Status: store.DeliveryCancelled, Count: 1},
		},
		DeliveriesTotal: 4,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Dashboard:\n got %+v\nwant %+v", got, want)
	}
}

func TestDashboardEmpty(t *testing.T) {
	f := newFixture(t)
	got, err := f.svc.Dashboard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.DeliveriesTotal != 0 || got.Users != 0 || len(got.Deliveries) != len(console.DeliveryStatuses) {
		t.Fatalf("empty Dashboard: %+v, want zero counts for each of %d statuses", got, len(console.DeliveryStatuses))
	}
	for i, sc := range got.Deliveries {
		if sc.Status != console.DeliveryStatuses[i] || sc.Count != 0 {
			t.Errorf("Deliveries[%d] = %+v, want {%s 0}", i, sc, console.DeliveryStatuses[i])
		}
	}
}
