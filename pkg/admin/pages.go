package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"hermez/pkg/apperr"
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
		s = fresh()
		if err := a.sess.write(c.Response(), s); err != nil {
			return nil, err
		}
		c.Set(ctxSession, s)
	}
	return s, nil
}

func (a *Console) loginForm(c echo.Context) error {
	if s := sessionOf(c); s != nil && s.StaffID != "" {
		var acc store.StaffAccount
		err := a.d.Store.DB.WithContext(c.Request().Context()).Where("id = ?", s.StaffID).Take(&acc).Error
		if err == nil && acc.IsActive && a.sess.authHash(acc.PasswordHash) == s.AuthHash {
			return c.Redirect(http.StatusFound, safeNext(c.QueryParam("next")))
		}
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
		acc, err = checkPassword(c.Request().Context(), a.d.Store, username, password)
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
	ns := fresh()
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

type statusCount struct {
	Status string
	Count  int64
}

func (a *Console) dashboard(c echo.Context) error {
	db := a.d.Store.DB.WithContext(c.Request().Context())
	var d struct {
		PendingQuotes, OpenOffers, DriversAvailable, DriversOnline, VehiclesAwaiting, Users int64
		Deliveries                                                                          []statusCount
		DeliveriesTotal                                                                     int64
	}
	now := store.Now()
	counts := []struct {
		q   *gorm.DB
		out *int64
	}{
		{db.Model(&store.Quote{}).Where("status = ? AND expires_at > ?", store.QuotePending, now), &d.PendingQuotes},
		{db.Model(&store.Offer{}).Where("status = ? AND expires_at > ?", store.OfferPending, now), &d.OpenOffers},
		{db.Model(&store.User{}).Where("role = ? AND is_available = ? AND deleted_at IS NULL", "delivery", true), &d.DriversAvailable},
		{db.Model(&store.User{}).Where("role = ? AND is_online = ? AND deleted_at IS NULL", "delivery", true), &d.DriversOnline},
		{db.Model(&store.Vehicle{}).Where("is_verified = ?", false), &d.VehiclesAwaiting},
		{db.Model(&store.User{}).Where("deleted_at IS NULL"), &d.Users},
	}
	for _, q := range counts {
		if err := q.q.Count(q.out).Error; err != nil {
			return a.fail(c, apperr.Wrap(err, "dashboard counts"))
		}
	}
	var rows []statusCount
	if err := db.Model(&store.Delivery{}).Select("status, COUNT(*) AS count").Group("status").Scan(&rows).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "dashboard deliveries"))
	}
	by := map[string]int64{}
	for _, r := range rows {
		by[r.Status] = r.Count
		d.DeliveriesTotal += r.Count
	}
	for _, s := range deliveryStatuses {
		d.Deliveries = append(d.Deliveries, statusCount{Status: s, Count: by[s]})
	}
	return a.render(c, http.StatusOK, "dashboard.html", "Panel", d)
}

var deliveryStatuses = []string{store.DeliveryAssigned, store.DeliveryPickedUp, store.DeliveryInTransit,
	store.DeliveryDelivered, store.DeliveryPaid, store.DeliveryCancelled}

// --- lists: filters and pages ---

const perPage = 50

type pager struct {
	Page       int
	Prev, Next string
}

// pageOf reads ?pagina= and loads one page of q into out.
func pageOf[T any](c echo.Context, q *gorm.DB, out *[]T) (pager, error) {
	p := pager{Page: 1}
	if n, err := strconv.Atoi(c.QueryParam("pagina")); err == nil && n > 1 && n < 100000 {
		p.Page = n
	}
	if err := q.Limit(perPage + 1).Offset((p.Page - 1) * perPage).Find(out).Error; err != nil {
		return p, err
	}
	link := func(n int) string {
		v := c.QueryParams()
		v.Set("pagina", strconv.Itoa(n))
		return c.Request().URL.Path + "?" + v.Encode()
	}
	if len(*out) > perPage {
		*out = (*out)[:perPage]
		p.Next = link(p.Page + 1)
	}
	if p.Page > 1 {
		p.Prev = link(p.Page - 1)
	}
	return p, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// search adds "any of cols contains q" (case-insensitive) when q is not blank.
func search(q *gorm.DB, text string, cols ...string) *gorm.DB {
	text = strings.TrimSpace(text)
	if text == "" {
		return q
	}
	pat := "%" + strings.ToLower(likeEscaper.Replace(text)) + "%"
	conds := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, col := range cols {
		conds[i] = "LOWER(" + col + `) LIKE ? ESCAPE '\'`
		args[i] = pat
	}
	return q.Where("("+strings.Join(conds, " OR ")+")", args...)
}

func oneOf(v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return ""
}

// --- vehicles ---

type vehicleRow struct {
	V     store.Vehicle
	Owner *store.User
}

func (a *Console) owners(c echo.Context, ids []string) (map[string]*store.User, error) {
	out := map[string]*store.User{}
	if len(ids) == 0 {
		return out, nil
	}
	var us []store.User
	if err := a.d.Store.DB.WithContext(c.Request().Context()).Where("userid IN ?", ids).Find(&us).Error; err != nil {
		return nil, err
	}
	for i := range us {
		out[us[i].UserID] = &us[i]
	}
	return out, nil
}

func (a *Console) vehicles(c echo.Context) error {
	state := oneOf(c.QueryParam("estado"), "pendientes", "verificados", "todos")
	if state == "" {
		state = "pendientes"
	}
	qtext := c.QueryParam("q")
	q := a.d.Store.DB.WithContext(c.Request().Context()).Model(&store.Vehicle{}).Preload("Type")
	switch state {
	case "pendientes": // a queue: oldest first
		q = q.Where("is_verified = ?", false).Order("created_at ASC")
	case "verificados":
		q = q.Where("is_verified = ?", true).Order("updated_at DESC")
	default:
		q = q.Order("created_at DESC")
	}
	q = search(q, qtext, "license_plate", "brand", "model", "vin", "user_id")
	var vs []store.Vehicle
	pg, err := pageOf(c, q, &vs)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list vehicles"))
	}
	ids := make([]string, len(vs))
	for i := range vs {
		ids[i] = vs[i].UserID
	}
	own, err := a.owners(c, ids)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "vehicle owners"))
	}
	rows := make([]vehicleRow, len(vs))
	for i := range vs {
		rows[i] = vehicleRow{V: vs[i], Owner: own[vs[i].UserID]}
	}
	return a.render(c, http.StatusOK, "vehicles.html", "Vehículos", map[string]any{
		"Rows": rows, "State": state, "Q": qtext, "Pager": pg})
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
}

type docField struct{ Key, Label, Value string }

func (a *Console) loadVehicle(c echo.Context) (*store.Vehicle, *store.User, error) {
	id, err := paramUUID(c)
	if err != nil {
		return nil, nil, err
	}
	var v store.Vehicle
	db := a.d.Store.DB.WithContext(c.Request().Context())
	if err := db.Preload("Type").Where("vehicle_id = ?", id).Take(&v).Error; err != nil {
		return nil, nil, wrapDB(err, "load vehicle")
	}
	var owner store.User
	if err := db.Where("userid = ?", v.UserID).Take(&owner).Error; err != nil {
		return nil, nil, wrapDB(err, "load vehicle owner")
	}
	return &v, &owner, nil
}

func newVehicleForm(v *store.Vehicle, owner *store.User) *vehicleForm {
	f := &vehicleForm{V: v, Owner: owner, Verified: v.IsVerified, Statuses: DocumentStatuses}
	vals := map[string]string{"driverLicenseStatus": v.DriverLicenseStatus, "registrationCardStatus": v.RegistrationCardStatus,
		"insurancePolicyStatus": v.InsurancePolicyStatus, "criminalRecordStatus": v.CriminalRecordStatus}
	for _, d := range documentFields {
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
	return a.render(c, http.StatusOK, "vehicle.html", "Vehículo "+v.LicensePlate, newVehicleForm(v, owner))
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
	if _, err := VerifyVehicle(c.Request().Context(), a.d.Store, v.VehicleID, body); err != nil {
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
	var cs []store.Category
	if err := a.d.Store.DB.WithContext(c.Request().Context()).Order("name").Find(&cs).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "list categories"))
	}
	return a.render(c, http.StatusOK, "categories.html", "Categorías", cs)
}

type categoryForm struct {
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
		var cat store.Category
		if err := a.d.Store.DB.WithContext(c.Request().Context()).Where("id = ?", id).Take(&cat).Error; err != nil {
			return a.fail(c, wrapDB(err, "load category"))
		}
		f.ID = cat.ID.String()
		f.Values = map[string]string{"name": cat.Name, "description": cat.Description, "is_active": strconv.FormatBool(cat.IsActive)}
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
	cat, err := a.d.Market.SaveCategory(c.Request().Context(), id, body, false)
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
	var ts []store.VehicleType
	err := a.d.Store.DB.WithContext(c.Request().Context()).Preload("Categories", func(db *gorm.DB) *gorm.DB { return db.Order("name") }).
		Order("name").Find(&ts).Error
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list vehicle types"))
	}
	return a.render(c, http.StatusOK, "vehicle_types.html", "Tipos de vehículo", ts)
}

type vehicleTypeForm struct {
	New        bool
	ID         string
	Values     map[string]string
	Selected   []string
	Categories []store.Category
	Errors     apperr.Fields
}

func (a *Console) allCategories(c echo.Context) ([]store.Category, error) {
	var cs []store.Category
	err := a.d.Store.DB.WithContext(c.Request().Context()).Order("name").Find(&cs).Error
	return cs, err
}

func vehicleTypeTitle(f vehicleTypeForm) string {
	if f.New {
		return "Nuevo tipo de vehículo"
	}
	return "Editar tipo de vehículo"
}

func (a *Console) vehicleTypeForm(c echo.Context) error {
	cats, err := a.allCategories(c)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list categories"))
	}
	f := vehicleTypeForm{New: c.Param("id") == "", Categories: cats, Values: map[string]string{
		"is_active": "true", "max_weight_capacity_kg": "0", "max_volume_capacity_liters": "0", "passenger_capacity": "0"}}
	if !f.New {
		id, err := paramUUID(c)
		if err != nil {
			return a.fail(c, err)
		}
		var vt store.VehicleType
		if err := a.d.Store.DB.WithContext(c.Request().Context()).Preload("Categories").Where("id = ?", id).Take(&vt).Error; err != nil {
			return a.fail(c, wrapDB(err, "load vehicle type"))
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
	vt, err := SaveVehicleType(c.Request().Context(), a.d.Store, id, body)
	if err != nil {
		fe := fieldErrors(err)
		if fe == nil {
			return a.fail(c, err)
		}
		cats, cerr := a.allCategories(c)
		if cerr != nil {
			return a.fail(c, apperr.Wrap(cerr, "list categories"))
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
	qtext, role, staff := c.QueryParam("q"), oneOf(c.QueryParam("rol"), "client", "delivery"), c.QueryParam("staff") == "1"
	q := a.d.Store.DB.WithContext(c.Request().Context()).Model(&store.User{}).Order("created_at DESC")
	q = search(q, qtext, "userid", "username", "email", "first_name", "last_name", "phone")
	if role != "" {
		q = q.Where("role = ?", role)
	}
	if staff {
		q = q.Where("is_staff = ?", true)
	}
	var us []store.User
	pg, err := pageOf(c, q, &us)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list users"))
	}
	return a.render(c, http.StatusOK, "users.html", "Usuarios", map[string]any{
		"Users": us, "Q": qtext, "Role": role, "Staff": staff, "Pager": pg})
}

func (a *Console) user(c echo.Context) error {
	db := a.d.Store.DB.WithContext(c.Request().Context())
	var u store.User
	if err := db.Where("userid = ?", c.Param("id")).Take(&u).Error; err != nil {
		return a.fail(c, wrapDB(err, "load user"))
	}
	var vs []store.Vehicle
	if err := db.Preload("Type").Where("user_id = ?", u.UserID).Order("created_at").Find(&vs).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "user vehicles"))
	}
	var asClient, asDriver int64
	if err := db.Model(&store.Delivery{}).Where("client_id = ?", u.UserID).Count(&asClient).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "user deliveries"))
	}
	if err := db.Model(&store.Delivery{}).Where("delivery_person_id = ?", u.UserID).Count(&asDriver).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "user deliveries"))
	}
	return a.render(c, http.StatusOK, "user.html", personName(&u), map[string]any{
		"U": u, "Vehicles": vs, "AsClient": asClient, "AsDriver": asDriver})
}

func (a *Console) userStaff(c echo.Context) error {
	body, vals, err := formBody(c)
	if err != nil {
		return a.fail(c, err)
	}
	id := c.Param("id")
	err = SetUserStaff(c.Request().Context(), a.d.Store, id, body)
	if a.d.UserChanged != nil {
		a.d.UserChanged(id)
	}
	if err != nil {
		return a.fail(c, err)
	}
	a.d.Log.Info("admin staff flag", "staff", staffOf(c).Username, "userid", id, "is_staff", vals["is_staff"])
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(id)+"/?guardado=1")
}

// --- quotes, offers, deliveries (read-only) ---

func (a *Console) quotes(c echo.Context) error {
	status, qtext := oneOf(c.QueryParam("estado"), store.QuotePending, store.QuoteAccepted, store.QuoteCancelled), c.QueryParam("q")
	q := a.d.Store.DB.WithContext(c.Request().Context()).Model(&store.Quote{}).
		Preload("Client").Preload("Category").Preload("Offers").Order("created_at DESC")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	q = search(q, qtext, "client_id", "pickup_address", "delivery_address")
	var qs []store.Quote
	pg, err := pageOf(c, q, &qs)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list quotes"))
	}
	return a.render(c, http.StatusOK, "quotes.html", "Cotizaciones", map[string]any{
		"Quotes": qs, "Status": status, "Q": qtext, "Pager": pg, "Now": store.Now()})
}

func (a *Console) quote(c echo.Context) error {
	id, err := paramUUID(c)
	if err != nil {
		return a.fail(c, err)
	}
	var q store.Quote
	err = a.d.Store.DB.WithContext(c.Request().Context()).Preload("Client").Preload("Category").Preload("VehicleType").
		Preload("Offers", func(db *gorm.DB) *gorm.DB { return db.Order("created_at") }).Preload("Offers.DeliveryPerson").
		Preload("Offers.Vehicle").Where("id = ?", id).Take(&q).Error
	if err != nil {
		return a.fail(c, wrapDB(err, "load quote"))
	}
	return a.render(c, http.StatusOK, "quote.html", "Cotización", map[string]any{"Q": q, "Now": store.Now()})
}

func (a *Console) offers(c echo.Context) error {
	status, qtext := oneOf(c.QueryParam("estado"), store.OfferPending, store.OfferAccepted, store.OfferRejected), c.QueryParam("q")
	q := a.d.Store.DB.WithContext(c.Request().Context()).Model(&store.Offer{}).
		Preload("DeliveryPerson").Preload("Quote").Preload("Vehicle").Order("created_at DESC")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	q = search(q, qtext, "delivery_person_id", "quote_id")
	var os []store.Offer
	pg, err := pageOf(c, q, &os)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list offers"))
	}
	return a.render(c, http.StatusOK, "offers.html", "Ofertas", map[string]any{
		"Offers": os, "Status": status, "Q": qtext, "Pager": pg, "Now": store.Now()})
}

func (a *Console) deliveries(c echo.Context) error {
	status := oneOf(c.QueryParam("estado"), deliveryStatuses...)
	pay := oneOf(c.QueryParam("pago"), "efectivo", "nequi")
	qtext := c.QueryParam("q")
	q := a.d.Store.DB.WithContext(c.Request().Context()).Model(&store.Delivery{}).
		Preload("Client").Preload("DeliveryPerson").Preload("Category").Order("created_at DESC")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if pay != "" {
		q = q.Where("payment_method = ?", pay)
	}
	q = search(q, qtext, "client_id", "delivery_person_id", "pickup_address", "delivery_address")
	var ds []store.Delivery
	pg, err := pageOf(c, q, &ds)
	if err != nil {
		return a.fail(c, apperr.Wrap(err, "list deliveries"))
	}
	return a.render(c, http.StatusOK, "deliveries.html", "Entregas", map[string]any{
		"Deliveries": ds, "Status": status, "Pay": pay, "Q": qtext, "Pager": pg, "Statuses": deliveryStatuses})
}

func (a *Console) delivery(c echo.Context) error {
	id, err := paramUUID(c)
	if err != nil {
		return a.fail(c, err)
	}
	db := a.d.Store.DB.WithContext(c.Request().Context())
	var d store.Delivery
	if err := db.Preload("Client").Preload("DeliveryPerson").Preload("Category").Where("id = ?", id).Take(&d).Error; err != nil {
		return a.fail(c, wrapDB(err, "load delivery"))
	}
	var hist []store.HistoryEvent
	if err := db.Preload("ChangedBy").Where("history_id = ?", d.HistoryID).Order("created_at, id").Find(&hist).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "delivery history"))
	}
	var v *store.Vehicle
	if d.VehicleID != nil {
		var vv store.Vehicle
		err := db.Preload("Type").Where("vehicle_id = ?", *d.VehicleID).Take(&vv).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return a.fail(c, apperr.Wrap(err, "delivery vehicle"))
		}
		if err == nil {
			v = &vv
		}
	}
	return a.render(c, http.StatusOK, "delivery.html", "Entrega", map[string]any{"D": d, "History": hist, "Vehicle": v})
}

// --- staff accounts ---

func (a *Console) accounts(c echo.Context) error {
	var accs []store.StaffAccount
	if err := a.d.Store.DB.WithContext(c.Request().Context()).Order("username").Find(&accs).Error; err != nil {
		return a.fail(c, apperr.Wrap(err, "list staff accounts"))
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
	if err := SetAccountActive(c.Request().Context(), a.d.Store, id, active); err != nil {
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
