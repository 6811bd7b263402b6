package consoleweb_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"hermez/pkg/audit"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// TestCancelDeliveryFromConsole: a stuck in-transit delivery is cancelled with
// a reason after a confirmation; its client's socket gets delivery_cancelled;
// the history row is `cancelled` with no app user and the reason; the audit
// entry is on the delivery's page. A second submit, an empty reason and an
// unknown id change nothing.
func TestCancelDeliveryFromConsole(t *testing.T) {
	f := newLiveFixture(t)
	b := f.browser(t)
	b.mustLogin()
	path := "/admin/deliveries/" + f.Delivery.ID.String() + "/"
	client := f.W.Token(t, f.Client.UserID)
	sock, _, err := testutil.DialSocket(t, f.W.URL, "/ws/deliveries/"+f.Delivery.ID.String()+"/", client)
	if err != nil {
		t.Fatal(err)
	}
	tok := b.token(path)
	// Bad input first: nothing changes.
	for _, c := range []struct {
		name, path string
		form       url.Values
		status     int
		text       string
	}{
		{"empty reason", path + "cancel/", url.Values{"reason": {" "}, "confirmar": {"1"}}, 400, "Este campo es requerido."},
		{"unknown id", "/admin/deliveries/00000000-0000-0000-0000-000000000000/cancel/", url.Values{"reason": {"x"}, "confirmar": {"1"}}, 404, "No encontrado"},
	} {
		c.form.Set("csrf_token", tok)
		if p := b.post(c.path, c.form); p.Status != c.status || !strings.Contains(p.Body, c.text) {
			t.Errorf("%s: %d, want %d with %q", c.name, p.Status, c.status, c.text)
		}
	}
	reason := "Domiciliario sin batería, cliente avisado"
	first, second := b.twoSteps(path+"cancel/", reason)
	if second == nil || second.Status != http.StatusSeeOther {
		t.Fatalf("cancel: first %d, second %v", first.Status, second)
	}
	m := testutil.ReadFrameOfType(t, sock, "delivery_cancelled", wait)
	if d, _ := m["data"].(map[string]any); d == nil || d["status"] != "cancelled" {
		t.Errorf("delivery_cancelled frame %v", m)
	}
	var d store.Delivery
	must(t, f.W.Store.DB.Where("id = ?", f.Delivery.ID).Take(&d).Error)
	var h store.HistoryEvent
	must(t, f.W.Store.DB.Where("history_id = ? AND event_type = ?", d.HistoryID, store.HistoryCancelled).Take(&h).Error)
	if d.Status != store.DeliveryCancelled || d.CancelledAt == nil || h.ChangedByID != nil || !strings.Contains(h.Description, reason) {
		t.Errorf("after cancel: status %s, history %+v", d.Status, h)
	}
	var e store.StaffAudit
	must(t, f.W.Store.DB.Where("object_kind = ? AND object_id = ?", audit.KindDelivery, d.ID.String()).Take(&e).Error)
	if e.Action != audit.ActionCancel || !strings.Contains(e.Changes, `"status":["in_transit","cancelled"]`) {
		t.Errorf("audit entry %+v", e)
	}
	page := b.get(path)
	if strings.Contains(page.Body, `id="cancel-form"`) || !strings.Contains(page.Body, "Cancelación") {
		t.Errorf("a cancelled delivery's page offers a cancel, or lacks its audit entry")
	}
	// Double submit: a clear message, nothing more written.
	again := b.post(path+"cancel/", url.Values{"csrf_token": {tok}, "reason": {reason}, "confirmar": {"1"}})
	if again.Status != http.StatusBadRequest || !strings.Contains(again.Body, "No se puede cancelar") || !strings.Contains(again.Body, `id="reason-error"`) {
		t.Errorf("second cancel: %d, want 400 with the message", again.Status)
	}
	var n int64
	must(t, f.W.Store.DB.Model(&store.StaffAudit{}).Count(&n).Error)
	if n != 1 {
		t.Errorf("%d audit entries, want 1", n)
	}
}
