package consoleweb

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/audit"
	"hermez/pkg/console"
	"hermez/pkg/market"
	"hermez/pkg/marketinput"
	"hermez/pkg/store"
)

// --- login ---

const msgBadLogin = "Introduzca un nombre de usuario y una contraseña correctos de una cuenta del personal activa. Ambos campos distinguen mayúsculas y minúsculas."

type loginData struct {
	Username string
	Next     string
	Error    string
}

func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/admin/") ||
		strings.HasPrefix(next, "//") || strings.Contains(next, "\\") || strings.HasPrefix(u.Path, "/admin/login/") {
		return "/admin/"
	}
	return u.RequestURI()
}

func (a *Console) ensureSession(c echo.Context) (*session, error) {
	s := sessionOf(c)
	if s == nil {
		s = a.sess.fresh()
		if err := a.sess.write(c.Response(), s); err != nil {
			return nil, err
		}
		c.Set(ctxSession, s)
	}
	return s, nil
}

func (a *Console) loginForm(c echo.Context) error {
	if acc, err := a.staffOf(c.Request().Context(), sessionOf(c)); err == nil && acc != nil {
		return c.Redirect(http.StatusFound, safeNext(c.QueryParam("next")))
	}
	if _, err := a.ensureSession(c); err != nil {
		return err
	}
	return a.render(c, http.StatusOK, "login.html", "Iniciar sesión", loginData{Next: safeNext(c.QueryParam("next"))})
}

func (a *Console) login(c echo.Context) error {
	s := sessionOf(c)
	if !a.sess.csrfValid(s, c.FormValue(CSRFField)) {
		return a.forbiddenCSRF(c)
	}
	username, password := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	data := loginData{Username: username, Next: safeNext(c.FormValue("next"))}
	ip := clientIP(c)
	blocked, wait, settle := a.limit.reserve(ip, username)
	if blocked {
		mins := int(wait/time.Minute) + 1
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		data.Error = fmt.Sprintf("Demasiados intentos fallidos. Inténtelo de nuevo en %d minutos.", mins)
		a.d.Log.Warn("admin login rate limited", "ip", ip, "username", logText(username))
		return a.render(c, http.StatusTooManyRequests, "login.html", "Iniciar sesión", data)
	}
	var acc *store.StaffAccount
	var err error
	if validCredentials(username, password) {
		acc, err = a.d.Console.CheckPassword(c.Request().Context(), username, password)
	}
	if err != nil {
		settle(false)
		return a.fail(c, apperr.Wrap(err, "staff login"))
	}
	if acc == nil {
		settle(false)
		a.d.Log.Warn("admin login failed", "ip", ip, "username", logText(username))
		data.Error = msgBadLogin
		return a.render(c, http.StatusUnauthorized, "login.html", "Iniciar sesión", data)
	}
	settle(true)
	ns := a.sess.fresh()
	ns.StaffID, ns.AuthHash = acc.ID.String(), a.sess.authHash(acc.PasswordHash)
	if err := a.sess.write(c.Response(), ns); err != nil {
		return err
	}
	a.d.Log.Info("admin login", "ip", ip, "username", acc.Username)
	return c.Redirect(http.StatusSeeOther, data.Next)
}

func (a *Console) logout(c echo.Context) error {
	a.sess.clear(c.Response())
	return c.Redirect(http.StatusSeeOther, "/admin/login/")
}

// --- dashboard ---

// dashboardRefresh is how often the dashboard reloads itself (a meta
// refresh: the same URL, so the operator's filters and place stay).
const dashboardRefresh = 30

func (a *Console) dashboard(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := a.d.Console.Dashboard(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	now, err := a.d.Console.Now(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	c.Set(ctxRefresh, dashboardRefresh)
	return a.render(c, http.StatusOK, "dashboard.html", "Panel", map[string]any{"Totals": d, "Now": now,
		"Day": now.Today.Format("2006-01-02"), "StuckAssigned": console.StuckAssigned, "StuckMoving": console.StuckMoving})
}

// --- lists: filters and pages ---

type pager struct {
	Page       int
	Prev, Next string
}

// pageNumber reads ?pagina= (1 when absent or out of range).
func pageNumber(c echo.Context) int {
	if n, err := strconv.Atoi(c.QueryParam("pagina")); err == nil && n > 1 && n < 100000 {
		return n
	}
	return 1
}

// pagerOf links the pages around the one shown (more: another page follows).
func pagerOf(c echo.Context, more bool) pager {
	p := pager{Page: pageNumber(c)}
	link := func(n int) string {
		v := c.QueryParams()
		v.Set("pagina", strconv.Itoa(n))
		return c.Request().URL.Path + "?" + v.Encode()
	}
	if more {
		p.Next = link(p.Page + 1)
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	return p
}

// --- vehicles ---

func (a *Console) vehicles(c echo.Context) error {
	state := console.OneOf(c.QueryParam("estado"), console.VehiclesPending, console.VehiclesVerified, console.VehiclesAll)
	if state == "" {
		state = console.VehiclesPending
	}
	dr := rangeOf(c)
	rows, l, err := a.d.Console.Vehicles(c.Request().Context(), console.VehicleFilter{State: state, Q: dr.Q, Page: pageNumber(c)})
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, dr.status(), "vehicles.html", "Vehículos", map[string]any{
		"Rows": rows, "State": state, "Q": dr.Q, "Dates": dr, "Total": l.Total, "Pager": pagerOf(c, l.More)})
}

type vehicleForm struct {
	V         *store.Vehicle
	Owner     *store.User
	Docs      []docField
	Verified  bool
	Notes     string
	Errors    apperr.Fields
	Statuses  []string
	UsedCount int64
	Audit     []console.AuditEntry
}

type docField struct{ Key, Label, Value string }

func (a *Console) loadVehicle(c echo.Context) (*store.Vehicle, *store.User, error) {
	id, err := paramUUID(c)
	if err != nil {
		return nil, nil, err
	}
	return a.d.Console.Vehicle(c.Request().Context(), id)
}

func newVehicleForm(v *store.Vehicle, owner *store.User) *vehicleForm {
	f := &vehicleForm{V: v, Owner: owner, Verified: v.IsVerified, Statuses: account.DocumentStatuses}
	vals := map[string]string{"driverLicenseStatus": v.DriverLicenseStatus, "registrationCardStatus": v.RegistrationCardStatus,
		"insurancePolicyStatus": v.InsurancePolicyStatus, "criminalRecordStatus": v.CriminalRecordStatus}
	for _, d := range account.DocumentFields {
		f.Docs = append(f.Docs, docField{Key: d.Key, Label: d.Label, Value: vals[d.Key]})
	}
	if v.VerificationNotes != nil {
		f.Notes = *v.VerificationNotes
	}
	return f
}

func (a *Console) vehicle(c echo.Context) error {
	v, owner, err := a.loadVehicle(c)
	if err != nil {
		return a.fail(c, err)
	}
	f := newVehicleForm(v, owner)
	if f.Audit, err = a.d.Console.AuditOf(c.Request().Context(), audit.KindVehicle, v.VehicleID.String()); err != nil {
		return a.fail(c, err)
	}
	return a.render(c, http.StatusOK, "vehicle.html", "Vehículo "+v.LicensePlate, f)
}

func (a *Console) vehicleSave(c echo.Context) error {
	v, owner, err := a.loadVehicle(c)
	if err != nil {
		return a.fail(c, err)
	}
	body, vals, err := formBody(c, "isVerified")
	if err != nil {
		return a.fail(c, err)
	}
	if _, err := a.d.Account.VerifyVehicle(c.Request().Context(), actor(c), v.VehicleID, decodeVerification(body)); err != nil {
		fe := fieldErrors(err)
		if fe == nil {
			return a.fail(c, err)
		}
		f := newVehicleForm(v, owner)
		for i := range f.Docs {
			f.Docs[i].Value = vals[f.Docs[i].Key]
		}
		f.Verified, f.Notes, f.Errors = vals["isVerified"] == "true", vals["verificationNotes"], fe
		return a.render(c, http.StatusBadRequest, "vehicle.html", "Vehículo "+v.LicensePlate, f)
	}
	a.d.Log.Info("admin vehicle verification", "staff", staffOf(c).Username, "vehicle", v.VehicleID,
		"is_verified", vals["isVerified"])
	return c.Redirect(http.StatusSeeOther, "/admin/vehicles/"+v.VehicleID.String()+"/?guardado=1")
}

// --- categories ---

func (a *Console) categories(c echo.Context) error {
	cs, err := a.d.Console.Categories(c.Request().Context())
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, http.StatusOK, "categories.html", "Categorías", cs)
}

type categoryForm struct {
	Audit  []console.AuditEntry
	New    bool
	ID     string
	Values map[string]string
	Errors apperr.Fields
}

func (a *Console) categoryForm(c echo.Context) error {
	f := categoryForm{New: c.Param("id") == "", Values: map[string]string{"is_active": "true"}}
	if !f.New {
		id, err := paramUUID(c)
		if err != nil {
			return a.fail(c, err)
		}
		cat, err := a.d.Console.Category(c.Request().Context(), id)
		if err != nil {
			return a.fail(c, err)
		}
		f.ID = cat.ID.String()
		f.Values = map[string]string{"name": cat.Name, "description": cat.Description, "is_active": strconv.FormatBool(cat.IsActive)}
		if f.Audit, err = a.d.Console.AuditOf(c.Request().Context(), audit.KindCategory, f.ID); err != nil {
			return a.fail(c, err)
		}
	}
	return a.render(c, http.StatusOK, "category.html", categoryTitle(f), f)
}

func categoryTitle(f categoryForm) string {
	if f.New {
		return "Nueva categoría"
	}
	return "Editar categoría"
}

func (a *Console) categorySave(c echo.Context) error {
	id, err := optionalID(c)
	if err != nil {
		return a.fail(c, err)
	}
	body, vals, err := formBody(c, "is_active")
	if err != nil {
		return a.fail(c, err)
	}
	cat, err := a.d.Market.SaveCategory(c.Request().Context(), actor(c), id, marketinput.Category(body, false))
	if err != nil {
		fe := fieldErrors(err)
		if fe == nil {
			return a.fail(c, err)
		}
		f := categoryForm{New: id == nil, Values: vals, Errors: fe}
		if id != nil {
			f.ID = id.String()
		}
		return a.render(c, http.StatusBadRequest, "category.html", categoryTitle(f), f)
	}
	a.d.Log.Info("admin category saved", "staff", staffOf(c).Username, "category", cat.ID)
	return c.Redirect(http.StatusSeeOther, "/admin/categories/?guardado=1")
}

// --- vehicle types ---

func (a *Console) vehicleTypes(c echo.Context) error {
	ts, err := a.d.Console.VehicleTypes(c.Request().Context())
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, http.StatusOK, "vehicle_types.html", "Tipos de vehículo", ts)
}

type vehicleTypeForm struct {
	Audit      []console.AuditEntry
	New        bool
	ID         string
	Values     map[string]string
	Selected   []string
	Categories []store.Category
	Errors     apperr.Fields
}

func vehicleTypeTitle(f vehicleTypeForm) string {
	if f.New {
		return "Nuevo tipo de vehículo"
	}
	return "Editar tipo de vehículo"
}

func (a *Console) vehicleTypeForm(c echo.Context) error {
	cats, err := a.d.Console.Categories(c.Request().Context())
	if err != nil {
		return a.fail(c, err)
	}
	f := vehicleTypeForm{New: c.Param("id") == "", Categories: cats, Values: map[string]string{
		"is_active": "true", "max_weight_capacity_kg": "0", "max_volume_capacity_liters": "0", "passenger_capacity": "0"}}
	if !f.New {
		id, err := paramUUID(c)
		if err != nil {
			return a.fail(c, err)
		}
		vt, err := a.d.Console.VehicleType(c.Request().Context(), id)
		if err != nil {
			return a.fail(c, err)
		}
		f.ID = vt.ID.String()
		img := ""
		if vt.Image != nil {
			img = *vt.Image
		}
		f.Values = map[string]string{"name": vt.Name, "description": vt.Description,
			"max_weight_capacity_kg": vt.MaxWeightCapacityKg.StringFixed(2), "max_volume_capacity_liters": vt.MaxVolumeCapacityLiters.StringFixed(2),
			"passenger_capacity": strconv.Itoa(vt.PassengerCapacity), "image": img, "is_active": strconv.FormatBool(vt.IsActive)}
		for _, cat := range vt.Categories {
			f.Selected = append(f.Selected, cat.ID.String())
		}
		if f.Audit, err = a.d.Console.AuditOf(c.Request().Context(), audit.KindVehicleType, f.ID); err != nil {
			return a.fail(c, err)
		}
	}
	return a.render(c, http.StatusOK, "vehicle_type.html", vehicleTypeTitle(f), f)
}

func (a *Console) vehicleTypeSave(c echo.Context) error {
	id, err := optionalID(c)
	if err != nil {
		return a.fail(c, err)
	}
	body, vals, err := formBody(c, "is_active")
	if err != nil {
		return a.fail(c, err)
	}
	form, _ := c.FormParams()
	selected := form["delivery_categories"]
	if selected == nil {
		selected = []string{}
	}
	body.Set("delivery_categories", selected)
	vt, err := a.d.Account.SaveVehicleType(c.Request().Context(), actor(c), id, decodeVehicleType(body))
	if err != nil {
		fe := fieldErrors(err)
		if fe == nil {
			return a.fail(c, err)
		}
		cats, cerr := a.d.Console.Categories(c.Request().Context())
		if cerr != nil {
			return a.fail(c, cerr)
		}
		f := vehicleTypeForm{New: id == nil, Values: vals, Selected: selected, Categories: cats, Errors: fe}
		if id != nil {
			f.ID = id.String()
		}
		return a.render(c, http.StatusBadRequest, "vehicle_type.html", vehicleTypeTitle(f), f)
	}
	a.d.Log.Info("admin vehicle type saved", "staff", staffOf(c).Username, "vehicle_type", vt.ID)
	return c.Redirect(http.StatusSeeOther, "/admin/vehicle-types/?guardado=1")
}

// --- users ---

func (a *Console) users(c echo.Context) error {
	dr := rangeOf(c)
	sorter, sort := sortOf(c, "alta", console.UserSorts)
	f := console.UserFilter{Q: dr.Q, Role: console.OneOf(c.QueryParam("rol"), "client", "delivery"),
		State:     console.OneOf(c.QueryParam("estado"), console.UsersCurrent, console.UsersSuspended, console.UsersDeleted),
		StaffOnly: c.QueryParam("staff") == "1", Available: c.QueryParam("disponible") == "1", Online: c.QueryParam("enlinea") == "1",
		Joined: dr.Range, Sort: sort, Page: pageNumber(c)}
	us, l, err := a.d.Console.Users(c.Request().Context(), f)
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, dr.status(), "users.html", "Usuarios", map[string]any{
		"Users": us, "F": f, "Dates": dr, "Sort": sorter, "Total": l.Total, "Pager": pagerOf(c, l.More)})
}

func (a *Console) user(c echo.Context) error { return a.userPage(c, http.StatusOK, c.Param("id"), nil) }

// userPage renders a user's page; form holds a refused form's values and
// errors (ReasonErrors, Reason).
func (a *Console) userPage(c echo.Context, status int, id string, form map[string]any) error {
	ctx := c.Request().Context()
	d, err := a.d.Console.User(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	entries, err := a.d.Console.AuditOf(ctx, audit.KindUser, id)
	if err != nil {
		return a.fail(c, err)
	}
	data := map[string]any{"U": d.U, "Vehicles": d.Vehicles, "AsClient": d.AsClient, "AsDriver": d.AsDriver, "Audit": entries}
	for k, v := range form {
		data[k] = v
	}
	return a.render(c, status, "user.html", personName(&d.U), data)
}

func (a *Console) userStaff(c echo.Context) error {
	body, vals, err := formBody(c)
	if err != nil {
		return a.fail(c, err)
	}
	f := apperr.Fields{}
	staff, _ := body.Bool("is_staff", f, true)
	if err := f.Err(); err != nil {
		return a.fail(c, err)
	}
	id := c.Param("id")
	// The console changes users the app has seen: an unknown id is a 404.
	if err := a.d.Account.SetStaff(c.Request().Context(), actor(c), id, staff, account.UnknownNotFound); err != nil {
		return a.fail(c, err)
	}
	a.d.Log.Info("admin staff flag", "staff", staffOf(c).Username, "userid", id, "is_staff", vals["is_staff"])
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(id)+"/?guardado=1")
}

// --- quotes, offers, deliveries (read-only) ---

func (a *Console) quotes(c echo.Context) error {
	dr := rangeOf(c)
	sorter, sort := sortOf(c, "creada", console.QuoteSorts)
	// A quote row is always pending (accepted and cancelled quotes are
	// deleted): the states offered are current and expired.
	f := console.Filter{Status: console.OneOf(c.QueryParam("estado"), console.Current, console.Expired),
		Q: dr.Q, Dates: dr.Range, Sort: sort, Page: pageNumber(c)}
	qs, l, err := a.d.Console.Quotes(c.Request().Context(), f)
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, dr.status(), "quotes.html", "Cotizaciones", map[string]any{
		"Quotes": qs, "Status": f.Status, "Q": f.Q, "Dates": dr, "Sort": sorter, "Total": l.Total,
		"Pager": pagerOf(c, l.More), "Now": a.d.Store.Now()})
}

func (a *Console) quote(c echo.Context) error {
	id, err := paramUUID(c)
	if err != nil {
		return a.fail(c, err)
	}
	q, err := a.d.Console.Quote(c.Request().Context(), id)
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, http.StatusOK, "quote.html", "Cotización", map[string]any{"Q": *q, "Now": a.d.Store.Now()})
}

func (a *Console) offers(c echo.Context) error {
	dr := rangeOf(c)
	sorter, sort := sortOf(c, "creada", console.OfferSorts)
	// Accepted offers go with their quote: not offered as a filter.
	f := console.Filter{Status: console.OneOf(c.QueryParam("estado"), console.Current, console.Expired, store.OfferRejected),
		Q: dr.Q, Dates: dr.Range, Sort: sort, Page: pageNumber(c)}
	os, l, err := a.d.Console.Offers(c.Request().Context(), f)
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, dr.status(), "offers.html", "Ofertas", map[string]any{
		"Offers": os, "Status": f.Status, "Q": f.Q, "Dates": dr, "Sort": sorter, "Total": l.Total,
		"Pager": pagerOf(c, l.More), "Now": a.d.Store.Now()})
}

func (a *Console) deliveries(c echo.Context) error {
	dr := rangeOf(c)
	sorter, sort := sortOf(c, "creada", console.DeliverySorts)
	f := console.DeliveryFilter{
		Filter:    console.Filter{Status: console.OneOf(c.QueryParam("estado"), console.DeliveryStatuses...), Q: dr.Q, Dates: dr.Range, Sort: sort, Page: pageNumber(c)},
		Payment:   console.OneOf(c.QueryParam("pago"), "efectivo", "nequi"),
		DateField: console.OneOf(c.QueryParam("fecha"), console.DateCreated, console.DateCompleted, console.DateCancelled),
		Active:    c.QueryParam("activas") == "1",
		Stuck:     c.QueryParam("atascadas") == "1",
	}
	if f.DateField == "" {
		f.DateField = console.DateCreated
	}
	ds, l, err := a.d.Console.Deliveries(c.Request().Context(), f)
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, dr.status(), "deliveries.html", "Entregas", map[string]any{
		"Deliveries": ds, "F": f, "Dates": dr, "Sort": sorter, "Total": l.Total, "Pager": pagerOf(c, l.More),
		"Statuses": console.DeliveryStatuses, "Now": a.d.Store.Now()})
}

func (a *Console) delivery(c echo.Context) error { return a.deliveryPage(c, http.StatusOK, nil) }

// deliveryPage renders a delivery's page; form holds a refused cancel form's
// values and errors (ReasonErrors, Reason).
func (a *Console) deliveryPage(c echo.Context, status int, form map[string]any) error {
	id, err := paramUUID(c)
	if err != nil {
		return a.fail(c, err)
	}
	ctx := c.Request().Context()
	d, err := a.d.Console.Delivery(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	entries, err := a.d.Console.AuditOf(ctx, audit.KindDelivery, id.String())
	if err != nil {
		return a.fail(c, err)
	}
	active := d.D.Status == store.DeliveryAssigned || d.D.Status == store.DeliveryPickedUp || d.D.Status == store.DeliveryInTransit
	data := map[string]any{"D": d.D, "History": d.History, "Vehicle": d.Vehicle, "Audit": entries, "Cancellable": active, "Trail": d.Trail}
	for k, v := range form {
		data[k] = v
	}
	return a.render(c, status, "delivery.html", "Entrega", data)
}

// deliveryCancel is the console's two-step cancellation of an active delivery.
func (a *Console) deliveryCancel(c echo.Context) error {
	id, err := paramUUID(c)
	if err != nil {
		return a.fail(c, err)
	}
	reason := c.FormValue("reason")
	refused := func(err error) error {
		if fe := fieldErrors(err); fe != nil {
			return a.deliveryPage(c, http.StatusBadRequest, map[string]any{"ReasonErrors": fe, "Reason": reason})
		}
		return a.fail(c, err)
	}
	d, err := a.d.Console.Delivery(c.Request().Context(), id)
	if err != nil {
		return a.fail(c, err)
	}
	if _, err := account.Reason("reason", reason); err != nil {
		return refused(err)
	}
	switch d.D.Status {
	case store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled:
		return refused(apperr.Field("reason", market.MsgCancelFinal))
	}
	path := "/admin/deliveries/" + id.String() + "/"
	if !confirmed(c) {
		return a.confirm(c, confirmData{Heading: "Cancelar entrega",
			Question: "¿Cancelar la entrega de " + personName(d.D.Client) + " (" + statusLabels[d.D.Status] + ")? El cliente y el domiciliario lo ven al instante; no se puede deshacer.",
			Button:   "Sí, cancelar la entrega", Danger: true, Back: path, Action: path + "cancel/", Reason: reason})
	}
	if _, err := a.d.Market.StaffCancelDelivery(c.Request().Context(), actor(c), id, reason); err != nil {
		return refused(err)
	}
	a.d.Log.Info("admin delivery cancelled", "staff", staffOf(c).Username, "delivery", id)
	return c.Redirect(http.StatusSeeOther, path+"?guardado=1")
}

// --- staff accounts ---

func (a *Console) accounts(c echo.Context) error {
	accs, err := a.d.Console.Accounts(c.Request().Context())
	if err != nil {
		return a.fail(c, err)
	}
	return a.render(c, http.StatusOK, "accounts.html", "Cuentas del personal", accs)
}

func (a *Console) accountActive(c echo.Context) error {
	id, err := paramUUID(c)
	if err != nil {
		return a.fail(c, err)
	}
	body, _, err := formBody(c)
	if err != nil {
		return a.fail(c, err)
	}
	f := apperr.Fields{}
	active, _ := body.Bool("is_active", f, true)
	if err := f.Err(); err != nil {
		return a.fail(c, err)
	}
	if id == staffOf(c).ID && !active {
		return a.fail(c, apperr.New(apperr.Invalid, "No puede desactivar su propia cuenta."))
	}
	if !active && !confirmed(c) {
		acc, err := a.d.Console.Account(c.Request().Context(), id.String())
		if err != nil {
			return a.fail(c, err)
		}
		if acc == nil {
			return a.fail(c, apperr.NotFoundErr())
		}
		return a.confirm(c, confirmData{Heading: "Desactivar cuenta del personal",
			Question: "¿Desactivar la cuenta «" + acc.Username + "»? No podrá entrar a la consola y sus sesiones abiertas terminan en su próxima petición.",
			Button:   "Sí, desactivar", Danger: true, Back: "/admin/accounts/", Action: "/admin/accounts/" + id.String() + "/active/",
			Fields: map[string]string{"is_active": "false"}})
	}
	if err := a.d.Console.SetAccountActive(c.Request().Context(), actor(c), id, active); err != nil {
		return a.fail(c, err)
	}
	a.d.Log.Info("admin staff account", "staff", staffOf(c).Username, "account", id, "is_active", active)
	return c.Redirect(http.StatusSeeOther, "/admin/accounts/?guardado=1")
}

// validCredentials refuses, before any query, a username no account can
// have (empty, longer than the column, holding U+0000 or not UTF-8, which
// PostgreSQL refuses).
func validCredentials(username, password string) bool {
	return username != "" && len(username) <= 150 && !strings.ContainsRune(username, 0) && utf8.ValidString(username) &&
		len(password) <= 4096
}

// logText bounds a client-written value in a log line.
func logText(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
