package account_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/optional"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// world is a store with a driver, their pending vehicle and another user.
type world struct {
	st      *store.Store
	svc     *account.Service
	driver  string
	other   string
	moto    store.VehicleType
	vehicle store.Vehicle
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{st: testutil.NewStore(t), driver: "user_acc_driver", other: "user_acc_other"}
	w.svc = account.New(w.st, nil, testutil.Logger())
	ctx := context.Background()
	for _, id := range []string{w.driver, w.other} {
		if err := w.svc.SetStaff(ctx, nil, id, false, account.UnknownCreate); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.st.DB.Where("name = ?", "Moto").Take(&w.moto).Error; err != nil {
		t.Fatal(err)
	}
	v, err := w.svc.CreateVehicle(ctx, user(w.driver), account.VehicleInput{TypeID: &w.moto.ID, Brand: testutil.Ptr("Yamaha"), Model: testutil.Ptr("NMAX"),
		LicensePlate: testutil.Ptr("abc12d"), VIN: testutil.Ptr("vin0000000000001"), Year: testutil.Ptr(2022)})
	if err != nil {
		t.Fatal(err)
	}
	w.vehicle = *v
	return w
}

// user is the caller with this id, as the auth middleware hands it to the
// services (account reads only its id).
func user(id string) *store.User { return &store.User{UserID: id} }

// staff is a console staff member (a staff_accounts row, as the console's
// session check finds for every request).
func (w *world) staff(t *testing.T) *audit.Staff {
	t.Helper()
	acc := store.StaffAccount{ID: uuid.New(), Username: "staff_" + uuid.NewString()[:8], PasswordHash: "x", IsActive: true, CreatedAt: time.Now()}
	if err := w.st.DB.Create(&acc).Error; err != nil {
		t.Fatal(err)
	}
	return &audit.Staff{ID: acc.ID, Username: acc.Username}
}

func isForbidden(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.Forbidden
}

// Vehicle verification and the vehicle types are the console's: without a
// staff member they are refused (403) and nothing changes.
func TestConsoleOnlyWithoutStaff(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.svc.VerifyVehicle(ctx, nil, w.vehicle.VehicleID, account.VehicleVerification{Verified: testutil.Ptr(true)}); !isForbidden(err) {
		t.Fatalf("VerifyVehicle without staff: %v, want forbidden", err)
	}
	if _, err := w.svc.SaveVehicleType(ctx, nil, nil, account.VehicleTypeInput{Name: "Patineta"}); !isForbidden(err) {
		t.Fatalf("SaveVehicleType without staff: %v, want forbidden", err)
	}
	var n int64
	if err := w.st.DB.Model(&store.VehicleType{}).Where("name = ?", "Patineta").Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("a vehicle type was written: %d %v", n, err)
	}
}

func TestCreateVehicleStoresPlateAndVINInUpperCase(t *testing.T) {
	w := newWorld(t)
	v := w.vehicle
	if v.LicensePlate != "ABC12D" || v.VIN != "VIN0000000000001" || v.DriverLicenseStatus != account.DocPending || v.IsVerified {
		t.Fatalf("created %+v", v)
	}
}

// The decoding errors an adapter found and the service's own (those that
// need the database, or span fields) are answered together, as DRF does; the
// adapter's map is left alone.
func TestDecodingErrorsJoinTheServiceRules(t *testing.T) {
	w := newWorld(t)
	ctx, by := context.Background(), w.staff(t)
	unknown := uuid.New()
	approvedBut := func(key, status string) map[string]string {
		m := map[string]string{}
		for _, d := range account.DocumentFields {
			m[d.Key] = account.DocApproved
		}
		m[key] = status
		return m
	}
	cases := []struct {
		name    string
		invalid apperr.Fields
		call    func(invalid apperr.Fields) error
		want    map[string][]string
	}{
		{"vehicle type: name taken", apperr.Fields{"passenger_capacity": {"x"}}, func(f apperr.Fields) error {
			_, err := w.svc.SaveVehicleType(ctx, by, nil, account.VehicleTypeInput{Name: "Moto", Invalid: f})
			return err
		}, map[string][]string{"passenger_capacity": {"x"}, "name": {"Ya existe un tipo de vehículo con este nombre."}}},
		{"vehicle type: a name that did not decode is not looked up", apperr.Fields{"name": {"x"}}, func(f apperr.Fields) error {
			_, err := w.svc.SaveVehicleType(ctx, by, nil, account.VehicleTypeInput{Name: "Moto", Invalid: f})
			return err
		}, map[string][]string{"name": {"x"}}},
		{"vehicle: unknown type", apperr.Fields{"brand": {"x"}}, func(f apperr.Fields) error {
			_, err := w.svc.UpdateVehicle(ctx, user(w.driver), w.vehicle.VehicleID, account.VehicleInput{TypeID: &unknown, Invalid: f})
			return err
		}, map[string][]string{"brand": {"x"}, "type_id": {`Clave primaria "` + unknown.String() + `" inválida - objeto no existe.`}}},
		{"verification: a document not approved", apperr.Fields{"verificationNotes": {"x"}}, func(f apperr.Fields) error {
			_, err := w.svc.VerifyVehicle(ctx, by, w.vehicle.VehicleID, account.VehicleVerification{
				Statuses: approvedBut("insurancePolicyStatus", "rejected"), Verified: testutil.Ptr(true), Invalid: f})
			return err
		}, map[string][]string{"verificationNotes": {"x"}, "isVerified": {account.MsgNotAllApproved}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(c.invalid)
			if got := map[string][]string(testutil.FieldsOf(t, c.call(c.invalid))); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("fields %v, want %v", got, c.want)
			}
			if len(c.invalid) != before || len(c.invalid[firstKey(c.invalid)]) != 1 {
				t.Fatalf("the adapter's map changed: %v", c.invalid)
			}
		})
	}
	if v, err := w.svc.Vehicle(ctx, user(w.driver), w.vehicle.VehicleID); err != nil || v.IsVerified || v.InsurancePolicyStatus != account.DocPending {
		t.Fatalf("refused writes changed the vehicle: %+v %v", v, err)
	}
}

func firstKey(f apperr.Fields) string {
	for k := range f {
		return k
	}
	return ""
}

// An update judges the row before the body: another user's row is a 404 (a
// rating they only received, a 403) whatever the body holds.
func TestUpdatesFindTheRowBeforeJudgingTheBody(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bad := apperr.Fields{"name": {"x"}}
	a, err := w.svc.CreateAddress(ctx, user(w.driver), account.AddressInput{Name: testutil.Ptr("Casa"), Type: testutil.Ptr("casa"), Address: testutil.Ptr("Calle 1"), City: testutil.Ptr("Cali")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want apperr.Kind
	}{
		{"another's address", func() error {
			_, err := w.svc.UpdateAddress(ctx, user(w.other), a.AddressID, account.AddressInput{Invalid: bad})
			return err
		}, apperr.NotFound},
		{"own address", func() error {
			_, err := w.svc.UpdateAddress(ctx, user(w.driver), a.AddressID, account.AddressInput{Invalid: bad})
			return err
		}, apperr.Invalid},
		{"another's vehicle", func() error {
			_, err := w.svc.UpdateVehicle(ctx, user(w.other), w.vehicle.VehicleID, account.VehicleInput{Invalid: bad})
			return err
		}, apperr.NotFound},
		{"an unknown rating", func() error {
			_, err := w.svc.UpdateRating(ctx, user(w.driver), uuid.New(), account.RatingInput{Invalid: bad})
			return err
		}, apperr.NotFound},
	}
	for _, c := range cases {
		err := c.call()
		if e, ok := apperr.As(err); !ok || e.Kind != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

// A ProfilePatch writes the fields Set: a value, or null to clear; a field
// not sent keeps its column.
func TestUpdateWritesWhatWasSent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	steps := []struct {
		patch account.ProfilePatch
		check func(u *store.User) bool
	}{
		{account.ProfilePatch{FirstName: optional.Value("Pedro"), Phone: optional.Value("3001234567"), Age: optional.Value(41),
			IsAvailable: testutil.Ptr(true), CurrentVehicleID: optional.Value(w.vehicle.VehicleID)},
			func(u *store.User) bool {
				return *u.FirstName == "Pedro" && *u.Phone == "3001234567" && *u.Age == 41 && u.IsAvailable &&
					*u.CurrentVehicleID == w.vehicle.VehicleID
			}},
		{account.ProfilePatch{Phone: optional.Null[string](), Age: optional.Null[int](), CurrentVehicleID: optional.Null[uuid.UUID]()},
			func(u *store.User) bool {
				return *u.FirstName == "Pedro" && u.Phone == nil && u.Age == nil && u.IsAvailable && u.CurrentVehicleID == nil
			}},
		{account.ProfilePatch{}, func(u *store.User) bool { return *u.FirstName == "Pedro" && u.IsAvailable }},
	}
	for i, s := range steps {
		u, err := w.svc.Update(ctx, user(w.driver), s.patch)
		if err != nil || !s.check(u) {
			t.Fatalf("step %d: %+v %v", i, u, err)
		}
	}
	// Another user's vehicle is no current vehicle of this one.
	_, err := w.svc.Update(ctx, user(w.other), account.ProfilePatch{CurrentVehicleID: optional.Value(w.vehicle.VehicleID)})
	if f := testutil.FieldsOf(t, err); len(f["current_vehicle_id"]) != 1 {
		t.Fatalf("another's vehicle: %v", f)
	}
}

// VerifyVehicle: verified only with every document approved; blank notes are none.
func TestVerifyVehicle(t *testing.T) {
	w := newWorld(t)
	ctx, by := context.Background(), w.staff(t)
	all := func(status string) map[string]string {
		m := map[string]string{}
		for _, d := range account.DocumentFields {
			m[d.Key] = status
		}
		return m
	}
	cases := []struct {
		name      string
		in        account.VehicleVerification
		refused   bool
		verified  bool
		notes     *string
		insurance string
	}{
		{"rejected, with notes", account.VehicleVerification{Statuses: all("rejected"), Verified: testutil.Ptr(false), Notes: optional.Value("Ilegible")},
			false, false, testutil.Ptr("Ilegible"), "rejected"},
		{"verified with a document pending", account.VehicleVerification{Statuses: all("pending"), Verified: testutil.Ptr(true)},
			true, false, testutil.Ptr("Ilegible"), "rejected"},
		{"all approved, blank notes", account.VehicleVerification{Statuses: all(account.DocApproved), Verified: testutil.Ptr(true), Notes: optional.Value("")},
			false, true, nil, account.DocApproved},
	}
	for _, c := range cases {
		_, err := w.svc.VerifyVehicle(ctx, by, w.vehicle.VehicleID, c.in)
		if (err != nil) != c.refused {
			t.Fatalf("%s: err %v", c.name, err)
		}
		var v store.Vehicle
		w.st.DB.Where("vehicle_id = ?", w.vehicle.VehicleID).Take(&v)
		if v.IsVerified != c.verified || !reflect.DeepEqual(v.VerificationNotes, c.notes) || v.InsurancePolicyStatus != c.insurance {
			t.Fatalf("%s: stored %+v", c.name, v)
		}
	}
	if _, err := w.svc.VerifyVehicle(ctx, by, uuid.New(), account.VehicleVerification{Statuses: all("pending"), Verified: testutil.Ptr(false)}); err == nil {
		t.Fatal("an unknown vehicle was verified")
	} else if e, _ := apperr.As(err); e.Kind != apperr.NotFound {
		t.Fatalf("unknown vehicle: %v", err)
	}
}

// SaveVehicleType: create with links; an edit keeps what was not sent.
func TestSaveVehicleType(t *testing.T) {
	w := newWorld(t)
	ctx, by := context.Background(), w.staff(t)
	var cat store.Category
	if err := w.st.DB.Where("name = ?", "Paquetes").Take(&cat).Error; err != nil {
		t.Fatal(err)
	}
	in := account.VehicleTypeInput{Name: "Bicicleta", Description: testutil.Ptr("Cero emisiones"), MaxWeightKg: decimal.RequireFromString("20.5"),
		MaxVolumeLiters: decimal.RequireFromString("40"), Image: optional.Value("https://example.com/b.png"), Categories: []uuid.UUID{cat.ID, cat.ID}, SetCategories: true}
	vt, err := w.svc.SaveVehicleType(ctx, by, nil, in)
	if err != nil {
		t.Fatal(err)
	}
	load := func() store.VehicleType {
		var got store.VehicleType
		if err := w.st.DB.Preload("Categories").Where("id = ?", vt.ID).Take(&got).Error; err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := load(); !got.IsActive || len(got.Categories) != 1 || got.Image == nil || got.Description != "Cero emisiones" {
		t.Fatalf("created %+v", got)
	}
	// An edit without description, image or categories keeps them; a blank image is none.
	edit := account.VehicleTypeInput{Name: "Bicicleta", MaxWeightKg: decimal.RequireFromString("25"), MaxVolumeLiters: decimal.RequireFromString("40"),
		IsActive: testutil.Ptr(false)}
	if _, err := w.svc.SaveVehicleType(ctx, by, &vt.ID, edit); err != nil {
		t.Fatal(err)
	}
	if got := load(); got.IsActive || len(got.Categories) != 1 || got.Image == nil || got.Description != "Cero emisiones" || got.MaxWeightCapacityKg.String() != "25" {
		t.Fatalf("edited %+v", got)
	}
	edit.Image, edit.SetCategories = optional.Value(""), true
	if _, err := w.svc.SaveVehicleType(ctx, by, &vt.ID, edit); err != nil {
		t.Fatal(err)
	}
	if got := load(); got.Image != nil || len(got.Categories) != 0 {
		t.Fatalf("cleared %+v", got)
	}
	_, err = w.svc.SaveVehicleType(ctx, by, &vt.ID, account.VehicleTypeInput{Name: "Bicicleta", Categories: []uuid.UUID{uuid.New()}, SetCategories: true})
	if f := testutil.FieldsOf(t, err); !reflect.DeepEqual(f["delivery_categories"], []string{account.MsgNoCategory}) {
		t.Fatalf("unknown category: %v", f)
	}
}
