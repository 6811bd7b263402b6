package consoleweb_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hermez/pkg/account"
	"hermez/pkg/audit"
	"hermez/pkg/auth"
	"hermez/pkg/config"
	"hermez/pkg/console"
	"hermez/pkg/consoleweb"
	"hermez/pkg/input"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func (f *fixture) getPaths() []string {
	return []string{"/admin/", "/admin", "/admin/vehicles/", "/admin/vehicles/" + f.Vehicle.VehicleID.String() + "/",
		"/admin/categories/", "/admin/categories/new/", "/admin/categories/" + f.Category.ID.String() + "/",
		"/admin/vehicle-types/", "/admin/vehicle-types/new/", "/admin/vehicle-types/" + f.VType.ID.String() + "/",
		"/admin/users/", "/admin/users/" + f.Driver.UserID + "/", "/admin/quotes/", "/admin/quotes/" + f.Quote.ID.String() + "/",
		"/admin/offers/", "/admin/deliveries/", "/admin/deliveries/" + f.Delivery.ID.String() + "/", "/admin/accounts/",
		"/admin/no-such-page/"}
}

func (f *fixture) postPaths() []string {
	return []string{"/admin/logout/", "/admin/vehicles/" + f.Vehicle.VehicleID.String() + "/", "/admin/categories/new/",
		"/admin/categories/" + f.Category.ID.String() + "/", "/admin/vehicle-types/new/", "/admin/vehicle-types/" + f.VType.ID.String() + "/",
		"/admin/users/" + f.Driver.UserID + "/staff/", "/admin/accounts/" + f.Staff.ID.String() + "/active/"}
}

func approveAll() url.Values {
	return url.Values{"driverLicenseStatus": {"approved"}, "registrationCardStatus": {"approved"},
		"insurancePolicyStatus": {"approved"}, "criminalRecordStatus": {"approved"}, "isVerified": {"true"},
		"verificationNotes": {"Todo en regla"}, "is_staff": {"true"}, "name": {"Nueva"}, "is_active": {"false"},
		"max_weight_capacity_kg": {"1"}, "max_volume_capacity_liters": {"1"}, "passenger_capacity": {"1"}}
}

func (f *fixture) vehicleRow(t *testing.T) store.Vehicle {
	t.Helper()
	var v store.Vehicle
	must(t, f.W.Store.DB.Where("vehicle_id = ?", f.Vehicle.VehicleID).Take(&v).Error)
	return v
}

func (f *fixture) assertNothingChanged(t *testing.T) {
	t.Helper()
	if v := f.vehicleRow(t); v.IsVerified || v.DriverLicenseStatus != "pending" {
		t.Fatalf("vehicle changed: %+v", v)
	}
	var n int64
	must(t, f.W.Store.DB.Model(&store.Category{}).Where("name = ?", "Nueva").Count(&n).Error)
	var u store.User
	must(t, f.W.Store.DB.Where("userid = ?", f.Driver.UserID).Take(&u).Error)
	var acc store.StaffAccount
	must(t, f.W.Store.DB.Where("id = ?", f.Staff.ID).Take(&acc).Error)
	if n != 0 || u.IsStaff || !acc.IsActive {
		t.Fatalf("a refused request changed data: categories %d, is_staff %v, account active %v", n, u.IsStaff, acc.IsActive)
	}
}

func TestLoginRequiredEverywhere(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, p := range f.getPaths() {
		res := b.get(p)
		if res.Status != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login/?next=") {
			t.Errorf("GET %s without session: %d %q, want 302 to the login page", p, res.Status, res.Header.Get("Location"))
		}
	}
	// Even with a valid-looking CSRF token of an anonymous session.
	tok := b.token("/admin/login/")
	for _, p := range f.postPaths() {
		form := approveAll()
		form.Set("csrf_token", tok)
		if res := b.post(p, form); !isLoginRedirect(res) {
			t.Errorf("POST %s without a staff session: %d %q, want a redirect to login", p, res.Status, res.Header.Get("Location"))
		}
	}
	// An app user's JWT (even a staff user's) opens the API, not the console.
	must(t, account.New(f.W.Store, nil, nil).SetStaff(context.Background(), nil, f.Driver.UserID, true, account.UnknownCreate))
	tokJWT := f.W.Token(t, f.Driver.UserID)
	for _, p := range f.getPaths() {
		if res := b.do(http.MethodGet, p, nil, "Authorization", "Bearer "+tokJWT); !isLoginRedirect(res) {
			t.Errorf("GET %s with a JWT: %d, want a redirect to login", p, res.Status)
		}
	}
	must(t, account.New(f.W.Store, nil, nil).SetStaff(context.Background(), nil, f.Driver.UserID, false, account.UnknownCreate))
	// A forged cookie is no session.
	jar := b.c.Jar
	u, _ := url.Parse(f.W.URL + "/admin/")
	jar.SetCookies(u, []*http.Cookie{{Name: consoleweb.CookieName, Value: "forged", Path: "/admin/"}})
	if res := b.get("/admin/"); !isLoginRedirect(res) {
		t.Errorf("forged cookie: %d", res.Status)
	}
	f.assertNothingChanged(t)
}

func TestLoginLogoutAndPages(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	// next= is honoured for console paths only (no open redirect).
	lp := b.get("/admin/login/?next=/admin/quotes/")
	res := b.post("/admin/login/", url.Values{"csrf_token": {csrf(t, lp)}, "username": {"ana"}, "password": {staffPass}, "next": {"https://evil.example/"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/admin/" {
		t.Fatalf("login with a foreign next: %d %q", res.Status, res.Header.Get("Location"))
	}
	if res := b.get("/admin/login/"); res.Status != http.StatusFound || res.Header.Get("Location") != "/admin/" {
		t.Errorf("login page with a session: %d %q", res.Status, res.Header.Get("Location"))
	}
	var acc store.StaffAccount
	must(t, f.W.Store.DB.Where("id = ?", f.Staff.ID).Take(&acc).Error)
	if acc.LastLoginAt == nil {
		t.Error("last_login_at not recorded")
	}
	want := map[string][]string{
		"/admin/":          {`id="pending-quotes">1<`, `id="drivers-available">1<`, `id="vehicles-awaiting">1<`, `data-status="in_transit">1<`},
		"/admin/vehicles/": {"ABC12D", "Pedro Pérez"},
		"/admin/vehicles/" + f.Vehicle.VehicleID.String() + "/": {"Licencia de conducción", "pedro@example.com"},
		"/admin/categories/":                                {"Paquetes", "Alimentos"},
		"/admin/vehicle-types/":                             {"Mototaxi", "150.00"},
		"/admin/users/?q=PEDRO":                             {"Pedro Pérez"},
		"/admin/users/" + f.Driver.UserID + "/":             {"ABC12D", "Dar permisos de personal"},
		"/admin/quotes/?estado=vigentes":                    {"Calle 1 # 2-3", "$12.000"},
		"/admin/quotes/" + f.Quote.ID.String() + "/":        {"$13.000", "Frágil"},
		"/admin/offers/?estado=vigentes":                    {"$13.000"},
		"/admin/deliveries/?estado=in_transit&pago=nequi":   {"Av. 68 # 10"},
		"/admin/deliveries/" + f.Delivery.ID.String() + "/": {"Cotización creada", "Oferta aceptada", "Cambio de estado", "ABC12D"},
		"/admin/accounts/":                                  {"ana"},
	}
	for p, needles := range want {
		res := b.get(p)
		if res.Status != http.StatusOK {
			t.Errorf("GET %s: %d", p, res.Status)
			continue
		}
		for _, n := range needles {
			if !strings.Contains(res.Body, n) {
				t.Errorf("GET %s: missing %q", p, n)
			}
		}
		if res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: security headers %v", p, res.Header)
		}
	}
	// Filters exclude: a search that matches nothing; LIKE wildcards are literal.
	for _, p := range []string{"/admin/users/?q=%25", "/admin/deliveries/?estado=paid"} {
		if res := b.get(p); strings.Contains(res.Body, "Pedro Pérez") || strings.Contains(res.Body, "Calle 1 # 2-3") || strings.Contains(res.Body, "Av. 68") {
			t.Errorf("GET %s: filter did not exclude the fixture rows", p)
		}
	}
	if res := b.get("/admin/no-such-page/"); res.Status != http.StatusNotFound {
		t.Errorf("unknown console page: %d", res.Status)
	}
	if res := b.get("/admin/vehicles/not-a-uuid/"); res.Status != http.StatusNotFound {
		t.Errorf("bad id: %d", res.Status)
	}
	// Logout ends the session.
	res = b.post("/admin/logout/", url.Values{"csrf_token": {b.token("/admin/")}})
	if !isLoginRedirect(res) {
		t.Fatalf("logout: %d", res.Status)
	}
	if res := b.get("/admin/"); !isLoginRedirect(res) {
		t.Fatalf("after logout: %d", res.Status)
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for _, c := range []struct{ user, pass string }{{"ana", "otra-clave-9"}, {"nadie", staffPass}, {"ana", ""}, {"ANA", staffPass}} {
		res := b.loginAs(c.user, c.pass)
		if res.Status != http.StatusUnauthorized || !strings.Contains(res.Body, "Introduzca un nombre de usuario y una contraseña correctos") {
			t.Errorf("login %s/%q: %d", c.user, c.pass, res.Status)
		}
		if res := b.get("/admin/"); !isLoginRedirect(res) {
			t.Errorf("after a failed login as %s the console opened: %d", c.user, res.Status)
		}
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	// The login form itself needs the token.
	b.get("/admin/login/")
	if res := b.post("/admin/login/", url.Values{"username": {"ana"}, "password": {staffPass}}); res.Status != http.StatusForbidden {
		t.Fatalf("login without CSRF token: %d", res.Status)
	}
	b.mustLogin()
	other := f.browser(t)
	other.mustLogin()
	foreign := other.token("/admin/")
	for _, p := range f.postPaths() {
		for name, tok := range map[string]string{"missing": "", "wrong": "abc", "another session's": foreign} {
			form := approveAll()
			if tok != "" {
				form.Set("csrf_token", tok)
			}
			if res := b.post(p, form); res.Status != http.StatusForbidden || !strings.Contains(res.Body, "CSRF") {
				t.Errorf("POST %s with a %s token: %d, want 403", p, name, res.Status)
			}
		}
	}
	f.assertNothingChanged(t)
	// With the right token the same request works, and the session survives.
	form := approveAll()
	form.Set("csrf_token", b.token("/admin/"))
	if res := b.post("/admin/vehicles/"+f.Vehicle.VehicleID.String()+"/", form); res.Status != http.StatusSeeOther {
		t.Fatalf("POST with token: %d\n%s", res.Status, res.Body)
	}
	if v := f.vehicleRow(t); !v.IsVerified {
		t.Fatal("vehicle not verified")
	}
}

func TestInactiveAccountCannotReachAnyPage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := f.browser(t)
	b.mustLogin()
	if res := b.get("/admin/"); res.Status != http.StatusOK {
		t.Fatalf("dashboard: %d", res.Status)
	}
	tok := b.token("/admin/")
	must(t, console.New(f.W.Store).SetAccountActive(ctx, &audit.Staff{ID: f.Staff.ID, Username: f.Staff.Username}, f.Staff.ID, false))
	for _, p := range f.getPaths() {
		if res := b.get(p); !isLoginRedirect(res) {
			t.Errorf("GET %s by a deactivated account: %d", p, res.Status)
		}
	}
	for _, p := range f.postPaths() {
		form := approveAll()
		form.Set("csrf_token", tok)
		if res := b.post(p, form); !isLoginRedirect(res) {
			t.Errorf("POST %s by a deactivated account: %d", p, res.Status)
		}
	}
	f2 := f.browser(t)
	if res := f2.loginAs("ana", staffPass); res.Status != http.StatusUnauthorized {
		t.Errorf("inactive account logged in: %d", res.Status)
	}
	must(t, console.New(f.W.Store).SetAccountActive(ctx, &audit.Staff{ID: f.Staff.ID, Username: f.Staff.Username}, f.Staff.ID, true))
	f.assertNothingChanged(t)

	// A new password (createsuperuser --update) ends older sessions.
	b.mustLogin()
	if _, err := console.New(f.W.Store).CreateAccount(ctx, "ana", "nueva-clave-2", true); err != nil {
		t.Fatal(err)
	}
	if res := b.get("/admin/"); !isLoginRedirect(res) {
		t.Errorf("session survived a password change: %d", res.Status)
	}
	if res := b.loginAs("ana", "nueva-clave-2"); res.Status != http.StatusSeeOther {
		t.Errorf("login with the new password: %d", res.Status)
	}
	// Staff cannot deactivate themselves.
	res := b.post("/admin/accounts/"+f.Staff.ID.String()+"/active/", url.Values{"csrf_token": {b.token("/admin/")}, "is_active": {"false"}})
	if res.Status != http.StatusBadRequest {
		t.Errorf("self-deactivation: %d", res.Status)
	}
}

func TestSessionExpires(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	f.Skew.Store(int64(consoleweb.SessionTTL + time.Minute))
	if res := b.get("/admin/"); !isLoginRedirect(res) {
		t.Fatalf("expired session still works: %d", res.Status)
	}
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	for i := 0; i < consoleweb.LoginFailsPerIP; i++ {
		if res := b.loginAs("ana", "mala-clave-1"); res.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.Status)
		}
	}
	// Now even the right password is refused, without checking it.
	res := b.loginAs("ana", staffPass)
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(res.Body, "Demasiados intentos") {
		t.Fatalf("6th attempt: %d (Retry-After %q)", res.Status, res.Header.Get("Retry-After"))
	}
	if res := b.get("/admin/"); !isLoginRedirect(res) {
		t.Fatal("rate-limited login opened a session")
	}
	// Another username from the same address is not blocked.
	if res := b.loginAs("otro", "mala-clave-1"); res.Status != http.StatusUnauthorized {
		t.Fatalf("other username: %d", res.Status)
	}
	// After the window the right password works again.
	f.Skew.Store(int64(consoleweb.LoginWindow + time.Second))
	if res := b.loginAs("ana", staffPass); res.Status != http.StatusSeeOther {
		t.Fatalf("after the window: %d", res.Status)
	}
}

func TestVerifyVehicleValidates(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	path := "/admin/vehicles/" + f.Vehicle.VehicleID.String() + "/"
	tok := b.token(path)
	cases := []struct {
		form url.Values
		msg  string
	}{
		{url.Values{"driverLicenseStatus": {"ok"}, "registrationCardStatus": {"approved"}, "insurancePolicyStatus": {"approved"}, "criminalRecordStatus": {"approved"}},
			"&#34;ok&#34; no es una elección válida."},
		{url.Values{"registrationCardStatus": {"approved"}, "insurancePolicyStatus": {"approved"}, "criminalRecordStatus": {"approved"}},
			"Este campo es requerido."},
		{url.Values{"driverLicenseStatus": {"approved"}, "registrationCardStatus": {"rejected"}, "insurancePolicyStatus": {"approved"}, "criminalRecordStatus": {"approved"}, "isVerified": {"true"}},
			"Solo se puede verificar un vehículo con todos sus documentos aprobados."},
		{url.Values{"driverLicenseStatus": {"approved"}, "registrationCardStatus": {"approved"}, "insurancePolicyStatus": {"approved"}, "criminalRecordStatus": {"approved"}, "verificationNotes": {strings.Repeat("x", 2001)}},
			"no tenga más de 2000 caracteres"},
	}
	for i, c := range cases {
		c.form.Set("csrf_token", tok)
		res := b.post(path, c.form)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, c.msg) || !strings.Contains(res.Body, `aria-invalid="true"`) {
			t.Errorf("case %d: %d, want 400 with %q", i, res.Status, c.msg)
		}
	}
	if v := f.vehicleRow(t); v.IsVerified || v.DriverLicenseStatus != "pending" || v.RegistrationCardStatus != "pending" {
		t.Fatalf("invalid forms changed the vehicle: %+v", v)
	}
	// Reject one document with a note, then approve all.
	form := url.Values{"csrf_token": {tok}, "driverLicenseStatus": {"approved"}, "registrationCardStatus": {"rejected"},
		"insurancePolicyStatus": {"pending"}, "criminalRecordStatus": {"approved"}, "verificationNotes": {"  Tarjeta ilegible  "}}
	if res := b.post(path, form); res.Status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.Status, res.Body)
	}
	v := f.vehicleRow(t)
	if v.RegistrationCardStatus != "rejected" || v.InsurancePolicyStatus != "pending" || v.IsVerified || v.VerificationNotes == nil || *v.VerificationNotes != "Tarjeta ilegible" {
		t.Fatalf("after save: %+v", v)
	}
	form = url.Values{"csrf_token": {tok}, "driverLicenseStatus": {"approved"}, "registrationCardStatus": {"approved"},
		"insurancePolicyStatus": {"approved"}, "criminalRecordStatus": {"approved"}, "isVerified": {"true"}, "verificationNotes": {""}}
	if res := b.post(path, form); res.Status != http.StatusSeeOther {
		t.Fatalf("verify: %d", res.Status)
	}
	if v := f.vehicleRow(t); !v.IsVerified || v.VerificationNotes != nil || v.InsurancePolicyStatus != "approved" {
		t.Fatalf("after verify: %+v", v)
	}
	if res := b.get("/admin/vehicles/"); strings.Contains(res.Body, "ABC12D") {
		t.Error("a verified vehicle is still listed as awaiting verification")
	}
	if res := b.get("/admin/vehicles/?estado=verificados"); !strings.Contains(res.Body, "ABC12D") {
		t.Error("verified vehicle missing from the verified list")
	}
	// Nothing is published: docs/realtime.md has no event for vehicle edits.
	if msgs := f.W.Recorder.Take(); len(msgs) != 0 {
		t.Errorf("published %d frames", len(msgs))
	}
}

var idRe = regexp.MustCompile(`/admin/categories/([0-9a-f-]{36})/">Mensajería`)

func TestCategoriesAndVehicleTypes(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	tok := b.token("/admin/categories/new/")
	apiJWT := f.W.Token(t, "user_cat_reader")
	apiNames := func() string {
		var list []struct{ Name string }
		f.W.Do(t, "GET", "/deliveries/api/categories/", apiJWT, nil).JSON(t, &list)
		var names []string
		for _, c := range list {
			names = append(names, c.Name)
		}
		return strings.Join(names, ",")
	}
	if n := apiNames(); strings.Contains(n, "Mensajería") { // the API's list is now cached
		t.Fatalf("API list before: %s", n)
	}
	// Validation like the API: required, length, uniqueness.
	for form, msg := range map[string]string{
		"":                       "Este campo es requerido.",
		"   ":                    "Este campo no puede estar en blanco.",
		strings.Repeat("n", 101): "no tenga más de 100 caracteres",
		"Paquetes":               "Ya existe una categoría con este nombre.",
	} {
		v := url.Values{"csrf_token": {tok}, "description": {"d"}}
		if form != "" {
			v.Set("name", form)
		}
		res := b.post("/admin/categories/new/", v)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, msg) {
			t.Errorf("category name %q: %d, want 400 with %q", form, res.Status, msg)
		}
	}
	res := b.post("/admin/categories/new/", url.Values{"csrf_token": {tok}, "name": {"Mensajería"}, "description": {"Sobres"}, "is_active": {"true"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create category: %d\n%s", res.Status, res.Body)
	}
	m := idRe.FindStringSubmatch(b.get("/admin/categories/").Body)
	if m == nil {
		t.Fatal("new category not listed")
	}
	if n := apiNames(); !strings.Contains(n, "Mensajería") {
		t.Fatalf("the API still serves the list from before the console's write: %s", n)
	}
	// Deactivate (unchecked box) and rename.
	res = b.post("/admin/categories/"+m[1]+"/", url.Values{"csrf_token": {tok}, "name": {"Mensajería urbana"}, "description": {"Sobres"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("edit category: %d", res.Status)
	}
	var cat store.Category
	must(t, f.W.Store.DB.Where("id = ?", m[1]).Take(&cat).Error)
	if cat.IsActive || cat.Name != "Mensajería urbana" {
		t.Fatalf("category after edit: %+v", cat)
	}
	// Renaming onto another's name is refused; keeping its own name is fine.
	if res := b.post("/admin/categories/"+m[1]+"/", url.Values{"csrf_token": {tok}, "name": {"Alimentos"}}); res.Status != http.StatusBadRequest {
		t.Errorf("rename onto existing: %d", res.Status)
	}
	if res := b.post("/admin/categories/"+m[1]+"/", url.Values{"csrf_token": {tok}, "name": {"Mensajería urbana"}}); res.Status != http.StatusSeeOther {
		t.Errorf("keep own name: %d", res.Status)
	}

	// Vehicle types: validation, create with links, edit links, deactivate.
	bad := url.Values{"csrf_token": {tok}, "name": {"Moto"}, "max_weight_capacity_kg": {"-1"}, "max_volume_capacity_liters": {"abc"},
		"passenger_capacity": {"1.5"}, "image": {"ftp://x"}, "delivery_categories": {"not-a-uuid"}}
	res = b.post("/admin/vehicle-types/new/", bad)
	for _, msg := range []string{"Ya existe un tipo de vehículo", "mayor o igual a 0", "Introduzca un número válido.", "Se requiere un número entero válido.", "Introduzca una URL válida.", "inválida"} {
		if !strings.Contains(res.Body, msg) {
			t.Errorf("vehicle type validation: missing %q", msg)
		}
	}
	if res.Status != http.StatusBadRequest {
		t.Errorf("vehicle type validation: %d", res.Status)
	}
	var alimentos store.Category
	must(t, f.W.Store.DB.Where("name = ?", "Alimentos").Take(&alimentos).Error)
	good := url.Values{"csrf_token": {tok}, "name": {"Bicicleta"}, "description": {"Cero emisiones"}, "max_weight_capacity_kg": {"20.5"},
		"max_volume_capacity_liters": {"40"}, "passenger_capacity": {"0"}, "image": {"https://example.com/bici.png"}, "is_active": {"true"},
		"delivery_categories": {alimentos.ID.String(), f.Category.ID.String()}}
	if res := b.post("/admin/vehicle-types/new/", good); res.Status != http.StatusSeeOther {
		t.Fatalf("create vehicle type: %d\n%s", res.Status, res.Body)
	}
	var vt store.VehicleType
	must(t, f.W.Store.DB.Preload("Categories").Where("name = ?", "Bicicleta").Take(&vt).Error)
	if len(vt.Categories) != 2 || !vt.IsActive || vt.MaxWeightCapacityKg.StringFixed(2) != "20.50" || vt.Image == nil {
		t.Fatalf("created vehicle type: %+v", vt)
	}
	edit := url.Values{"csrf_token": {tok}, "name": {"Bicicleta"}, "max_weight_capacity_kg": {"25"}, "max_volume_capacity_liters": {"40"},
		"passenger_capacity": {"0"}, "image": {""}, "delivery_categories": {f.Category.ID.String()}}
	if res := b.post("/admin/vehicle-types/"+vt.ID.String()+"/", edit); res.Status != http.StatusSeeOther {
		t.Fatalf("edit vehicle type: %d\n%s", res.Status, res.Body)
	}
	vt = store.VehicleType{}
	must(t, f.W.Store.DB.Preload("Categories").Where("name = ?", "Bicicleta").Take(&vt).Error)
	if len(vt.Categories) != 1 || vt.Categories[0].ID != f.Category.ID || vt.IsActive || vt.Image != nil {
		t.Fatalf("edited vehicle type: %+v", vt)
	}
	if msgs := f.W.Recorder.Take(); len(msgs) != 0 {
		t.Errorf("published %d frames", len(msgs))
	}
}

func TestUserStaffFlag(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	path := "/admin/users/" + f.Driver.UserID + "/"
	tok := b.token(path)
	// The API sees the flag at once, though it had just authenticated (and
	// cached) the driver without it.
	jwt, err := f.W.Dev.Mint(f.Driver.UserID, auth.TokenOptions{Name: "Pedro Pérez"})
	must(t, err)
	apiStatus := func() int { return f.W.Do(t, "GET", "/deliveries/api/?filter_by=all", jwt, nil).Status }
	if s := apiStatus(); s != http.StatusForbidden {
		t.Fatalf("before the grant: %d", s)
	}
	if res := b.post(path+"staff/", url.Values{"csrf_token": {tok}, "is_staff": {"true"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("grant: %d", res.Status)
	}
	if s := apiStatus(); s != http.StatusOK {
		t.Fatalf("API right after the grant: %d, want 200", s)
	}
	var u store.User
	must(t, f.W.Store.DB.Where("userid = ?", f.Driver.UserID).Take(&u).Error)
	if !u.IsStaff {
		t.Fatal("staff flag not set")
	}
	if res := b.get(path); !strings.Contains(res.Body, "Quitar permisos de personal") {
		t.Error("user page does not offer to remove staff")
	}
	if res := b.get("/admin/users/?staff=1"); !strings.Contains(res.Body, "Pedro Pérez") || strings.Contains(res.Body, "Carla") {
		t.Error("staff filter")
	}
	if res := b.post(path+"staff/", url.Values{"csrf_token": {tok}, "is_staff": {"false"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.Status)
	}
	if s := apiStatus(); s != http.StatusForbidden {
		t.Fatalf("API right after the revoke: %d, want 403", s)
	}
	must(t, f.W.Store.DB.Where("userid = ?", f.Driver.UserID).Take(&u).Error)
	if u.IsStaff {
		t.Fatal("staff flag not removed")
	}
	if res := b.post("/admin/users/user_nobody/staff/", url.Values{"csrf_token": {tok}, "is_staff": {"true"}}); res.Status != http.StatusNotFound {
		t.Errorf("unknown user: %d", res.Status)
	}
	if res := b.post(path+"staff/", url.Values{"csrf_token": {tok}, "is_staff": {"maybe"}}); res.Status != http.StatusBadRequest {
		t.Errorf("bad value: %d", res.Status)
	}
}

func TestStaticAssets(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	login := b.get("/admin/login/")
	css := regexp.MustCompile(`/admin/static/app\.[0-9a-f]{12}\.css`).FindString(login.Body)
	js := regexp.MustCompile(`/admin/static/app\.[0-9a-f]{12}\.js`).FindString(login.Body)
	if css == "" || js == "" {
		t.Fatalf("hashed asset links missing:\n%s", login.Body)
	}
	// Go's transport would decompress transparently; ask explicitly.
	res := b.do(http.MethodGet, css, nil, "Accept-Encoding", "gzip")
	if res.Status != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" ||
		res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d %v", res.Status, res.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(res.Body)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !strings.Contains(string(plain), ":root") {
		t.Fatal("gzip body is not the stylesheet")
	}
	raw := b.do(http.MethodGet, js, nil, "Accept-Encoding", "identity")
	if raw.Status != http.StatusOK || raw.Header.Get("Content-Encoding") != "" || !strings.Contains(raw.Body, "data-approve-all") {
		t.Fatalf("js identity: %d %v", raw.Status, raw.Header)
	}
	if res := b.do(http.MethodGet, css, nil, "If-None-Match", res.Header.Get("ETag")); res.Status != http.StatusNotModified {
		t.Errorf("conditional GET: %d", res.Status)
	}
	for _, p := range []string{"/admin/static/app.css", "/admin/static/app.000000000000.css"} {
		if res := b.get(p); res.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.Status)
		}
	}
}

func TestCookieFlags(t *testing.T) {
	for _, debug := range []bool{true, false} {
		w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.Debug = debug }})
		res, err := http.Get(w.URL + "/admin/login/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var ck *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == consoleweb.CookieName {
				ck = c
			}
		}
		if ck == nil {
			t.Fatal("no session cookie on the login page")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure == debug || ck.Path != "/admin/" || ck.MaxAge <= 0 {
			t.Errorf("debug=%v cookie: %+v", debug, ck)
		}
	}
}

// Issue 12 §2 (moved from httpapi's TestNumbersOutOfRangeOnEveryField when
// the form decoding moved here): the integer and numeric(10,2) columns of a
// vehicle type refuse what does not fit, as 400 field errors.
func TestVehicleTypeNumbersOutOfRange(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	tok := b.token("/admin/vehicle-types/new/")
	const big = "18446744073709551621" // 2^64+5: wrapped to 5 before
	for key, c := range map[string]struct{ val, msg string }{
		"passenger_capacity":         {big, input.MsgMax(input.MaxInt32)},
		"max_weight_capacity_kg":     {"123456789012", "Asegúrese de que no haya más de 10 dígitos en total."},
		"max_volume_capacity_liters": {"1e5", input.MsgNumber},
	} {
		form := url.Values{"csrf_token": {tok}, "name": {"Grande"}, "max_weight_capacity_kg": {"1"},
			"max_volume_capacity_liters": {"1"}, "passenger_capacity": {"1"}}
		form.Set(key, c.val)
		res := b.post("/admin/vehicle-types/new/", form)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, c.msg) {
			t.Errorf("vehicle type %s=%s: %d, want 400 with %q", key, c.val, res.Status, c.msg)
		}
	}
	var n int64
	must(t, f.W.Store.DB.Model(&store.VehicleType{}).Where("name = ?", "Grande").Count(&n).Error)
	if n != 0 {
		t.Fatalf("%d vehicle types written", n)
	}
}
