// Package consoleweb is the staff console's web side, served at /admin/:
// server-rendered pages (html/template, embedded CSS/JS with content-hashed
// names), staff sessions and the staff login limit. Staff log in with a
// console account (`web createsuperuser`), verify drivers' vehicles, maintain
// categories and vehicle types, grant the API staff flag to app users, and
// watch quotes, offers and deliveries. It replaces Django's admin, whose URL
// it keeps.
//
// The console is one thing under two packages, named so they read together:
// pkg/console is its service (the reads every page shows and the staff
// accounts), and this package is its adapter to HTTP, as pkg/httpapi is the
// marketplace's. It decodes forms, checks the session, calls the services
// (pkg/console for reads and staff accounts, pkg/account and pkg/market for
// the writes whose rules they own) and renders what they return; it never
// queries the store itself.
package consoleweb

import (
	"bytes"
	"context"
	"crypto/hmac"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"hermez/pkg/account"
	"hermez/pkg/apperr"
	"hermez/pkg/config"
	"hermez/pkg/console"
	"hermez/pkg/input"
	"hermez/pkg/market"
	"hermez/pkg/serve"
	"hermez/pkg/store"
)

// Deps is what the console needs.
type Deps struct {
	Config config.Config
	Store  *store.Store
	Log    *slog.Logger
	// Redis, when set, shares the login limit among every web instance
	// (keys under RedisPrefix); nil: the limit is this process's.
	Redis       redis.UniversalClient
	RedisPrefix string
	// Market owns the category rule (validation, uniqueness, the API's
	// cached list); the console saves categories through it (pkg/app builds
	// it, shared with the API).
	Market *market.Service
	// Account owns the vehicle, vehicle-type and staff-flag rules; its
	// UserChanged hook tells the API's authentication cache.
	Account *account.Service
	// Console answers the console's reads and owns the staff accounts.
	Console *console.Service
}

// Login rate limit: failed attempts per client IP + username within the window
// (and, whatever the IP, per username).
const (
	LoginWindow      = 15 * time.Minute
	LoginFailsPerIP  = 5
	LoginFailsPerAcc = 50
)

// Console is the mounted staff console.
type Console struct {
	d      Deps
	sess   *sessions
	limit  *limiter
	assets *assets
	pages  map[string]*template.Template
}

const (
	ctxSession = "admin.session"
	ctxStaff   = "admin.staff"
	ctxRefresh = "admin.refresh" // seconds between the page's own reloads (0: none)
)

// Register mounts the console's routes on e (paths with a trailing slash; the
// Pre middleware rewrites slashless ones).
func Register(e *echo.Echo, d Deps) (*Console, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Account == nil {
		d.Account = account.New(d.Store, nil, d.Log)
	}
	if d.Console == nil {
		d.Console = console.New(d.Store)
	}
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	now := func() time.Time { return d.Store.Now() } // read at each use: a test sets the store's clock after New
	a := &Console{d: d, sess: newSessions(d.Config.SecretKey, !d.Config.Debug, now), assets: as}
	a.limit = newLimiter(d.Redis, d.RedisPrefix, d.Log, now)
	if err := a.parseTemplates(); err != nil {
		return nil, err
	}
	e.GET("/admin/static/:name", as.serve)
	e.GET("/favicon.ico", favicon)
	e.GET("/admin/login/", a.loginForm, a.base)
	e.POST("/admin/login/", a.login, a.base)
	staff := []echo.MiddlewareFunc{a.base, a.requireStaff, a.csrf}
	e.POST("/admin/logout/", a.logout, staff...)
	e.GET("/admin/", a.dashboard, staff...)
	e.GET("/admin/vehicles/", a.vehicles, staff...)
	e.GET("/admin/vehicles/:id/", a.vehicle, staff...)
	e.POST("/admin/vehicles/:id/", a.vehicleSave, staff...)
	e.GET("/admin/categories/", a.categories, staff...)
	e.GET("/admin/categories/new/", a.categoryForm, staff...)
	e.POST("/admin/categories/new/", a.categorySave, staff...)
	e.GET("/admin/categories/:id/", a.categoryForm, staff...)
	e.POST("/admin/categories/:id/", a.categorySave, staff...)
	e.GET("/admin/vehicle-types/", a.vehicleTypes, staff...)
	e.GET("/admin/vehicle-types/new/", a.vehicleTypeForm, staff...)
	e.POST("/admin/vehicle-types/new/", a.vehicleTypeSave, staff...)
	e.GET("/admin/vehicle-types/:id/", a.vehicleTypeForm, staff...)
	e.POST("/admin/vehicle-types/:id/", a.vehicleTypeSave, staff...)
	e.GET("/admin/users/", a.users, staff...)
	e.GET("/admin/users/:id/", a.user, staff...)
	e.POST("/admin/users/:id/staff/", a.userStaff, staff...)
	e.POST("/admin/users/:id/suspend/", a.userSuspend, staff...)
	e.POST("/admin/users/:id/reinstate/", a.userReinstate, staff...)
	e.GET("/admin/quotes/", a.quotes, staff...)
	e.GET("/admin/quotes/:id/", a.quote, staff...)
	e.GET("/admin/offers/", a.offers, staff...)
	e.GET("/admin/deliveries/", a.deliveries, staff...)
	e.GET("/admin/deliveries/:id/", a.delivery, staff...)
	e.POST("/admin/deliveries/:id/cancel/", a.deliveryCancel, staff...)
	e.GET("/admin/activity/", a.activity, staff...)
	e.GET("/admin/trends/", a.trends, staff...)
	e.GET("/admin/accounts/", a.accounts, staff...)
	e.POST("/admin/accounts/:id/active/", a.accountActive, staff...)
	e.Any("/admin/*", a.notFound, staff...)
	return a, nil
}

// --- middleware ---

// base sets the console's security headers and reads the session.
func (a *Console) base(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "+
			"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if s := a.sess.read(c.Request()); s != nil {
			c.Set(ctxSession, s)
		}
		return next(c)
	}
}

func sessionOf(c echo.Context) *session { s, _ := c.Get(ctxSession).(*session); return s }

func staffOf(c echo.Context) *store.StaffAccount {
	s, _ := c.Get(ctxStaff).(*store.StaffAccount)
	return s
}

// requireStaff lets through a session of an active staff account whose
// password has not changed since login; anything else goes to the login page.
func (a *Console) requireStaff(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := sessionOf(c)
		acc, err := a.staffOf(c.Request().Context(), s)
		if err != nil {
			return a.fail(c, apperr.Wrap(err, "load staff session"))
		}
		if acc == nil && s != nil && s.StaffID != "" {
			a.sess.clear(c.Response())
		}
		if acc == nil {
			r := c.Request()
			target := "/admin/login/"
			if r.Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
				return c.Redirect(http.StatusFound, target)
			}
			return c.Redirect(http.StatusSeeOther, target)
		}
		// The pages pass this staff member to the services as who acts (actor).
		c.Set(ctxStaff, acc)
		return next(c)
	}
}

// staffOf is the staff account session s was opened for, or nil when there
// is none, it is inactive, or its password changed since (the session's
// hash, compared in constant time): the one check of a staff session.
func (a *Console) staffOf(ctx context.Context, s *session) (*store.StaffAccount, error) {
	if s == nil || s.StaffID == "" {
		return nil, nil
	}
	acc, err := a.d.Console.Account(ctx, s.StaffID)
	if err != nil || acc == nil || !acc.IsActive {
		return nil, err
	}
	if !hmac.Equal([]byte(a.sess.authHash(acc.PasswordHash)), []byte(s.AuthHash)) {
		return nil, nil
	}
	return acc, nil
}

// csrf refuses (403) an unsafe request without this session's token.
func (a *Console) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if !a.sess.csrfValid(sessionOf(c), c.FormValue(CSRFField)) {
			return a.forbiddenCSRF(c)
		}
		return next(c)
	}
}

func (a *Console) forbiddenCSRF(c echo.Context) error {
	return a.render(c, http.StatusForbidden, "error.html", "Acceso prohibido", map[string]any{
		"Status":  http.StatusForbidden,
		"Message": "Verificación CSRF fallida: el formulario caducó o no vino de esta página. Vuelva a cargar la página e inténtelo de nuevo.",
	})
}

// --- rendering ---

var cot = time.FixedZone("COT", -5*60*60) // Colombia, no daylight saving

var statusLabels = map[string]string{
	"pending": "Pendiente", "approved": "Aprobado", "rejected": "Rechazado",
	"accepted": "Aceptada", "cancelled": "Cancelada",
	"assigned": "Asignada", "picked_up": "Recogida", "in_transit": "En camino", "delivered": "Entregada", "paid": "Pagada",
	"quote_created": "Cotización creada", "offer_made": "Oferta hecha", "offer_accepted": "Oferta aceptada",
	"offer_rejected": "Oferta rechazada", "status_changed": "Cambio de estado", "completed": "Completada",
	"client": "Cliente", "delivery": "Domiciliario", "efectivo": "Efectivo", "nequi": "Nequi",
	// audit actions and object kinds
	"create": "Creación", "update": "Edición", "verify": "Verificación", "staff_flag": "Permisos de personal (API)",
	"activate": "Activación", "deactivate": "Desactivación", "cancel": "Cancelación", "suspend": "Suspensión", "reinstate": "Readmisión",
}

// offerLabels agree with "oferta" (feminine), unlike the documents' statuses.
var offerLabels = map[string]string{"pending": "Pendiente", "accepted": "Aceptada", "rejected": "Rechazada"}

// money renders a price as Colombians write it: "$27.000" (cents only when
// there are some: "$27.000,50").
func money(d decimal.Decimal) string {
	neg := d.IsNegative()
	d = d.Abs()
	whole := d.Truncate(0)
	digits := whole.String()
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(r)
	}
	out := "$" + b.String()
	if frac := d.Sub(whole); !frac.IsZero() {
		out += "," + frac.Shift(2).Round(0).StringFixed(0)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// fieldLabels name the columns an audit entry's changes list (the code shows
// for a column not listed).
var fieldLabels = map[string]string{
	"is_verified": "Verificado", "verification_notes": "Notas de verificación", "driver_license_status": "Licencia",
	"registration_card_status": "Tarjeta de propiedad", "insurance_policy_status": "Seguro", "criminal_record_status": "Antecedentes",
	"name": "Nombre", "description": "Descripción", "is_active": "Activa", "is_staff": "Personal (API)", "status": "Estado",
	"suspended_at": "Suspendido desde", "suspension_reason": "Motivo de la suspensión", "cancelled_at": "Cancelada",
	"image": "Imagen", "passenger_capacity": "Pasajeros", "max_weight_capacity_kg": "Peso máximo (kg)",
	"max_volume_capacity_liters": "Volumen máximo (l)", "delivery_categories": "Categorías", "password": "Contraseña",
}

var kindLabels = map[string]string{"user": "Usuario", "delivery": "Entrega", "vehicle": "Vehículo", "category": "Categoría",
	"vehicle_type": "Tipo de vehículo", "staff_account": "Cuenta del personal"}

func (a *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"static": a.assets.url,
		"time": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.In(cot).Format("02/01/2006 15:04")
			case *time.Time:
				if v == nil {
					return "—"
				}
				return v.In(cot).Format("02/01/2006 15:04")
			}
			return ""
		},
		"str": func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		},
		"label": func(s any) string {
			var k string
			switch v := s.(type) {
			case string:
				k = v
			case *string:
				if v == nil {
					return "—"
				}
				k = *v
			}
			if l, ok := statusLabels[k]; ok {
				return l
			}
			return k
		},
		"person": personName,
		"kind":   func(k string) string { return kindLabels[k] },
		"field": func(f string) string {
			if l, ok := fieldLabels[f]; ok {
				return l
			}
			return f
		},
		"offerlabel": func(st string) string {
			if l, ok := offerLabels[st]; ok {
				return l
			}
			return st
		},
		"money":  money,
		"dur":    duration,
		"short":  func(id fmt.Stringer) string { return id.String()[:8] },
		"tel":    telURI,
		"objurl": objectURL,
		"errs": func(f apperr.Fields, key string) []string {
			if f == nil {
				return nil
			}
			return f[key]
		},
		"list": func(items ...string) []string { return items },
		"deref": func(p *float64) float64 {
			if p == nil {
				return 0
			}
			return *p
		},
		"has": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
	}
}

// duration renders a time in state: "12 min", "1 h 05 min", "2 d 3 h".
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	m := int(d / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m < 24*60:
		return fmt.Sprintf("%d h %02d min", m/60, m%60)
	}
	return fmt.Sprintf("%d d %d h", m/(24*60), m%(24*60)/60)
}

// telURI is the tel: link of a phone as written ("+57 300 111 2233" →
// "tel:+573001112233"); only digits and a leading + pass, so it is a safe URL.
func telURI(phone string) template.URL {
	var b strings.Builder
	for i, r := range strings.TrimSpace(phone) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return template.URL("tel:" + b.String())
}

func personName(u *store.User) string {
	if u == nil {
		return "—"
	}
	var parts []string
	for _, p := range []*string{u.FirstName, u.LastName} {
		if p != nil && strings.TrimSpace(*p) != "" {
			parts = append(parts, strings.TrimSpace(*p))
		}
	}
	name := strings.Join(parts, " ")
	if name == "" && u.Username != nil {
		name = *u.Username
	}
	if name == "" {
		name = u.UserID
	}
	if u.DeletedAt != nil {
		name += " (eliminado)"
	}
	return name
}

func (a *Console) parseTemplates() error {
	a.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(a.funcs()).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("admin template %s: %w", base, err)
		}
		a.pages[base] = t
	}
	return nil
}

// page is what every template receives.
type page struct {
	Title string
	Staff *store.StaffAccount
	CSRF  string
	Path  string
	Flash string
	// Refresh is how often the page reloads itself, in seconds (0: never).
	Refresh int
	Data    any
}

func (a *Console) render(c echo.Context, status int, name, title string, data any) error {
	t, ok := a.pages[name]
	if !ok {
		return fmt.Errorf("no admin template %s", name)
	}
	p := page{Title: title, Staff: staffOf(c), Path: c.Request().URL.Path, Data: data}
	p.Refresh, _ = c.Get(ctxRefresh).(int)
	if s := sessionOf(c); s != nil {
		p.CSRF = a.sess.csrfToken(s)
	}
	if c.QueryParam("guardado") != "" {
		p.Flash = "Cambios guardados."
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// fail renders a business error as an HTML page with its status.
func (a *Console) fail(c echo.Context, err error) error {
	status, msg := http.StatusInternalServerError, apperr.MsgInternal
	if e, ok := apperr.As(err); ok {
		status, msg = serve.Status(e.Kind), e.Message
	}
	if status >= 500 {
		a.d.Log.Error("admin", "path", c.Request().URL.Path, "err", err)
		msg = apperr.MsgInternal
	}
	return a.render(c, status, "error.html", "Error", map[string]any{"Status": status, "Message": msg})
}

func (a *Console) notFound(c echo.Context) error { return a.fail(c, apperr.NotFoundErr()) }

// formBody turns the posted form into an input.Body (first value of each
// field); checkboxes become "true"/"false" so an unchecked box is sent.
func formBody(c echo.Context, checkboxes ...string) (input.Body, map[string]string, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, nil, apperr.New(apperr.Invalid, "Formulario mal formado.")
	}
	vals := map[string]string{}
	for k, v := range form {
		if k == CSRFField || len(v) == 0 {
			continue
		}
		vals[k] = v[0]
	}
	for _, cb := range checkboxes {
		if form.Has(cb) {
			vals[cb] = "true"
		} else {
			vals[cb] = "false"
		}
	}
	return input.FromStrings(vals), vals, nil
}

func paramUUID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, apperr.NotFoundErr()
	}
	return id, nil
}

// optionalID is the :id of an edit form's route, nil on a "new" route.
func optionalID(c echo.Context) (*uuid.UUID, error) {
	if c.Param("id") == "" {
		return nil, nil
	}
	id, err := paramUUID(c)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// fieldErrors returns the field messages of a validation error (nil otherwise).
func fieldErrors(err error) apperr.Fields {
	if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid && len(e.Fields) > 0 {
		return apperr.Fields(e.Fields)
	}
	return nil
}

func clientIP(c echo.Context) string { return c.RealIP() }

// faviconSVG is the console's icon (and the site's /favicon.ico): an "H" on
// the console's dark blue, drawn here so no outside request is needed.
const faviconSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#18202c"/>` +
	`<path d="M9 7v18M23 7v18M9 16h14" stroke="#fff" stroke-width="4" fill="none"/></svg>`

func favicon(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.Blob(http.StatusOK, "image/svg+xml", []byte(faviconSVG))
}
