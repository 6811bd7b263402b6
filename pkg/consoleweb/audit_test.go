package consoleweb_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hermez/pkg/audit"
	"hermez/pkg/console"
	"hermez/pkg/store"
)

// TestEveryConsoleChangeIsAudited: vehicle verification, a category, a
// vehicle type, the staff flag and a staff account's deactivation each leave
// one entry (who, what, before → after) in the action's transaction; the
// activity page lists them newest first and filters them; the object's page
// shows its own; the table refuses edits.
func TestEveryConsoleChangeIsAudited(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	tok := b.token("/admin/")
	vpath := "/admin/vehicles/" + f.Vehicle.VehicleID.String() + "/"
	form := approveAll()
	form.Set("csrf_token", tok)
	if p := b.post(vpath, form); p.Status != http.StatusSeeOther {
		t.Fatalf("verify: %d", p.Status)
	}
	if p := b.post("/admin/categories/"+f.Category.ID.String()+"/", url.Values{"csrf_token": {tok}, "name": {"Paquetes grandes"}, "description": {""}, "is_active": {"on"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("category: %d %s", p.Status, p.Body)
	}
	if p := b.post("/admin/users/"+f.Driver.UserID+"/staff/", url.Values{"csrf_token": {tok}, "is_staff": {"true"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("staff flag: %d", p.Status)
	}
	other := mustAccount(t, f, "beto")
	if p := b.post("/admin/accounts/"+other+"/active/", url.Values{"csrf_token": {tok}, "is_active": {"false"}, "confirmar": {"1"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", p.Status)
	}
	var rows []store.StaffAudit
	must(t, f.W.Store.DB.Order("at, id").Find(&rows).Error)
	got := map[string]store.StaffAudit{}
	for _, r := range rows {
		if r.StaffAccountID != f.Staff.ID {
			t.Errorf("entry %s by %s, want %s", r.Action, r.StaffAccountID, f.Staff.ID)
		}
		got[r.ObjectKind+"/"+r.Action] = r
	}
	for key, want := range map[string]string{
		"vehicle/verify":           `"is_verified":[`,
		"category/update":          `"name":["Paquetes","Paquetes grandes"]`,
		"user/staff_flag":          `"is_staff":[`,
		"staff_account/deactivate": `"is_active":[`,
	} {
		e, ok := got[key]
		if !ok {
			t.Errorf("no %s entry (have %v)", key, got)
			continue
		}
		if !strings.Contains(e.Changes, want) {
			t.Errorf("%s changes %s, want %s", key, e.Changes, want)
		}
	}
	if e := got["vehicle/verify"]; !strings.Contains(e.Changes, `"driver_license_status":["pending","approved"]`) {
		t.Errorf("vehicle entry %s lacks the document status before → after", e.Changes)
	}
	// The activity page: every entry; the filter by kind keeps only its own.
	all := b.get("/admin/activity/")
	if all.Status != http.StatusOK || strings.Count(all.Body, "<tr>") != len(rows)+1 { // + the header
		t.Errorf("activity page: %d, %d rows for %d entries", all.Status, strings.Count(all.Body, "<tr>"), len(rows))
	}
	veh := b.get("/admin/activity/?tipo=vehicle")
	if !strings.Contains(veh.Body, "Verificación") || strings.Contains(veh.Body, "Desactivación") {
		t.Errorf("kind filter: the vehicle filter shows other kinds or misses the verification")
	}
	if p := b.get("/admin/activity/?desde=2000-01-01&hasta=2000-01-02"); !strings.Contains(p.Body, "Sin acciones con estos filtros") {
		t.Errorf("a date range with no entries shows entries")
	}
	if p := b.get(vpath); !strings.Contains(p.Body, "Actividad del personal") || !strings.Contains(p.Body, "Verificación") {
		t.Errorf("vehicle page does not show its entry")
	}
	// Append-only.
	if err := f.W.Store.DB.Exec("UPDATE staff_audit SET reason = 'x'").Error; err == nil {
		t.Errorf("UPDATE staff_audit succeeded")
	}
	if err := f.W.Store.DB.Exec("DELETE FROM staff_audit").Error; err == nil {
		t.Errorf("DELETE FROM staff_audit succeeded")
	}
	_ = audit.Kinds
}

func mustAccount(t *testing.T, f *fixture, name string) string {
	t.Helper()
	acc, err := console.New(f.W.Store).CreateAccount(context.Background(), name, "otra-clave-9", false)
	must(t, err)
	return acc.ID.String()
}

// TestDeactivateAccountAsksFirst: without confirmar=1 the deactivation shows
// a confirmation page and changes nothing.
func TestDeactivateAccountAsksFirst(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	other := mustAccount(t, f, "beto")
	p := b.post("/admin/accounts/"+other+"/active/", url.Values{"csrf_token": {b.token("/admin/")}, "is_active": {"false"}})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="confirmar" value="1"`) || !strings.Contains(p.Body, "beto") {
		t.Fatalf("first step: %d, want a confirmation page naming the account", p.Status)
	}
	var acc store.StaffAccount
	must(t, f.W.Store.DB.Where("id = ?", other).Take(&acc).Error)
	var n int64
	must(t, f.W.Store.DB.Model(&store.StaffAudit{}).Count(&n).Error)
	if !acc.IsActive || n != 0 {
		t.Fatalf("the first step changed data: active %v, %d entries", acc.IsActive, n)
	}
}
