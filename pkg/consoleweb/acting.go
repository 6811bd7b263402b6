package consoleweb

import (
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/labstack/echo/v4"

	"hermez/pkg/account"
	"hermez/pkg/audit"
	"hermez/pkg/console"
)

// Acting (console.md): actions that need a reason take two steps. The first
// POST validates the form (errors next to the field, nothing changed) and
// shows a confirmation page; the second (confirmar=1) acts. A double submit
// meets the state the first one left, and its message says so.

// actor is the audit identity of the staff member of the request.
func actor(c echo.Context) *audit.Staff {
	s := staffOf(c)
	if s == nil {
		return nil
	}
	return &audit.Staff{ID: s.ID, Username: s.Username}
}

// confirmData is the confirmation page: what is about to happen and the
// form that does it.
type confirmData struct {
	Heading, Question, Button, Back, Action string
	Danger                                  bool
	Fields                                  map[string]string // hidden fields sent again
	Reason                                  string
}

func (a *Console) confirm(c echo.Context, d confirmData) error {
	return a.render(c, http.StatusOK, "confirm.html", d.Heading, d)
}

func confirmed(c echo.Context) bool { return c.FormValue("confirmar") == "1" }

// --- suspension ---

func (a *Console) userSuspend(c echo.Context) error   { return a.userSuspension(c, true) }
func (a *Console) userReinstate(c echo.Context) error { return a.userSuspension(c, false) }

func (a *Console) userSuspension(c echo.Context, suspend bool) error {
	id := c.Param("id")
	ctx := c.Request().Context()
	d, err := a.d.Console.User(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	reason := c.FormValue("reason")
	if !confirmed(c) {
		if _, err := account.Reason("reason", reason); err != nil {
			return a.userPage(c, http.StatusBadRequest, id, map[string]any{"ReasonErrors": fieldErrors(err), "Reason": reason})
		}
		name := personName(&d.U)
		cd := confirmData{Heading: "Suspender usuario", Question: "¿Suspender a " + name + "? No podrá usar la app hasta que se le readmita: sus cotizaciones pendientes se cancelan y sus ofertas pendientes se retiran. Sus entregas activas siguen su curso.",
			Button: "Sí, suspender", Danger: true, Back: "/admin/users/" + url.PathEscape(id) + "/", Action: "/admin/users/" + url.PathEscape(id) + "/suspend/", Reason: reason}
		if !suspend {
			cd = confirmData{Heading: "Readmitir usuario", Question: "¿Readmitir a " + name + "? Recupera el acceso a la app de inmediato; lo cancelado no vuelve.",
				Button: "Sí, readmitir", Back: cd.Back, Action: "/admin/users/" + url.PathEscape(id) + "/reinstate/", Reason: reason}
		}
		return a.confirm(c, cd)
	}
	if suspend {
		err = a.d.Account.Suspend(ctx, actor(c), id, reason)
	} else {
		err = a.d.Account.Reinstate(ctx, actor(c), id, reason)
	}
	if err != nil {
		if fe := fieldErrors(err); fe != nil {
			return a.userPage(c, http.StatusBadRequest, id, map[string]any{"ReasonErrors": fe, "Reason": reason})
		}
		return a.fail(c, err)
	}
	a.d.Log.Info("admin user suspension", "staff", staffOf(c).Username, "userid", id, "suspended", suspend)
	return c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(id)+"/?guardado=1")
}

// --- activity ---

// objectURL is the console page of an audited object ("" none).
func objectURL(kind, id string) string {
	switch kind {
	case audit.KindUser:
		return "/admin/users/" + url.PathEscape(id) + "/"
	case audit.KindDelivery:
		return "/admin/deliveries/" + id + "/"
	case audit.KindVehicle:
		return "/admin/vehicles/" + id + "/"
	case audit.KindCategory:
		return "/admin/categories/" + id + "/"
	case audit.KindVehicleType:
		return "/admin/vehicle-types/" + id + "/"
	case audit.KindStaffAccount:
		return "/admin/activity/?cuenta=" + id
	}
	return ""
}

// day parses a yyyy-mm-dd filter as the start of that day in Colombia.
func day(v string) *time.Time {
	t, err := time.ParseInLocation("2006-01-02", v, cot)
	if err != nil {
		return nil
	}
	return &t
}

func (a *Console) activity(c echo.Context) error {
	ctx := c.Request().Context()
	accs, err := a.d.Console.Accounts(ctx)
	if err != nil {
		return a.fail(c, err)
	}
	f := console.AuditFilter{Kind: console.OneOf(c.QueryParam("tipo"), audit.Kinds...), Page: pageNumber(c)}
	if id, err := uuid.Parse(c.QueryParam("cuenta")); err == nil {
		f.Staff = &id
	}
	dr := rangeOf(c)
	f.From, f.To = dr.Range.From, dr.Range.To
	rows, l, err := a.d.Console.Audit(ctx, f)
	if err != nil {
		return a.fail(c, err)
	}
	staff := ""
	if f.Staff != nil {
		staff = f.Staff.String()
	}
	return a.render(c, dr.status(), "activity.html", "Actividad del personal", map[string]any{
		"Rows": rows, "Accounts": accs, "Kinds": audit.Kinds, "Kind": f.Kind, "Staff": staff, "Dates": dr,
		"Total": l.Total, "Pager": pagerOf(c, l.More)})
}
