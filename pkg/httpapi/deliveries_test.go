package httpapi_test

import (
	"fmt"
	"strings"
	"testing"

	"hermez/pkg/config"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// The whole story over HTTP: quote → two offers → update one → reject one →
// accept the other → change_status through to paid → history; then a
// cancelled delivery and a cancelled quote.
func TestMarketplaceStory(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{})
	client := newActor(t, w, "user_story_client")
	jhon := newActor(t, w, "user_story_jhon")
	other := newActor(t, w, "user_story_other")
	addVehicle(t, w, jhon.ID, "Moto", false)
	addVehicle(t, w, other.ID, "Carro", false)

	// Quote, as the frontend sends it.
	res := w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, nil))
	q := mustStatus(t, res, 201)
	qid := q["id"].(string)
	if q["category"] != "Paquetes" || q["vehicle_type"] != "Moto" || q["client_price"] != "12000.00" ||
		q["estimated_weight"] != "3.50" || q["status"] != "pending" || q["payment_method"] != "efectivo" {
		t.Fatalf("quote %s", res.Body)
	}
	if c := q["client"].(map[string]any); c["userid"] != client.ID || c["email"] != client.ID+"@example.com" {
		t.Fatalf("client of own quote: %v", c)
	}

	// Drivers see it in the marketplace, with the client's email hidden.
	var list []map[string]any
	res = w.Do(t, "GET", "/deliveries/api/quotes/", jhon.Tok, nil)
	mustStatus(t, res, 200)
	res.JSON(t, &list)
	if len(list) != 1 || list[0]["id"] != qid || list[0]["client"].(map[string]any)["email"] != nil {
		t.Fatalf("marketplace for a driver: %s", res.Body)
	}

	// Two offers; then Jhon updates his (200, same id).
	o1 := makeOffer(t, w, jhon, qid, "13000", 201)
	o2 := makeOffer(t, w, other, qid, 12500, 201)
	if o1["can_accept"] != false || o1["proposed_price"] != "13000.00" || o1["vehicle"].(map[string]any)["type"].(map[string]any)["name"] != "Moto" {
		t.Fatalf("offer as its driver sees it: %v", o1)
	}
	o1b := makeOffer(t, w, jhon, qid, "13500", 200)
	if o1b["id"] != o1["id"] || o1b["proposed_price"] != "13500.00" {
		t.Fatalf("updated offer %v", o1b)
	}

	// The client sees both, can_accept true; a driver sees only their own.
	res = w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/offers/", client.Tok, nil)
	mustStatus(t, res, 200)
	res.JSON(t, &list)
	if len(list) != 2 || list[0]["can_accept"] != true || list[1]["can_accept"] != true {
		t.Fatalf("client's view of offers: %s", res.Body)
	}
	res = w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/offers/", other.Tok, nil)
	res.JSON(t, &list)
	if len(list) != 1 || list[0]["id"] != o2["id"] || list[0]["can_accept"] != false {
		t.Fatalf("driver's view of offers: %s", res.Body)
	}

	// Reject the second; its driver cannot offer again.
	m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o2["id"].(string)+"/reject/", client.Tok, nil), 200)
	if m["status"] != "Oferta rechazada" {
		t.Fatalf("reject answer %v", m)
	}
	makeOffer(t, w, other, qid, 11000, 400)
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o2["id"].(string)+"/accept/", client.Tok, nil), 400)
	if m["detail"] != "Solo se pueden aceptar ofertas pendientes" || len(m) != 1 {
		t.Fatalf("accept rejected offer: %v", m)
	}

	// Accept the first.
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o1["id"].(string)+"/accept/", client.Tok, nil), 201)
	if m["message"] != "Oferta aceptada y domicilio creado" || m["quote_deleted"] != true {
		t.Fatalf("accept answer %v", m)
	}
	d := m["delivery"].(map[string]any)
	did := d["id"].(string)
	if m["delivery_id"] != did || d["status"] != "assigned" || d["final_price"] != "13500.00" || d["vehicle_type"] != "Moto" ||
		d["vehicle"] != "Moto" || d["payment_method"] != "efectivo" || d["category"] != "Paquetes" ||
		d["delivery_person"].(map[string]any)["userid"] != jhon.ID || d["delivery_person"].(map[string]any)["email"] != nil {
		t.Fatalf("delivery %v", d)
	}
	mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+qid+"/", client.Tok, nil), 404)
	var n int64
	w.Store.DB.Model(&store.Offer{}).Where("quote_id = ?", qid).Count(&n)
	if n != 0 {
		t.Fatalf("%d offers left after accept", n)
	}

	// Through to paid.
	steps := [][3]any{{"assigned", "picked_up", "in_transit"}, {"picked_up", "in_transit", "delivered"},
		{"in_transit", "delivered", "paid"}, {"delivered", "paid", nil}}
	for _, s := range steps {
		m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", jhon.Tok, nil), 200)
		if m["old_status"] != s[0] || m["new_status"] != s[1] || m["next_status"] != s[2] ||
			m["message"] != fmt.Sprintf("Estado actualizado de %s a %s", s[0], s[1]) {
			t.Fatalf("change_status %v: %v", s, m)
		}
		if s[1] == "delivered" && m["delivery"].(map[string]any)["completed_at"] == nil {
			t.Fatal("completed_at not set on delivered")
		}
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/change_status/", jhon.Tok, nil), 400)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+did+"/cancel/", client.Tok, nil), 400)

	// History, oldest first, with the exact event types and descriptions.
	m = mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+did+"/history/", client.Tok, nil), 200)
	if m["delivery"].(map[string]any)["status"] != "paid" {
		t.Fatalf("history delivery %v", m["delivery"])
	}
	wantHistory := [][2]string{
		{"quote_created", "Cotización creada por el cliente"},
		{"offer_made", "Nueva oferta creada por domiciliario"},
		{"offer_made", "Nueva oferta creada por domiciliario"},
		{"offer_made", "Oferta actualizada por domiciliario"},
		{"offer_rejected", "Oferta rechazada por el cliente"},
		{"offer_accepted", "Oferta aceptada por el cliente con precio $13500.00"},
		{"status_changed", "Estado cambiado de assigned a picked_up"},
		{"status_changed", "Estado cambiado de picked_up a in_transit"},
		{"status_changed", "Estado cambiado de in_transit a delivered"},
		{"completed", "Domicilio entregado"},
		{"status_changed", "Estado cambiado de delivered a paid"},
	}
	hist := m["history"].([]any)
	if len(hist) != len(wantHistory) {
		t.Fatalf("history has %d events, want %d: %v", len(hist), len(wantHistory), hist)
	}
	for i, wh := range wantHistory {
		h := hist[i].(map[string]any)
		if h["event_type"] != wh[0] || h["description"] != wh[1] {
			t.Fatalf("history[%d] = %v %v, want %v", i, h["event_type"], h["description"], wh)
		}
	}
	if hist[1].(map[string]any)["changed_by"].(map[string]any)["userid"] != jhon.ID {
		t.Fatalf("changed_by of the first offer: %v", hist[1])
	}

	// A cancelled delivery.
	q2 := createQuote(t, w, client, map[string]any{"payment_method": "nequi", "vehicle_type_id": nil})
	o := makeOffer(t, w, other, q2, 6000, 201)
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/offers/"+o["id"].(string)+"/accept/", client.Tok, nil), 201)
	d2 := m["delivery"].(map[string]any)
	if d2["payment_method"] != "nequi" || d2["vehicle_type"] != "Carro" {
		t.Fatalf("second delivery %v", d2)
	}
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+d2["id"].(string)+"/cancel/", other.Tok, nil), 200)
	if m["delivery"].(map[string]any)["status"] != "cancelled" || m["delivery"].(map[string]any)["cancelled_at"] == nil || m["message"] == nil {
		t.Fatalf("cancel answer %v", m)
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+d2["id"].(string)+"/cancel/", client.Tok, nil), 400)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/"+d2["id"].(string)+"/change_status/", other.Tok, nil), 400)
	m = mustStatus(t, w.Do(t, "GET", "/deliveries/api/"+d2["id"].(string)+"/history/", client.Tok, nil), 200)
	hist = m["history"].([]any)
	if last := hist[len(hist)-1].(map[string]any); last["event_type"] != "cancelled" {
		t.Fatalf("last history event %v", last)
	}

	// A cancelled quote, and a deleted one.
	q3 := createQuote(t, w, client, nil)
	makeOffer(t, w, jhon, q3, 9000, 201)
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+q3+"/cancel/", client.Tok, nil), 200)
	if m["status"] != "cancelled" || m["id"] != q3 {
		t.Fatalf("cancel quote %v", m)
	}
	mustStatus(t, w.Do(t, "GET", "/deliveries/api/quotes/"+q3+"/", client.Tok, nil), 404)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+q3+"/cancel/", client.Tok, nil), 404)
	q4 := createQuote(t, w, client, nil)
	res = w.Do(t, "DELETE", "/deliveries/api/quotes/"+q4+"/", client.Tok, nil)
	if res.Status != 204 || len(res.Body) != 0 {
		t.Fatalf("delete quote: %d %s", res.Status, res.Body)
	}
	w.Store.DB.Model(&store.Quote{}).Where("client_id = ?", client.ID).Count(&n)
	if n != 0 {
		t.Fatalf("%d quotes left", n)
	}

	// The lists: two deliveries as client (newest first), one each as driver.
	res = w.Do(t, "GET", "/deliveries/api", client.Tok, nil)
	mustStatus(t, res, 200)
	res.JSON(t, &list)
	if len(list) != 2 || list[0]["id"] != d2["id"] || list[1]["id"] != did {
		t.Fatalf("client's deliveries %s", res.Body)
	}
	res = w.Do(t, "GET", "/deliveries/api/?filter_by=delivery_person", jhon.Tok, nil)
	res.JSON(t, &list)
	if len(list) != 1 || list[0]["id"] != did {
		t.Fatalf("driver's deliveries %s", res.Body)
	}
}

// Validation: DRF-shaped field errors, non_field_errors, partial PATCH, extend cap.
func TestQuoteValidation(t *testing.T) {
	t.Parallel()
	w := testutil.NewWeb(t, testutil.WebOptions{Config: func(c *config.Config) { c.QuoteMaxLifetimeMin = 30 }})
	client := newActor(t, w, "user_val_client")

	m := mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{
		"pickup_address": nil, "delivery_address": nil, "category_id": nil, "payment_method": "bitcoin"})), 400)
	for _, f := range []string{"pickup_address", "delivery_address", "category_id"} {
		if fmt.Sprint(m[f]) != "[Este campo es requerido.]" {
			t.Fatalf("%s: %v", f, m)
		}
	}
	if fmt.Sprint(m["payment_method"]) != `["bitcoin" no es una elección válida.]` {
		t.Fatalf("payment_method: %v", m["payment_method"])
	}
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{
		"delivery_address": "Carrera 33 # 42-18, Cabecera del Llano, Bucaramanga "})), 400)
	if fmt.Sprint(m["non_field_errors"]) != "[Las direcciones de recogida y entrega deben ser diferentes]" {
		t.Fatalf("same addresses: %v", m)
	}
	for field, bad := range map[string]any{"client_price": 0, "observations": []string{"ok", " "}, "category_id": "7da29e50-50b9-4426-bbe9-712211b5c505",
		"vehicle_type_id": "7da29e50-50b9-4426-bbe9-712211b5c505"} {
		m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{field: bad})), 400)
		if m[field] == nil {
			t.Fatalf("%s=%v accepted: %v", field, bad, m)
		}
	}
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, quoteBody(t, w, client, map[string]any{"client_id": "user_someone_else"})), 403)
	mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/", client.Tok, "{not json"), 400)

	qid := createQuote(t, w, client, map[string]any{"client_price": "12000"})
	m = mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid, client.Tok, map[string]any{"client_price": 15000}), 200)
	if m["client_price"] != "15000.00" || m["pickup_address"] == "" || m["vehicle_type"] != "Moto" {
		t.Fatalf("partial patch %v", m)
	}
	mustStatus(t, w.Do(t, "PATCH", "/deliveries/api/quotes/"+qid+"/", client.Tok, map[string]any{"client_price": -1}), 400)
	mustStatus(t, w.Do(t, "PUT", "/deliveries/api/quotes/"+qid+"/", client.Tok, map[string]any{"client_price": 100}), 400)

	for _, bad := range []any{map[string]any{}, map[string]any{"minutes": 0}, map[string]any{"minutes": "abc"}, map[string]any{"minutes": 1.5}} {
		mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/extend-expiration/", client.Tok, bad), 400)
	}
	var q store.Quote
	w.Store.DB.Where("id = ?", qid).Take(&q)
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/extend-expiration/", client.Tok, map[string]any{"extra_minutes": "5"}), 200)
	if m["status"] != "extendido" || m["expires_at"] != q.ExpiresAt.Add(5*60e9).Format("2006-01-02T15:04:05.000000Z") {
		t.Fatalf("extend by 5: %v (was %v)", m, q.ExpiresAt)
	}
	m = mustStatus(t, w.Do(t, "POST", "/deliveries/api/quotes/"+qid+"/extend-expiration/", client.Tok, map[string]any{"minutes": 500}), 200)
	if m["expires_at"] != q.CreatedAt.Add(30*60e9).Format("2006-01-02T15:04:05.000000Z") {
		t.Fatalf("extend capped: %v, created %v", m, q.CreatedAt)
	}

	// Routes: 405 with Allow, non-UUID ids 404, slashless paths.
	res := w.Do(t, "POST", "/deliveries/api/", client.Tok, map[string]any{})
	m = mustStatus(t, res, 405)
	if m["detail"] != `Método "POST" no permitido.` || !strings.Contains(res.Header.Get("Allow"), "GET") {
		t.Fatalf("405: %v allow=%q", m, res.Header.Get("Allow"))
	}
	for _, method := range []string{"PUT", "PATCH", "DELETE"} {
		mustStatus(t, w.Do(t, method, "/deliveries/api/"+qid+"/", client.Tok, map[string]any{}), 405)
	}
	for _, p := range []string{"/deliveries/api/not-a-uuid/", "/deliveries/api/quotes/123/", "/deliveries/api/offers/x/accept/", "/deliveries/api/categories/abc"} {
		if p == "/deliveries/api/offers/x/accept/" {
			mustStatus(t, w.Do(t, "POST", p, client.Tok, nil), 404)
			continue
		}
		mustStatus(t, w.Do(t, "GET", p, client.Tok, nil), 404)
	}
	var cats []map[string]any
	res = w.Do(t, "GET", "/deliveries/api/categories", client.Tok, nil)
	mustStatus(t, res, 200)
	res.JSON(t, &cats)
	if len(cats) != 5 || cats[0]["name"] != "Alimentos" {
		t.Fatalf("categories %s", res.Body)
	}
	mustStatus(t, w.Do(t, "GET", "/deliveries/api/categories/"+cats[0]["id"].(string), client.Tok, nil), 200)
}
