package consoleweb_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hermez/pkg/audit"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// wait bounds every socket read of the console's tests.
const wait = 5 * time.Second

// twoSteps posts the two steps of a confirmed form (the reason, then
// confirmar) and returns the answer to each (second is nil when the first
// did not ask for a confirmation).
func (b *browser) twoSteps(path, reason string) (first, second *page) {
	b.t.Helper()
	tok := b.token("/admin/")
	first = b.post(path, url.Values{"csrf_token": {tok}, "reason": {reason}})
	if first.Status != http.StatusOK || !strings.Contains(first.Body, `name="confirmar" value="1"`) {
		return first, nil
	}
	second = b.post(path, url.Values{"csrf_token": {tok}, "reason": {reason}, "confirmar": {"1"}})
	return first, second
}

// TestSuspendAndReinstate: staff suspend a client from the console; their
// API answers 403 with the reason (GET /user/api/me/ included), their open
// socket closes 4403 with it, a new one is refused the same way; their pending
// quote is cancelled and announced to drivers on new_quotes; the driver's
// offer on it goes; the audit entry is on the user's page. Reinstating
// restores access at once.
func TestSuspendAndReinstate(t *testing.T) {
	f := newLiveFixture(t)
	b := f.browser(t)
	b.mustLogin()
	client, driver := f.W.Token(t, f.Client.UserID), f.W.Token(t, f.Driver.UserID)
	if res := f.W.Do(t, http.MethodGet, "/user/api/me/", client, nil); res.Status != http.StatusOK {
		t.Fatalf("before: GET me %d %s", res.Status, res.Body)
	}
	own, _, err := testutil.DialSocket(t, f.W.URL, "/ws/deliveries/users/me/quotes/", client)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ReadFrame(t, own, wait)
	drv, _, err := testutil.DialSocket(t, f.W.URL, "/ws/deliveries/new-quotes/", driver)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ReadFrame(t, drv, wait)

	reason := "Cobros indebidos reportados"
	first, second := b.twoSteps("/admin/users/"+f.Client.UserID+"/suspend/", reason)
	if second == nil {
		t.Fatalf("first step: %d, want a confirmation page\n%s", first.Status, first.Body)
	}
	if !strings.Contains(first.Body, reason) {
		t.Errorf("confirmation page does not repeat the reason")
	}
	if second.Status != http.StatusSeeOther {
		t.Fatalf("suspend: %d\n%s", second.Status, second.Body)
	}
	want := "Tu cuenta está suspendida: " + reason

	// The open socket: 4403 with the reason.
	if code, text := testutil.CloseCode(t, own, wait); code != 4403 || text != want {
		t.Errorf("open socket closed %d %q, want 4403 %q", code, text, want)
	}
	// The drivers on new_quotes: the quote is gone.
	m := testutil.ReadFrameOfType(t, drv, "quote_deleted", wait)
	if q, _ := m["data"].(map[string]any); q == nil || q["id"] != f.Quote.ID.String() || q["status"] != "cancelled" {
		t.Errorf("quote_deleted frame about %v, want quote %s cancelled", m["data"], f.Quote.ID)
	}
	// Every authenticated request: 403 with the reason.
	for _, p := range []string{"/user/api/me/", "/deliveries/api/quotes/", "/deliveries/api/categories/"} {
		res := f.W.Do(t, http.MethodGet, p, client, nil)
		var body map[string]any
		_ = json.Unmarshal(res.Body, &body)
		if res.Status != http.StatusForbidden || body["detail"] != want {
			t.Errorf("GET %s while suspended: %d %s, want 403 {detail: %q}", p, res.Status, res.Body, want)
		}
	}
	if res := f.W.Do(t, http.MethodPost, "/deliveries/api/quotes/", client, map[string]any{}); res.Status != http.StatusForbidden {
		t.Errorf("POST quote while suspended: %d, want 403", res.Status)
	}
	// A new socket: refused 4403 with the reason.
	if c, _, err := testutil.DialSocket(t, f.W.URL, "/ws/deliveries/users/me/deliveries/", client); err != nil {
		t.Errorf("new socket: handshake failed (%v), want a 4403 close", err)
	} else if code, text := testutil.CloseCode(t, c, wait); code != 4403 || text != want {
		t.Errorf("new socket closed %d %q, want 4403 %q", code, text, want)
	}
	// Others unaffected.
	if res := f.W.Do(t, http.MethodGet, "/user/api/me/", driver, nil); res.Status != http.StatusOK {
		t.Errorf("another user: %d", res.Status)
	}
	// The store: suspended, the quote and its offer gone, the delivery untouched.
	var u store.User
	must(t, f.W.Store.DB.Where("userid = ?", f.Client.UserID).Take(&u).Error)
	if u.SuspendedAt == nil || u.SuspensionReason == nil || *u.SuspensionReason != reason {
		t.Fatalf("user row: %+v", u)
	}
	var n int64
	must(t, f.W.Store.DB.Model(&store.Quote{}).Where("id = ?", f.Quote.ID).Count(&n).Error)
	var no int64
	must(t, f.W.Store.DB.Model(&store.Offer{}).Where("id = ?", f.Offer.ID).Count(&no).Error)
	var d store.Delivery
	must(t, f.W.Store.DB.Where("id = ?", f.Delivery.ID).Take(&d).Error)
	if n != 0 || no != 0 || d.Status != store.DeliveryInTransit {
		t.Errorf("after suspension: quote rows %d, offer rows %d, delivery %s; want 0, 0, in_transit", n, no, d.Status)
	}
	// The audit entry, on the user's page too.
	var e store.StaffAudit
	must(t, f.W.Store.DB.Where("object_kind = ? AND object_id = ?", audit.KindUser, f.Client.UserID).Take(&e).Error)
	if e.Action != audit.ActionSuspend || e.StaffAccountID != f.Staff.ID || e.Reason == nil || *e.Reason != reason ||
		!strings.Contains(e.Changes, `"suspension_reason":[null,"`+reason+`"]`) {
		t.Errorf("audit entry %+v", e)
	}
	if p := b.get("/admin/users/" + f.Client.UserID + "/"); !strings.Contains(p.Body, "Suspensión") || !strings.Contains(p.Body, reason) {
		t.Errorf("user page does not show the suspension entry")
	}

	// A double submit: a clear message next to the field, nothing changes.
	tok := b.token("/admin/")
	again := b.post("/admin/users/"+f.Client.UserID+"/suspend/", url.Values{"csrf_token": {tok}, "reason": {"otra vez"}, "confirmar": {"1"}})
	if again.Status != http.StatusBadRequest || !strings.Contains(again.Body, "ya está suspendido") || !strings.Contains(again.Body, `id="reason-error"`) {
		t.Errorf("second suspension: %d, want 400 with the message next to the field", again.Status)
	}

	// Reinstate: access returns at once.
	if _, second := b.twoSteps("/admin/users/"+f.Client.UserID+"/reinstate/", "Aclarado con el cliente"); second == nil || second.Status != http.StatusSeeOther {
		t.Fatalf("reinstate failed")
	}
	if res := f.W.Do(t, http.MethodGet, "/user/api/me/", client, nil); res.Status != http.StatusOK {
		t.Errorf("after reinstatement: GET me %d %s", res.Status, res.Body)
	}
	if c, _, err := testutil.DialSocket(t, f.W.URL, "/ws/deliveries/users/me/quotes/", client); err != nil {
		t.Errorf("socket after reinstatement: %v", err)
	} else if m := testutil.ReadFrame(t, c, wait); m["type"] != "user_quotes.initial" {
		t.Errorf("socket after reinstatement: first frame %v", m["type"])
	}
	var entries int64
	must(t, f.W.Store.DB.Model(&store.StaffAudit{}).Where("object_id = ?", f.Client.UserID).Count(&entries).Error)
	if entries != 2 {
		t.Errorf("%d audit entries, want 2 (suspend, reinstate)", entries)
	}
}

// TestSuspendBadInput: an empty reason, an unknown user, reinstating someone
// not suspended: a message next to the field (or 404) and nothing changes.
func TestSuspendBadInput(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	tok := b.token("/admin/")
	path := "/admin/users/" + f.Client.UserID
	for _, c := range []struct {
		name, path string
		form       url.Values
		status     int
		text       string
	}{
		{"empty reason", path + "/suspend/", url.Values{"reason": {"   "}}, 400, "Este campo es requerido."},
		{"empty reason, confirmed", path + "/suspend/", url.Values{"reason": {""}, "confirmar": {"1"}}, 400, "Este campo es requerido."},
		{"reason too long", path + "/suspend/", url.Values{"reason": {strings.Repeat("x", 301)}}, 400, "300 caracteres"},
		{"unknown user", "/admin/users/user_nobody/suspend/", url.Values{"reason": {"x"}, "confirmar": {"1"}}, 404, "No encontrado"},
		{"not suspended", path + "/reinstate/", url.Values{"reason": {"x"}, "confirmar": {"1"}}, 400, "no está suspendido"},
	} {
		c.form.Set("csrf_token", tok)
		p := b.post(c.path, c.form)
		if p.Status != c.status || !strings.Contains(p.Body, c.text) {
			t.Errorf("%s: %d, want %d with %q", c.name, p.Status, c.status, c.text)
		}
		if c.status == 400 && !strings.Contains(p.Body, `id="reason-error"`) {
			t.Errorf("%s: the message is not next to the field", c.name)
		}
	}
	var u store.User
	must(t, f.W.Store.DB.Where("userid = ?", f.Client.UserID).Take(&u).Error)
	var n int64
	must(t, f.W.Store.DB.Model(&store.StaffAudit{}).Count(&n).Error)
	if u.SuspendedAt != nil || n != 0 {
		t.Errorf("refused forms changed data: suspended %v, %d audit entries", u.SuspendedAt, n)
	}
}
