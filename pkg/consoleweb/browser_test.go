package consoleweb_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

// Chromium is Debian's `chromium` package; the test skips without it.
const chromiumPath = "/usr/bin/chromium"

// TestBrowserVerifyVehicle drives the console in headless Chromium: log in,
// approve a vehicle's documents and mark it verified, then check the vehicle
// through the HTTP API as its owner. On failure it saves a screenshot and
// prints where.
func TestBrowserVerifyVehicle(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	f := newFixture(t)
	tabCtx, run, read := openBrowser(t, 390, 844, 60*time.Second) // a phone-sized viewport
	base := f.W.URL
	vehiclePath := "/admin/vehicles/" + f.Vehicle.VehicleID.String() + "/"

	run("open the console (redirects to login)",
		chromedp.Navigate(base+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("username")))
	run("log in",
		chromedp.SendKeys(chromedp.ID("username"), "ana"),
		chromedp.SendKeys(chromedp.ID("password"), staffPass),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("vehicles-awaiting")))
	if got := read("dashboard count", chromedp.Text(chromedp.ID("vehicles-awaiting"))); got != "1" {
		t.Errorf("dashboard shows %q vehicles awaiting verification, want 1", got)
	}
	run("open the vehicle from the list",
		chromedp.Navigate(base+"/admin/vehicles/"),
		chromedp.Click(chromedp.Search(`//a[normalize-space(text())="ABC12D"]`)),
		chromedp.WaitVisible(chromedp.ID("verify-form")))
	run("approve every document and mark verified", chromedp.Click(chromedp.CSS("[data-approve-all]")))
	for _, id := range []string{"driverLicenseStatus", "registrationCardStatus", "insurancePolicyStatus", "criminalRecordStatus"} {
		if v := read(id, chromedp.Value(chromedp.ID(id))); v != "approved" {
			t.Errorf("%s is %q after 'Aprobar todos' (is the console's JS served and allowed by the CSP?)", id, v)
		}
	}
	ctx, cancel := context.WithTimeout(tabCtx, 10*time.Second)
	checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("isVerified").checked`))
	cancel()
	if err != nil || !checked {
		t.Errorf("isVerified not checked after 'Aprobar todos' (%v)", err)
	}
	run("save",
		chromedp.SendKeys(chromedp.ID("verificationNotes"), "Documentos revisados en persona"),
		chromedp.Click(chromedp.ID("verify-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	flash := read("flash", chromedp.Text(chromedp.CSS(".flash")))
	location := read("location", chromedp.Location())
	if !strings.Contains(flash, "Cambios guardados") || !strings.Contains(location, vehiclePath) {
		t.Fatalf("after save: flash %q at %s (screenshot: %s)", flash, location, screenshot(t, tabCtx))
	}

	// The store row (what every reader sees).
	var v store.Vehicle
	must(t, f.W.Store.DB.Where("vehicle_id = ?", f.Vehicle.VehicleID).Take(&v).Error)
	if !v.IsVerified || v.DriverLicenseStatus != "approved" || v.RegistrationCardStatus != "approved" ||
		v.InsurancePolicyStatus != "approved" || v.CriminalRecordStatus != "approved" ||
		v.VerificationNotes == nil || *v.VerificationNotes != "Documentos revisados en persona" {
		t.Fatalf("vehicle row after the browser saved it: %+v", v)
	}

	// Through the HTTP API, as the vehicle's owner.
	tok := f.W.Token(t, f.Driver.UserID)
	res := f.W.Do(t, http.MethodGet, "/user/api/me/vehicles/"+f.Vehicle.VehicleID.String()+"/", tok, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET the vehicle through the API: %d %s", res.Status, res.Body)
	}
	got := res.Map(t)
	if got["isVerified"] != true || got["driverLicenseStatus"] != "approved" || got["criminalRecordStatus"] != "approved" ||
		got["verificationNotes"] != "Documentos revisados en persona" {
		t.Fatalf("API shows the vehicle as %v", got)
	}
}

// openBrowser starts a headless Chromium of the test's own at width×height,
// living at most life, and returns its tab and two verbs: run (actions) and
// read (a value), each with its own 15-s deadline and a screenshot on failure.
func openBrowser(t *testing.T, width, height int, life time.Duration) (tabCtx context.Context,
	run func(name string, actions ...chromedp.Action[chromedp.Void]), read func(name string, a chromedp.Action[string]) string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(t.TempDir()),
	)
	lifeCtx, stop := context.WithTimeout(context.Background(), life)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(lifeCtx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelTab(); cancelAlloc(); stop() })
	// The first call starts the browser: no per-step timeout on it (chromedp's rule).
	if err := chromedp.Do(tabCtx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	run = func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tabCtx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser step %q: %v (screenshot: %s)", name, err, screenshot(t, tabCtx))
		}
	}
	read = func(name string, a chromedp.Action[string]) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(tabCtx, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser read %q: %v (screenshot: %s)", name, err, screenshot(t, tabCtx))
		}
		return v
	}
	return tabCtx, run, read
}

// screenshot saves the current page into a kept temporary directory (t.TempDir
// is removed when the test ends, so the path would point nowhere) and returns
// its path.
func screenshot(t *testing.T, tabCtx context.Context) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tabCtx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "unavailable: " + err.Error()
	}
	dir, err := os.MkdirTemp("", "hermez-admin-browser-")
	if err != nil {
		return "unavailable: " + err.Error()
	}
	p := filepath.Join(dir, t.Name()+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		return "unavailable: " + err.Error()
	}
	return p
}

// TestBrowserActing drives the console at phone width (390 px) in headless
// Chromium: the dashboard marks a stuck in-transit delivery; the operator
// opens it, cancels it with a reason through the confirmation and the
// client's socket gets delivery_cancelled; then suspends the client and the
// client's API call is refused with the reason; the activity page shows both
// actions. On failure a screenshot is saved and its path printed.
func TestBrowserActing(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	f := newLiveFixture(t)
	// In transit for two hours: past the 90-minute threshold.
	must(t, f.W.Store.DB.Model(&store.Delivery{}).Where("id = ?", f.Delivery.ID).
		Update("updated_at", store.Now().Add(-2*time.Hour)).Error)
	client := f.W.Token(t, f.Client.UserID)
	sock, _, err := testutil.DialSocket(t, f.W.URL, "/ws/deliveries/"+f.Delivery.ID.String()+"/", client)
	if err != nil {
		t.Fatal(err)
	}
	tabCtx, run, read := openBrowser(t, 390, 844, 90*time.Second)
	base := f.W.URL
	run("log in",
		chromedp.Navigate(base+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "ana"),
		chromedp.SendKeys(chromedp.ID("password"), staffPass),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("stuck-total")))
	if got := read("stuck count", chromedp.Text(chromedp.ID("stuck-total"))); got != "1" {
		t.Errorf("dashboard shows %q stuck deliveries, want 1 (screenshot: %s)", got, screenshot(t, tabCtx))
	}
	if got := read("stuck row", chromedp.Text(chromedp.CSS("#active tr.stuck"))); !strings.Contains(got, "Atascada") || !strings.Contains(got, "2 h") {
		t.Errorf("stuck row reads %q (screenshot: %s)", got, screenshot(t, tabCtx))
	}
	run("open the stuck delivery",
		chromedp.Click(chromedp.CSS("#active tr.stuck td.state a")),
		chromedp.WaitVisible(chromedp.ID("cancel-form")))
	reason := "Domiciliario sin batería, cliente avisado"
	run("cancel with a reason",
		chromedp.SendKeys(chromedp.ID("reason"), reason),
		chromedp.Click(chromedp.ID("cancel-submit")),
		chromedp.WaitVisible(chromedp.ID("confirm-submit")))
	run("confirm",
		chromedp.Click(chromedp.ID("confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := read("status", chromedp.Text(chromedp.ID("delivery-status"))); got != "Cancelada" {
		t.Errorf("delivery page shows %q, want Cancelada (screenshot: %s)", got, screenshot(t, tabCtx))
	}
	if m := testutil.ReadFrameOfType(t, sock, "delivery_cancelled", wait); m["data"].(map[string]any)["status"] != "cancelled" {
		t.Errorf("client's frame %v", m)
	}

	suspension := "Amenazas a un domiciliario"
	run("open the client",
		chromedp.Navigate(base+"/admin/users/"+f.Client.UserID+"/"),
		chromedp.WaitVisible(chromedp.ID("suspension-submit")))
	run("suspend with a reason",
		chromedp.SendKeys(chromedp.ID("reason"), suspension),
		chromedp.Click(chromedp.ID("suspension-submit")),
		chromedp.WaitVisible(chromedp.ID("confirm-submit")),
		chromedp.Click(chromedp.ID("confirm-submit")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := read("suspension", chromedp.Text(chromedp.ID("suspension"))); !strings.Contains(got, "Suspendido") {
		t.Errorf("user page shows %q (screenshot: %s)", got, screenshot(t, tabCtx))
	}
	res := f.W.Do(t, http.MethodGet, "/deliveries/api/quotes/", client, nil)
	if res.Status != http.StatusForbidden || res.Map(t)["detail"] != "Tu cuenta está suspendida: "+suspension {
		t.Errorf("the client's API call after suspension: %d %s", res.Status, res.Body)
	}

	run("activity page", chromedp.Navigate(base+"/admin/activity/"), chromedp.WaitVisible(chromedp.ID("activity-count")))
	page := read("activity", chromedp.Text(chromedp.ID("main")))
	for _, want := range []string{"Cancelación", reason, "Suspensión", suspension} {
		if !strings.Contains(page, want) {
			t.Errorf("activity page lacks %q (screenshot: %s)", want, screenshot(t, tabCtx))
		}
	}
	// The page fits the phone: nothing behind a sideways scroll.
	ctx, cancel := context.WithTimeout(tabCtx, 10*time.Second)
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	cancel()
	if err != nil || wide {
		t.Errorf("activity page wider than the phone (%v) (screenshot: %s)", err, screenshot(t, tabCtx))
	}
}
