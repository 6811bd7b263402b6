package account_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/optional"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The account service called in process, without HTTP: owner checks,
// validation errors (the apperr kind and field), and nothing half-written
// when a call is refused.

// wantErr fails unless err is an apperr of kind whose field (or message, for
// field "") carries msg ("" accepts any).
func wantErr(t *testing.T, what string, err error, kind apperr.Kind, field, msg string) {
	t.Helper()
	e, ok := apperr.As(err)
	switch {
	case !ok || e.Kind != kind:
		t.Errorf("%s: %v, want %s", what, err, kind)
	case field != "" && (len(e.Fields[field]) == 0 || msg != "" && e.Fields[field][0] != msg):
		t.Errorf("%s: fields %v, want %s: %q", what, e.Fields, field, msg)
	case field == "" && msg != "" && e.Message != msg:
		t.Errorf("%s: %q, want %q", what, e.Message, msg)
	}
}

// row reloads a user.
func (w *world) row(t *testing.T, id string) store.User {
	t.Helper()
	var u store.User
	if err := w.st.DB.Where("userid = ?", id).Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

// count counts rows of model matching where.
func (w *world) count(t *testing.T, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := w.st.DB.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// delivery adds a delivery between client and driver in status, on vehicle
// (nil: none).
func (w *world) delivery(t *testing.T, client, driver, status string, vehicle *uuid.UUID) store.Delivery {
	t.Helper()
	var c store.Category
	if err := w.st.DB.Order("name").Take(&c).Error; err != nil {
		t.Fatal(err)
	}
	now := w.st.Now()
	d := store.Delivery{ID: uuid.New(), ClientID: client, DeliveryPersonID: &driver, PickupAddress: "Calle 48 # 33-12",
		DeliveryAddress: "Carrera 21 # 36-40", CategoryID: c.ID, Observations: store.StringList{}, PaymentMethod: "nequi",
		FinalPrice: decimal.NewFromInt(9000), Status: status, VehicleID: vehicle, CreatedAt: now, UpdatedAt: now, HistoryID: uuid.New()}
	if err := w.st.DB.Create(&d).Error; err != nil {
		t.Fatal(err)
	}
	return d
}

// Another user's address is a 404 for every call, and stays as it was.
func TestAddressOwnerChecks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a, err := w.svc.CreateAddress(ctx, user(w.driver), account.AddressInput{Name: testutil.Ptr("Casa"), Type: testutil.Ptr("casa"),
		Address: testutil.Ptr("Calle 1"), City: testutil.Ptr("Cali")})
	if err != nil {
		t.Fatal(err)
	}
	id := a.AddressID
	for name, call := range map[string]func() error{
		"get": func() error { _, err := w.svc.Address(ctx, user(w.other), id); return err },
		"update": func() error {
			_, err := w.svc.UpdateAddress(ctx, user(w.other), id, account.AddressInput{Name: testutil.Ptr("Mía")})
			return err
		},
		"delete":   func() error { return w.svc.DeleteAddress(ctx, user(w.other), id) },
		"favorite": func() error { _, err := w.svc.ToggleFavorite(ctx, user(w.other), id); return err },
		"unknown":  func() error { _, err := w.svc.ToggleFavorite(ctx, user(w.driver), uuid.New()); return err },
	} {
		wantErr(t, name, call(), apperr.NotFound, "", apperr.MsgNotFound)
	}
	if list, err := w.svc.Addresses(ctx, user(w.other), store.Page{}); err != nil || len(list) != 0 {
		t.Fatalf("another's list: %v %v", list, err)
	}
	got, err := w.svc.Address(ctx, user(w.driver), id)
	if err != nil || got.Name != "Casa" || got.IsFavorite {
		t.Fatalf("the owner's address changed: %+v %v", got, err)
	}
	if got, err := w.svc.ToggleFavorite(ctx, user(w.driver), id); err != nil || !got.IsFavorite {
		t.Fatalf("the owner's favorite: %+v %v", got, err)
	}
	if err := w.svc.DeleteAddress(ctx, user(w.driver), id); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "deleted twice", w.svc.DeleteAddress(ctx, user(w.driver), id), apperr.NotFound, "", "")
}

// A refused address or profile write leaves no row and no column changed.
func TestRefusedWritesWriteNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.svc.CreateAddress(ctx, user(w.driver), account.AddressInput{Name: testutil.Ptr("Casa"), Type: testutil.Ptr("casa"),
		Address: testutil.Ptr("Calle 1"), City: testutil.Ptr("Cali"), Latitude: optional.Value(7.1)}) // a latitude without its longitude
	wantErr(t, "half a point", err, apperr.Invalid, "longitude", "")
	_, err = w.svc.CreateAddress(ctx, user(w.driver), account.AddressInput{Invalid: apperr.Fields{"city": {apperr.MsgRequired}}})
	wantErr(t, "decoding errors", err, apperr.Invalid, "city", apperr.MsgRequired)
	if n := w.count(t, &store.Address{}, "user_id = ?", w.driver); n != 0 {
		t.Fatalf("%d addresses written by refused creates", n)
	}
	// A profile patch naming another's vehicle writes none of its fields.
	_, err = w.svc.Update(ctx, user(w.other), account.ProfilePatch{FirstName: optional.Value("Mallory"), IsAvailable: testutil.Ptr(true),
		CurrentVehicleID: optional.Value(w.vehicle.VehicleID)})
	wantErr(t, "another's vehicle", err, apperr.Invalid, "current_vehicle_id", apperr.MsgNoObject(w.vehicle.VehicleID))
	_, err = w.svc.Update(ctx, user(w.other), account.ProfilePatch{FirstName: optional.Value("Mallory"), Invalid: apperr.Fields{"age": {"malo"}}})
	wantErr(t, "decoding errors", err, apperr.Invalid, "age", "malo")
	if u := w.row(t, w.other); u.FirstName != nil || u.IsAvailable || u.CurrentVehicleID != nil {
		t.Fatalf("a refused patch wrote: first_name %v, available %v, vehicle %v", u.FirstName, u.IsAvailable, u.CurrentVehicleID)
	}
}

// Availability flips, or is set (idempotently) to the value sent.
func TestToggleAvailability(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for i, c := range []struct {
		set  *bool
		want bool
	}{{nil, true}, {nil, false}, {testutil.Ptr(true), true}, {testutil.Ptr(true), true}, {testutil.Ptr(false), false}} {
		got, err := w.svc.ToggleAvailability(ctx, user(w.driver), c.set)
		if err != nil || got != c.want || w.row(t, w.driver).IsAvailable != c.want {
			t.Fatalf("step %d (set %v): %v %v, want %v", i, c.set, got, err, c.want)
		}
	}
	if w.row(t, w.other).IsAvailable {
		t.Fatal("another user's availability changed")
	}
}

// Another's vehicle is a 404; a taken plate, an unknown type and a vehicle in
// use are refused with nothing written; changing the plate withdraws the
// verification, changing the colour keeps it.
func TestVehicleChecks(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := w.vehicle.VehicleID
	for name, call := range map[string]func() error{
		"get": func() error { _, err := w.svc.Vehicle(ctx, user(w.other), id); return err },
		"update": func() error {
			_, err := w.svc.UpdateVehicle(ctx, user(w.other), id, account.VehicleInput{Color: testutil.Ptr("Rojo")})
			return err
		},
		"delete": func() error { return w.svc.DeleteVehicle(ctx, user(w.other), id) },
	} {
		wantErr(t, "another's vehicle: "+name, call(), apperr.NotFound, "", "")
	}
	if list, err := w.svc.Vehicles(ctx, user(w.other), store.Page{}); err != nil || len(list) != 0 {
		t.Fatalf("another's list: %v %v", list, err)
	}
	input := func(plate, vin string, typ uuid.UUID) account.VehicleInput {
		return account.VehicleInput{TypeID: &typ, Brand: testutil.Ptr("Honda"), Model: testutil.Ptr("CB"),
			LicensePlate: testutil.Ptr(plate), VIN: testutil.Ptr(vin), Year: testutil.Ptr(2020)}
	}
	unknown := uuid.New()
	for _, c := range []struct {
		name  string
		in    account.VehicleInput
		field string
		msg   string
	}{
		{"the plate taken (any case)", input("ABC12D", "vin0000000000009", w.moto.ID), "licensePlate", account.MsgPlateTaken},
		{"the VIN taken", input("zzz99z", "VIN0000000000001", w.moto.ID), "vin", account.MsgVINTaken},
		{"an unknown type", input("zzz99z", "vin0000000000009", unknown), "type_id", apperr.MsgNoObject(unknown)},
	} {
		_, err := w.svc.CreateVehicle(ctx, user(w.other), c.in)
		wantErr(t, c.name, err, apperr.Invalid, c.field, c.msg)
	}
	if n := w.count(t, &store.Vehicle{}, "user_id = ?", w.other); n != 0 {
		t.Fatalf("%d vehicles written by refused creates", n)
	}
	// Verification: kept by a colour, withdrawn by a plate.
	if err := w.st.DB.Model(&store.Vehicle{}).Where("vehicle_id = ?", id).Update("is_verified", true).Error; err != nil {
		t.Fatal(err)
	}
	if v, err := w.svc.UpdateVehicle(ctx, user(w.driver), id, account.VehicleInput{Color: testutil.Ptr("Rojo")}); err != nil || !v.IsVerified || v.Color != "Rojo" {
		t.Fatalf("colour: %+v %v", v, err)
	}
	if v, err := w.svc.UpdateVehicle(ctx, user(w.driver), id, account.VehicleInput{LicensePlate: testutil.Ptr("xyz98w")}); err != nil || v.IsVerified || v.LicensePlate != "XYZ98W" {
		t.Fatalf("plate: %+v %v", v, err)
	}
	// In use by a delivery: kept.
	w.delivery(t, w.other, w.driver, store.DeliveryDelivered, &id)
	wantErr(t, "in use", w.svc.DeleteVehicle(ctx, user(w.driver), id), apperr.Invalid, "", account.MsgVehicleInUse)
	if n := w.count(t, &store.Vehicle{}, "vehicle_id = ?", id); n != 1 {
		t.Fatal("a vehicle in use was deleted")
	}
}

// A rating needs a completed delivery the two shared and the caller has not
// rated; only its rater changes or deletes it; a stranger does not see it.
func TestRatingRules(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	stranger := "user_acc_stranger"
	if err := w.svc.SetStaff(ctx, nil, stranger, false, account.UnknownCreate); err != nil {
		t.Fatal(err)
	}
	rate := func(rater, ratee string) (*store.Rating, error) {
		return w.svc.CreateRating(ctx, user(rater), account.RatingInput{RateeID: ratee, Rating: testutil.Ptr(8)})
	}
	_, err := rate(w.other, w.other)
	wantErr(t, "oneself", err, apperr.Invalid, apperr.NonField, account.MsgNoSelfRating)
	_, err = rate(w.other, "user_nobody")
	wantErr(t, "an unknown ratee", err, apperr.Invalid, "ratee_id", apperr.MsgNoObject("user_nobody"))
	w.delivery(t, w.other, w.driver, store.DeliveryInTransit, nil) // not completed
	_, err = rate(w.other, w.driver)
	wantErr(t, "no completed delivery", err, apperr.Invalid, apperr.NonField, account.MsgNoSharedDelivery)
	_, err = w.svc.CreateRating(ctx, user(w.other), account.RatingInput{RateeID: w.driver, Invalid: apperr.Fields{"rating": {"malo"}}})
	wantErr(t, "decoding errors", err, apperr.Invalid, "rating", "malo")
	if n := w.count(t, &store.Rating{}, "1 = 1"); n != 0 {
		t.Fatalf("%d ratings written by refused creates", n)
	}
	d := w.delivery(t, w.other, w.driver, store.DeliveryDelivered, nil)
	r, err := rate(w.other, w.driver)
	if err != nil || r.DeliveryID == nil || *r.DeliveryID != d.ID || r.RaterID != w.other || r.Rating != 8 {
		t.Fatalf("rating: %+v %v", r, err)
	}
	_, err = rate(w.other, w.driver)
	wantErr(t, "the same delivery twice", err, apperr.Invalid, apperr.NonField, account.MsgNoSharedDelivery)
	// The ratee sees it but may not change it; a stranger does not see it.
	if _, err := w.svc.Rating(ctx, user(w.driver), r.ID); err != nil {
		t.Fatalf("the ratee's view: %v", err)
	}
	_, err = w.svc.UpdateRating(ctx, user(w.driver), r.ID, account.RatingInput{Rating: testutil.Ptr(1)})
	wantErr(t, "the ratee updates", err, apperr.Forbidden, "", apperr.MsgForbidden)
	wantErr(t, "the ratee deletes", w.svc.DeleteRating(ctx, user(w.driver), r.ID), apperr.Forbidden, "", "")
	_, err = w.svc.Rating(ctx, user(stranger), r.ID)
	wantErr(t, "a stranger's view", err, apperr.NotFound, "", "")
	_, err = w.svc.UpdateRating(ctx, user(stranger), r.ID, account.RatingInput{Rating: testutil.Ptr(1)})
	wantErr(t, "a stranger updates", err, apperr.NotFound, "", "")
	if list, err := w.svc.RatingsOf(ctx, user(stranger), store.Page{}); err != nil || len(list) != 0 {
		t.Fatalf("a stranger's list: %v %v", list, err)
	}
	_, err = w.svc.RatingsReceived(ctx, "user_nobody", store.Page{})
	wantErr(t, "received by nobody", err, apperr.NotFound, "", "")
	if got, _ := w.svc.Rating(ctx, user(w.other), r.ID); got.Rating != 8 {
		t.Fatalf("a refused update wrote %d", got.Rating)
	}
	// The rater changes and deletes it.
	if got, err := w.svc.UpdateRating(ctx, user(w.other), r.ID, account.RatingInput{Rating: testutil.Ptr(3), Comment: optional.Value("tarde")}); err != nil ||
		got.Rating != 3 || got.Comment == nil || *got.Comment != "tarde" {
		t.Fatalf("the rater's update: %+v %v", got, err)
	}
	if err := w.svc.DeleteRating(ctx, user(w.other), r.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := w.svc.RatingsReceived(ctx, w.driver, store.Page{}); len(list) != 0 {
		t.Fatalf("deleted rating still listed: %v", list)
	}
}

// Suspend and Reinstate: a reason is required, each refuses the wrong state,
// a failing hook rolls the suspension back, and each success is audited.
func TestSuspendAndReinstate(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	by := w.staff(t)
	wantErr(t, "no reason", w.svc.Suspend(ctx, by, w.driver, "  "), apperr.Invalid, "reason", apperr.MsgRequired)
	wantErr(t, "unknown user", w.svc.Suspend(ctx, by, "user_nobody", "fraude"), apperr.NotFound, "", "")
	wantErr(t, "not suspended", w.svc.Reinstate(ctx, by, w.driver, "ok"), apperr.Invalid, "reason", account.MsgNotSuspended)
	if _, err := w.svc.ToggleAvailability(ctx, user(w.driver), testutil.Ptr(true)); err != nil {
		t.Fatal(err)
	}
	w.svc.OnSuspend = func(*gorm.DB, string) ([]realtime.Message, error) { return nil, errors.New("market down") }
	if err := w.svc.Suspend(ctx, by, w.driver, "fraude"); err == nil {
		t.Fatal("suspended although the hook failed")
	}
	if u := w.row(t, w.driver); u.SuspendedAt != nil || !u.IsAvailable || w.count(t, &store.StaffAudit{}, "object_id = ?", w.driver) != 0 {
		t.Fatalf("a failed suspension was half-written: suspended %v, available %v", u.SuspendedAt, u.IsAvailable)
	}
	hooked := ""
	w.svc.OnSuspend = func(_ *gorm.DB, id string) ([]realtime.Message, error) { hooked = id; return nil, nil }
	if err := w.svc.Suspend(ctx, by, w.driver, " fraude "); err != nil {
		t.Fatal(err)
	}
	u := w.row(t, w.driver)
	if u.SuspendedAt == nil || u.SuspensionReason == nil || *u.SuspensionReason != "fraude" || u.IsAvailable || hooked != w.driver {
		t.Fatalf("suspended row: %v %v available %v, hook ran for %q", u.SuspendedAt, u.SuspensionReason, u.IsAvailable, hooked)
	}
	wantErr(t, "suspended twice", w.svc.Suspend(ctx, by, w.driver, "otra"), apperr.Invalid, "reason", account.MsgAlreadySuspended)
	if err := w.svc.Reinstate(ctx, by, w.driver, "aclarado"); err != nil {
		t.Fatal(err)
	}
	if u := w.row(t, w.driver); u.SuspendedAt != nil || u.SuspensionReason != nil {
		t.Fatalf("reinstated row: %v %v", u.SuspendedAt, u.SuspensionReason)
	}
	if n := w.count(t, &store.StaffAudit{}, "object_id = ? AND staff_account_id = ?", w.driver, by.ID); n != 2 {
		t.Fatalf("%d audit entries, want 2 (suspend, reinstate)", n)
	}
	if err := w.svc.DeleteProfile(ctx, user(w.other)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a deleted user", w.svc.Suspend(ctx, by, w.other, "fraude"), apperr.Invalid, "reason", account.MsgSuspendDeleted)
}

// The Clerk webhook: a body without type or data is a 400; a delivery is
// applied once per svix id; an older update is stale; a deletion deletes.
func TestApplyClerkEvent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	event := func(typ, id string, updatedMillis int64, email string) []byte {
		return fmt.Appendf(nil, `{"type":%q,"data":{"id":%q,"first_name":"Ana","updated_at":%d,`+
			`"email_addresses":[{"id":"e1","email_address":%q}],"primary_email_address_id":"e1"}}`, typ, id, updatedMillis, email)
	}
	for _, c := range []struct {
		name, body, msg string
	}{
		{"not JSON", `{"type":`, apperr.MsgMalformed},
		{"no type", `{"data":{"id":"user_x"}}`, account.MsgBadWebhook},
		{"no data", `{"type":"user.created"}`, account.MsgBadWebhook},
		{"data not an object", `{"type":"user.created","data":[1]}`, account.MsgBadWebhook},
		{"a user without id", `{"type":"user.updated","data":{"first_name":"x"}}`, account.MsgBadWebhook},
	} {
		_, err := w.svc.ApplyClerkEvent(ctx, "msg_bad", []byte(c.body))
		wantErr(t, c.name, err, apperr.Invalid, "", c.msg)
	}
	if n := w.count(t, &store.WebhookEvent{}, "1 = 1"); n != 0 {
		t.Fatalf("refused bodies recorded %d svix ids", n)
	}
	const id = "user_clerk_ana"
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	for i, c := range []struct {
		svix string
		body []byte
		want account.ClerkResult
		mail string // the row's email after it
	}{
		{"msg_1", event(account.ClerkUserCreated, id, t0, "ana@x.co"), account.ClerkApplied, "ana@x.co"},
		{"msg_1", event(account.ClerkUserUpdated, id, t0+2, "again@x.co"), account.ClerkDuplicate, "ana@x.co"},
		{"msg_2", event(account.ClerkUserUpdated, id, t0+1000, "new@x.co"), account.ClerkApplied, "new@x.co"},
		{"msg_3", event(account.ClerkUserUpdated, id, t0+500, "old@x.co"), account.ClerkStale, "new@x.co"},
		{"msg_4", []byte(`{"type":"session.created","data":{"id":"sess_1"}}`), account.ClerkIgnored, "new@x.co"},
	} {
		got, err := w.svc.ApplyClerkEvent(ctx, c.svix, c.body)
		if u := w.row(t, id); err != nil || got != c.want || u.Email == nil || *u.Email != c.mail {
			t.Fatalf("event %d (%s): %q %v, email %v; want %q, %s", i, c.svix, got, err, u.Email, c.want, c.mail)
		}
	}
	if got, err := w.svc.ApplyClerkEvent(ctx, "msg_5", []byte(`{"type":"user.deleted","data":{"id":"`+id+`"}}`)); err != nil || got != account.ClerkApplied {
		t.Fatalf("deletion: %q %v", got, err)
	}
	if u := w.row(t, id); u.DeletedAt == nil || u.Email != nil {
		t.Fatalf("deleted row: deleted_at %v, email %v", u.DeletedAt, u.Email)
	}
	if got, err := w.svc.ApplyClerkEvent(ctx, "msg_6", event(account.ClerkUserUpdated, id, t0+9000, "back@x.co")); err != nil || got != account.ClerkStale {
		t.Fatalf("an update after the deletion: %q %v", got, err)
	}
}
