package consoleweb_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"golang.org/x/crypto/bcrypt"

	"hermez/pkg/app"
	"hermez/pkg/console"
	"hermez/pkg/realtime"
	"hermez/pkg/store"
	"hermez/pkg/testutil"
)

func init() { console.BcryptCost = bcrypt.MinCost }

const staffPass = "clave-segura-1"

// fixture is a web process with one staff account, one driver with an
// unverified vehicle, a client, a quote with an offer and a delivery with history.
type fixture struct {
	W        *testutil.Web
	Staff    *store.StaffAccount
	Driver   store.User
	Client   store.User
	Vehicle  store.Vehicle
	Quote    store.Quote
	Offer    store.Offer
	Delivery store.Delivery
	Category store.Category
	VType    store.VehicleType
	// Skew moves the store's clock (sessions, the login limit, the
	// services) ahead of the wall clock by this many nanoseconds.
	Skew *atomic.Int64
}

func strp(s string) *string { return &s }

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, testutil.WebOptions{})
}

// newLiveFixture is newFixture with the in-process broker: the web process
// serves the sockets and relays the outbox itself (single-process mode).
func newLiveFixture(t testing.TB) *fixture {
	t.Helper()
	m := realtime.NewMemory()
	return newFixtureWith(t, testutil.WebOptions{Broker: &app.Broker{Publisher: m, Memory: m}})
}

func newFixtureWith(t testing.TB, o testutil.WebOptions) *fixture {
	t.Helper()
	skew := new(atomic.Int64)
	if o.Store == nil {
		o.Store = testutil.NewStore(t)
		o.Store.Now = func() time.Time { return store.Now().Add(time.Duration(skew.Load())) }
	}
	w := testutil.NewWeb(t, o)
	ctx := context.Background()
	acc, err := console.New(w.Store).CreateAccount(ctx, "ana", staffPass, false)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{W: w, Staff: acc, Skew: skew}
	db := w.Store.DB
	if err := db.Where("name = ?", "Moto").Take(&f.VType).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Where("name = ?", "Paquetes").Take(&f.Category).Error; err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	f.Driver = store.User{UserID: "user_driver_" + uuid.NewString()[:8], FirstName: strp("Pedro"), LastName: strp("Pérez"),
		Email: strp("pedro@example.com"), Role: strp("delivery"), IsAvailable: true, CreatedAt: now, UpdatedAt: now}
	f.Client = store.User{UserID: "user_client_" + uuid.NewString()[:8], FirstName: strp("Carla"), Role: strp("client"), CreatedAt: now, UpdatedAt: now}
	must(t, db.Create(&f.Driver).Error)
	must(t, db.Create(&f.Client).Error)
	f.Vehicle = store.Vehicle{VehicleID: uuid.New(), UserID: f.Driver.UserID, TypeID: f.VType.ID, Brand: "Yamaha", Model: "NMAX",
		Year: 2022, LicensePlate: "ABC12D", VIN: "VIN" + uuid.NewString()[:10], Color: "Negro",
		DriverLicenseStatus: "pending", RegistrationCardStatus: "pending", InsurancePolicyStatus: "pending", CriminalRecordStatus: "pending",
		CreatedAt: now, UpdatedAt: now}
	must(t, db.Create(&f.Vehicle).Error)
	f.Quote = store.Quote{ID: uuid.New(), ClientID: f.Client.UserID, PickupAddress: "Calle 1 # 2-3", DeliveryAddress: "Carrera 4 # 5-6",
		CategoryID: f.Category.ID, Observations: store.StringList{"Frágil"}, ClientPrice: decimal.RequireFromString("12000"),
		PaymentMethod: "efectivo", Status: store.QuotePending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), HistoryID: uuid.New()}
	must(t, db.Omit("Offers").Create(&f.Quote).Error)
	f.Offer = store.Offer{ID: uuid.New(), DeliveryPersonID: f.Driver.UserID, QuoteID: f.Quote.ID, ProposedPrice: decimal.RequireFromString("13000"),
		VehicleID: &f.Vehicle.VehicleID, Status: store.OfferPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(4 * time.Minute)}
	must(t, db.Create(&f.Offer).Error)
	hid := uuid.New()
	f.Delivery = store.Delivery{ID: uuid.New(), ClientID: f.Client.UserID, DeliveryPersonID: &f.Driver.UserID, PickupAddress: "Av. 68 # 10",
		DeliveryAddress: "Calle 80 # 20", CategoryID: f.Category.ID, Observations: store.StringList{}, PaymentMethod: "nequi",
		FinalPrice: decimal.RequireFromString("15000"), VehicleID: &f.Vehicle.VehicleID, Status: store.DeliveryInTransit,
		CreatedAt: now, UpdatedAt: now, HistoryID: hid}
	must(t, db.Create(&f.Delivery).Error)
	for i, ev := range []string{store.HistoryQuoteCreated, store.HistoryOfferAccepted, store.HistoryStatusChanged} {
		h := store.HistoryEvent{ID: uuid.New(), HistoryID: hid, EventType: ev, Description: "evento " + ev,
			ChangedByID: &f.Client.UserID, CreatedAt: now.Add(time.Duration(i) * time.Second)}
		must(t, db.Create(&h).Error)
	}
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (f *fixture) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: f.W.URL, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) *page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return &page{Status: res.StatusCode, Header: res.Header, Body: string(raw)}
}

func (b *browser) get(path string) *page { b.t.Helper(); return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values) *page {
	b.t.Helper()
	return b.do(http.MethodPost, path, form)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrf(t testing.TB, p *page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in page (status %d)", p.Status)
	}
	return m[1]
}

// loginAs logs in and returns the answer to the login POST.
func (b *browser) loginAs(user, pass string) *page {
	b.t.Helper()
	lp := b.get("/admin/login/")
	if lp.Status != http.StatusOK {
		b.t.Fatalf("login page: %d", lp.Status)
	}
	return b.post("/admin/login/", url.Values{"csrf_token": {csrf(b.t, lp)}, "username": {user}, "password": {pass}, "next": {"/admin/"}})
}

func (b *browser) mustLogin() {
	b.t.Helper()
	p := b.loginAs("ana", staffPass)
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/admin/" {
		b.t.Fatalf("login: %d %s\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
}

// token fetches a page and returns its CSRF token.
func (b *browser) token(path string) string {
	b.t.Helper()
	return csrf(b.t, b.get(path))
}

func isLoginRedirect(p *page) bool {
	loc := p.Header.Get("Location")
	return (p.Status == http.StatusFound || p.Status == http.StatusSeeOther) && strings.HasPrefix(loc, "/admin/login/")
}
