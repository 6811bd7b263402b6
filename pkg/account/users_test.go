package account_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/store"
)

// The current vehicle toggles: set, then cleared by choosing it again; an
// unknown vehicle is 404, another driver's 403 — the service, without HTTP
// (the API words the answer).
func TestSetCurrentVehicle(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cur, err := w.svc.SetCurrentVehicle(ctx, user(w.driver), w.vehicle.VehicleID)
	if err != nil || cur == nil || *cur != w.vehicle.VehicleID {
		t.Fatalf("set: %v %v", cur, err)
	}
	var u store.User
	w.st.DB.Where("userid = ?", w.driver).Take(&u)
	if u.CurrentVehicleID == nil || *u.CurrentVehicleID != w.vehicle.VehicleID {
		t.Fatalf("row after set: %v", u.CurrentVehicleID)
	}
	if cur, err = w.svc.SetCurrentVehicle(ctx, user(w.driver), w.vehicle.VehicleID); err != nil || cur != nil {
		t.Fatalf("clear: %v %v", cur, err)
	}
	var after store.User
	w.st.DB.Where("userid = ?", w.driver).Take(&after)
	if u = after; u.CurrentVehicleID != nil {
		t.Fatalf("row after clear: %v", *u.CurrentVehicleID)
	}
	for _, c := range []struct {
		name    string
		user    string
		vehicle uuid.UUID
		kind    apperr.Kind
		msg     string
	}{
		{"unknown", w.driver, uuid.New(), apperr.NotFound, account.MsgVehicleNotFound},
		{"another driver's", w.other, w.vehicle.VehicleID, apperr.Forbidden, account.MsgVehicleNotYours},
	} {
		_, err := w.svc.SetCurrentVehicle(ctx, user(c.user), c.vehicle)
		if e, ok := apperr.As(err); !ok || e.Kind != c.kind || e.Message != c.msg {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// BarredAmong names, among the ids asked about, the deleted and the
// suspended users, and nobody else.
func TestBarredAmong(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := w.st.Now()
	w.st.DB.Model(&store.User{}).Where("userid = ?", w.driver).Update("deleted_at", now)
	w.st.DB.Model(&store.User{}).Where("userid = ?", w.other).Updates(map[string]any{"suspended_at": now, "suspension_reason": "fraude"})
	gone, err := account.BarredAmong(ctx, w.st, []string{w.driver, w.other, "user_nobody"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range gone {
		ids = append(ids, u.UserID)
		if u.UserID == w.other && (u.SuspensionReason == nil || *u.SuspensionReason != "fraude" || u.DeletedAt != nil) {
			t.Errorf("suspended row: %+v", u)
		}
	}
	slices.Sort(ids)
	if want := []string{w.driver, w.other}; !slices.Equal(ids, want) {
		t.Fatalf("barred %v, want %v", ids, want)
	}
	if gone, err := account.BarredAmong(ctx, w.st, []string{"user_nobody"}); err != nil || len(gone) != 0 {
		t.Fatalf("nobody barred: %v %v", gone, err)
	}
}
