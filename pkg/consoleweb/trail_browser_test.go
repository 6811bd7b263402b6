package consoleweb_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hermez/pkg/store"
)

// TestBrowserDeliveryTrail: the delivery page draws the trail (place.md §6)
// as an inline SVG in Chromium: a polyline through every point, start and
// end markers on its first and last vertex, everything inside the picture,
// north up, and no request to anywhere but the console itself.
func TestBrowserDeliveryTrail(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	f := newFixture(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	// South to north, then east: the first point lowest, the last rightmost.
	pts := []store.TrackPoint{
		{DeliveryID: f.Delivery.ID, RecordedAt: t0, Latitude: 4.600000, Longitude: -74.080000},
		{DeliveryID: f.Delivery.ID, RecordedAt: t0.Add(15 * time.Second), Latitude: 4.601000, Longitude: -74.080000},
		{DeliveryID: f.Delivery.ID, RecordedAt: t0.Add(30 * time.Second), Latitude: 4.602000, Longitude: -74.080200},
		{DeliveryID: f.Delivery.ID, RecordedAt: t0.Add(45 * time.Second), Latitude: 4.602000, Longitude: -74.078000},
	}
	must(t, f.W.Store.DB.Create(&pts).Error)

	tabCtx, step, _ := openBrowser(t, 412, 915, 60*time.Second)
	base := f.W.URL
	step("log in",
		chromedp.Navigate(base+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "ana"),
		chromedp.SendKeys(chromedp.ID("password"), staffPass),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("vehicles-awaiting")))
	step("the delivery's page",
		chromedp.Navigate(base+"/admin/deliveries/"+f.Delivery.ID.String()+"/"),
		chromedp.WaitVisible(chromedp.ID("trail-svg")))

	ctx, cancel := context.WithTimeout(tabCtx, 15*time.Second)
	defer cancel()
	type geom struct {
		N                 int
		W, H              float64
		BX, BY, BW, BH    float64
		SX, SY, EX, EY    float64
		FX, FY, LX, LY    float64
		Rendered, Foreign int
		Summary           string
	}
	g, err := chromedp.Run(ctx, chromedp.Evaluate[geom](`(() => {
		const svg = document.getElementById("trail-svg"), line = document.getElementById("trail-line");
		const pts = line.points, b = line.getBBox(), vb = svg.viewBox.baseVal;
		const s = document.getElementById("trail-start"), e = document.getElementById("trail-end");
		const r = svg.getBoundingClientRect();
		const foreign = performance.getEntriesByType("resource").filter(x => !x.name.startsWith(location.origin)).length;
		return {N: pts.numberOfItems, W: vb.width, H: vb.height, BX: b.x, BY: b.y, BW: b.width, BH: b.height,
			SX: s.cx.baseVal.value, SY: s.cy.baseVal.value, EX: e.cx.baseVal.value, EY: e.cy.baseVal.value,
			FX: pts.getItem(0).x, FY: pts.getItem(0).y, LX: pts.getItem(pts.numberOfItems-1).x, LY: pts.getItem(pts.numberOfItems-1).y,
			Rendered: Math.round(r.width), Foreign: foreign, Summary: document.getElementById("trail-summary").textContent};
	})()`))
	if err != nil {
		t.Fatalf("read the picture: %v (screenshot: %s)", err, screenshot(t, tabCtx))
	}
	shot := func() string { return screenshot(t, tabCtx) }
	switch {
	case g.N != len(pts):
		t.Fatalf("polyline of %d points, want %d (screenshot: %s)", g.N, len(pts), shot())
	case g.BX < 0 || g.BY < 0 || g.BX+g.BW > g.W || g.BY+g.BH > g.H || g.BW < g.W/4 && g.BH < g.H/4:
		t.Fatalf("trail %+v not scaled to fit %vx%v (screenshot: %s)", g, g.W, g.H, shot())
	case g.SX != g.FX || g.SY != g.FY || g.EX != g.LX || g.EY != g.LY:
		t.Fatalf("markers not on the first and last points: %+v (screenshot: %s)", g, shot())
	case !(g.SY > g.LY) || !(g.EX > g.SX):
		t.Fatalf("not north up / east right: start (%v,%v) end (%v,%v) (screenshot: %s)", g.SX, g.SY, g.EX, g.EY, shot())
	case g.Rendered <= 0 || g.Rendered > 412:
		t.Fatalf("picture %d px wide on a 412 px screen (screenshot: %s)", g.Rendered, shot())
	case g.Foreign != 0:
		t.Fatalf("%d requests outside the console", g.Foreign)
	case !strings.Contains(g.Summary, "4 puntos"):
		t.Fatalf("summary %q", g.Summary)
	}
}
