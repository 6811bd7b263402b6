package consoleweb_test

import (
	"net/http"
	"net/url"
	"testing"
)

// consoleForm is one write route of the staff console with a valid form.
type consoleForm struct {
	path string
	form url.Values
}

// FuzzConsoleForms posts the staff console's forms with one field (chosen by
// the fuzzer, or a new one) set to any value, as a logged-in staff member:
// never a 5xx. The seed corpus holds issue 12's hostile values.
func FuzzConsoleForms(f *testing.F) {
	fx := newFixture(f)
	b := fx.browser(f)
	b.mustLogin()
	v := "/admin/vehicles/" + fx.Vehicle.VehicleID.String() + "/"
	forms := []consoleForm{
		{v, url.Values{"driverLicenseStatus": {"approved"}, "registrationCardStatus": {"approved"}, "insurancePolicyStatus": {"approved"},
			"criminalRecordStatus": {"approved"}, "isVerified": {"true"}, "verificationNotes": {"ok"}}},
		{"/admin/categories/new/", url.Values{"name": {"Nueva"}, "description": {"d"}, "is_active": {"true"}}},
		{"/admin/categories/" + fx.Category.ID.String() + "/", url.Values{"name": {"Paquetes"}, "description": {"d"}, "is_active": {"true"}}},
		{"/admin/vehicle-types/new/", url.Values{"name": {"Bici"}, "description": {"d"}, "max_weight_capacity_kg": {"20"},
			"max_volume_capacity_liters": {"40"}, "passenger_capacity": {"0"}, "is_active": {"true"}}},
		{"/admin/vehicle-types/" + fx.VType.ID.String() + "/", url.Values{"name": {"Moto"}, "description": {"d"}, "max_weight_capacity_kg": {"20"},
			"max_volume_capacity_liters": {"40"}, "passenger_capacity": {"1"}, "is_active": {"true"}, "delivery_categories": {fx.Category.ID.String()}}},
		{"/admin/users/" + fx.Driver.UserID + "/staff/", url.Values{"is_staff": {"false"}}},
		{"/admin/accounts/" + fx.Staff.ID.String() + "/active/", url.Values{"is_active": {"true"}}},
	}
	keys := []string{"name", "description", "verificationNotes", "driverLicenseStatus", "isVerified", "max_weight_capacity_kg",
		"max_volume_capacity_liters", "passenger_capacity", "image", "delivery_categories", "is_active", "is_staff"}
	for i := range forms {
		for k := range keys {
			for _, val := range []string{"x\x00y", "\xa5\xff", "18446744073709551621", "1e309", "-1", "99999999999.999", "NaN", ""} {
				f.Add(uint8(i), uint8(k), val)
			}
		}
	}
	tok := b.token("/admin/")
	f.Fuzz(func(t *testing.T, route, key uint8, val string) {
		c := forms[int(route)%len(forms)]
		form := url.Values{"csrf_token": {tok}}
		for k, vs := range c.form {
			form[k] = vs
		}
		form.Set(keys[int(key)%len(keys)], val)
		bt := *b
		bt.t = t
		res := bt.post(c.path, form)
		if res.Status >= 500 {
			t.Fatalf("POST %s %v: %d", c.path, form, res.Status)
		}
		if res.Status == http.StatusForbidden {
			t.Fatalf("POST %s: the session or CSRF token was lost", c.path)
		}
	})
}

// FuzzConsoleLists reads the console's lists with one query parameter (the
// search, the order, a date, a filter) set to anything: never a 5xx, on
// either database (a search reaches SQL as LIKE patterns and translate()).
func FuzzConsoleLists(f *testing.F) {
	fx := newFixture(f)
	b := fx.browser(f)
	b.mustLogin()
	paths := []string{"/admin/users/", "/admin/deliveries/", "/admin/quotes/", "/admin/offers/", "/admin/vehicles/", "/admin/activity/"}
	keys := []string{"q", "orden", "dir", "desde", "hasta", "estado", "fecha", "pagina", "rol", "pago", "cuenta", "tipo"}
	for i := range paths {
		for k := range keys {
			for _, val := range []string{"%", "_", `\`, "'; DROP TABLE users; --", "Jorge Patiño", "ñÑ'\"", "0215eb75", "2026-02-30",
				"99999-01-01", "-1", "310 555", "x\x00y", "\xa5\xff", "precio", ""} {
				f.Add(uint8(i), uint8(k), val)
			}
		}
	}
	f.Fuzz(func(t *testing.T, path, key uint8, val string) {
		p := paths[int(path)%len(paths)]
		bt := *b
		bt.t = t
		res := bt.get(p + "?" + url.Values{keys[int(key)%len(keys)]: {val}}.Encode())
		if res.Status >= 500 {
			t.Fatalf("GET %s %s=%q: %d", p, keys[int(key)%len(keys)], val, res.Status)
		}
	})
}
