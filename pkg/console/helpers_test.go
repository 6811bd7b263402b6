package console_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"golang.org/x/crypto/bcrypt"

	"hermez/pkg/apperr"
	"hermez/pkg/console"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func TestMain(m *testing.M) {
	console.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// t0 is the fixed clock of every test store.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

var ctx = context.Background()

// fixture makes rows with st.DB.Create, filling what a test leaves out.
type fixture struct {
	t     testing.TB
	st    *store.Store
	svc   *console.Service
	cat   store.Category    // a seeded category (Alimentos)
	moto  store.VehicleType // a seeded vehicle type (Moto)
	carro store.VehicleType
	n     int // row counter, for unique plates/VINs
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st := testutil.NewStore(t)
	st.Now = func() time.Time { return t0 }
	f := &fixture{t: t, st: st, svc: console.New(st)}
	f.must(st.DB.Where("name = ?", "Alimentos").Take(&f.cat).Error)
	f.must(st.DB.Where("name = ?", "Moto").Take(&f.moto).Error)
	f.must(st.DB.Where("name = ?", "Carro").Take(&f.carro).Error)
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// user creates u; the role defaults to client, created_at to t0-1h.
func (f *fixture) user(u store.User) store.User {
	f.t.Helper()
	if u.Role == nil && !u.IsStaff {
		u.Role = ptr("client")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = t0.Add(-time.Hour)
	}
	u.UpdatedAt = u.CreatedAt
	f.must(f.st.DB.Create(&u).Error)
	return u
}

// vehicle creates v (a Moto, unverified unless set) with a unique plate and VIN.
func (f *fixture) vehicle(v store.Vehicle) store.Vehicle {
	f.t.Helper()
	f.n++
	v.VehicleID = uuid.New()
	if v.TypeID == uuid.Nil {
		v.TypeID = f.moto.ID
	}
	if v.Brand == "" {
		v.Brand = "Marca"
	}
	if v.Model == "" {
		v.Model = "Modelo"
	}
	v.Year = 2020
	if v.LicensePlate == "" {
		v.LicensePlate = fmt.Sprintf("PL%04d", f.n)
	}
	if v.VIN == "" {
		v.VIN = fmt.Sprintf("VIN%014d", f.n)
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = t0.Add(-time.Hour)
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = v.CreatedAt
	}
	f.must(f.st.DB.Create(&v).Error)
	return v
}

// quote creates q (pending, expiring at t0+1h unless set).
func (f *fixture) quote(q store.Quote) store.Quote {
	f.t.Helper()
	q.ID, q.HistoryID = uuid.New(), uuid.New()
	q.CategoryID = f.cat.ID
	q.ClientPrice = decimal.NewFromInt(10000)
	if q.PaymentMethod == "" {
		q.PaymentMethod = "efectivo"
	}
	if q.Status == "" {
		q.Status = store.QuotePending
	}
	if q.PickupAddress == "" {
		q.PickupAddress = "Calle 1"
	}
	if q.DeliveryAddress == "" {
		q.DeliveryAddress = "Carrera 2"
	}
	if q.CreatedAt.IsZero() {
		q.CreatedAt = t0.Add(-time.Minute)
	}
	if q.ExpiresAt.IsZero() {
		q.ExpiresAt = t0.Add(time.Hour)
	}
	f.must(f.st.DB.Create(&q).Error)
	return q
}

// offer creates o (pending, expiring at t0+1h unless set).
func (f *fixture) offer(o store.Offer) store.Offer {
	f.t.Helper()
	o.ID = uuid.New()
	o.ProposedPrice = decimal.NewFromInt(9000)
	if o.Status == "" {
		o.Status = store.OfferPending
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = t0.Add(-time.Minute)
	}
	o.UpdatedAt = o.CreatedAt
	if o.ExpiresAt.IsZero() {
		o.ExpiresAt = t0.Add(time.Hour)
	}
	f.must(f.st.DB.Create(&o).Error)
	return o
}

// delivery creates d (assigned, cash unless set).
func (f *fixture) delivery(d store.Delivery) store.Delivery {
	f.t.Helper()
	d.ID, d.HistoryID = uuid.New(), uuid.New()
	d.CategoryID = f.cat.ID
	d.FinalPrice = decimal.NewFromInt(9000)
	if d.PaymentMethod == "" {
		d.PaymentMethod = "efectivo"
	}
	if d.Status == "" {
		d.Status = store.DeliveryAssigned
	}
	if d.PickupAddress == "" {
		d.PickupAddress = "Calle 1"
	}
	if d.DeliveryAddress == "" {
		d.DeliveryAddress = "Carrera 2"
	}
	if d.CreatedAt.IsZero() {
		d.CreatedAt = t0.Add(-time.Minute)
	}
	d.UpdatedAt = d.CreatedAt
	f.must(f.st.DB.Create(&d).Error)
	return d
}

// isNotFound tells whether err is the apperr not-found kind (HTTP 404).
func isNotFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}
