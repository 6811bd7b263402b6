package consoleweb_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"hermez/pkg/consoleweb"
)

func TestMoney(t *testing.T) {
	for in, want := range map[string]string{"27000": "$27.000", "27000.00": "$27.000", "1500000": "$1.500.000",
		"999": "$999", "0": "$0", "12000.5": "$12.000,50", "-3000": "-$3.000"} {
		if got := consoleweb.Money(decimal.RequireFromString(in)); got != want {
			t.Errorf("money(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestSmallThings: offer statuses agree with "oferta", prices as "$13.000",
// /favicon.ico answers.
func TestSmallThings(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	offers := b.get("/admin/offers/")
	if !strings.Contains(offers.Body, "Rechazadas") || !strings.Contains(offers.Body, "Pendiente") || strings.Contains(offers.Body, "Rechazado") {
		t.Errorf("offer statuses do not agree with oferta")
	}
	// An accepted offer goes with its quote: the filter cannot match it, so it is not offered.
	if strings.Contains(offers.Body, `value="accepted"`) || strings.Contains(b.get("/admin/quotes/").Body, `value="pending"`) {
		t.Errorf("a filter option that can never match is offered")
	}
	if !strings.Contains(offers.Body, "$13.000") {
		t.Errorf("offer price not shown as $13.000")
	}
	if d := b.get("/admin/deliveries/" + f.Delivery.ID.String() + "/"); !strings.Contains(d.Body, "$15.000") {
		t.Errorf("delivery price not shown as $15.000")
	}
	res, err := http.Get(f.W.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("/favicon.ico: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
