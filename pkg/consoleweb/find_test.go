package consoleweb_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"hermez/pkg/store"
)

var (
	tileRe  = regexp.MustCompile(`<a class="tile[^"]*" href="([^"]+)"[^>]*><strong[^>]*>(\d+)</strong>`)
	countRe = regexp.MustCompile(`id="result-count"[^>]*><strong>(\d+)</strong>`)
)

func resultCount(t *testing.T, p *page) int {
	t.Helper()
	m := countRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no result count on the page (status %d)", p.Status)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Every dashboard tile links to a list whose result count is the tile's
// number, with rows that a tile must not count present (expired quote,
// deleted available driver, verified vehicle).
func TestTilesLinkToWhatTheyCount(t *testing.T) {
	f := newFixture(t)
	db := f.W.Store.DB
	now := store.Now()
	gone := store.User{UserID: "user_gone", FirstName: strp("Ido"), Role: strp("delivery"), IsAvailable: true, IsOnline: true,
		DeletedAt: &now, CreatedAt: now, UpdatedAt: now}
	must(t, db.Create(&gone).Error)
	online := store.User{UserID: "user_online", FirstName: strp("Olga"), Role: strp("delivery"), IsOnline: true, CreatedAt: now, UpdatedAt: now}
	must(t, db.Create(&online).Error)
	expired := f.Quote
	expired.ID, expired.HistoryID, expired.ExpiresAt, expired.CreatedAt = uuid.New(), uuid.New(), now.Add(-time.Minute), now.Add(-time.Hour)
	must(t, db.Omit("Offers").Create(&expired).Error)

	b := f.browser(t)
	b.mustLogin()
	dash := b.get("/admin/")
	tiles := tileRe.FindAllStringSubmatch(dash.Body, -1)
	if !strings.Contains(dash.Body, `<meta http-equiv="refresh" content="30">`) {
		t.Errorf("the dashboard does not refresh itself")
	}
	if len(tiles) < 11 {
		t.Fatalf("found %d tiles on the dashboard", len(tiles))
	}
	for _, m := range tiles {
		link, want := html.UnescapeString(m[1]), m[2]
		if !strings.HasPrefix(link, "/admin/") {
			t.Errorf("tile link %q", link)
			continue
		}
		p := b.get(link)
		if p.Status != http.StatusOK {
			t.Errorf("tile %s: %d", link, p.Status)
			continue
		}
		if got := strconv.Itoa(resultCount(t, p)); got != want {
			t.Errorf("tile %s counts %s, its list shows %s", link, want, got)
		}
	}
}

func TestUserSearchPage(t *testing.T) {
	f := newFixture(t)
	db := f.W.Store.DB
	now := store.Now()
	for _, u := range []store.User{
		{UserID: "user_jorge", FirstName: strp("Jorge"), LastName: strp("Patiño"), Phone: strp("3105550101"), CreatedAt: now, UpdatedAt: now},
		{UserID: "user_diana", Username: strp("user_diana"), FirstName: strp("Diana"), CreatedAt: now, UpdatedAt: now},
		{UserID: "user_ana", FirstName: strp("Ana"), CreatedAt: now, UpdatedAt: now},
	} {
		must(t, db.Create(&u).Error)
	}
	b := f.browser(t)
	b.mustLogin()
	p := b.get("/admin/users/?q=" + url.QueryEscape("jorge patino"))
	if resultCount(t, p) != 1 || !strings.Contains(p.Body, "Jorge Patiño") {
		t.Errorf("jorge patino: %d results", resultCount(t, p))
	}
	// tap to call
	if !strings.Contains(html.UnescapeString(p.Body), `href="tel:3105550101"`) {
		t.Errorf("phone is not tap-to-call")
	}
	p = b.get("/admin/users/?q=Ana")
	if resultCount(t, p) != 1 || strings.Contains(p.Body, "Diana") {
		t.Errorf("Ana: %d results (Diana listed: %v)", resultCount(t, p), strings.Contains(p.Body, "Diana"))
	}
	// sortable headers keep the filter and say the current order
	p = b.get("/admin/users/?q=a&orden=nombre&dir=asc")
	body := html.UnescapeString(p.Body)
	if !strings.Contains(body, `aria-sort="ascending"`) || !strings.Contains(body, "?dir=desc&orden=nombre&q=a\"") {
		t.Errorf("sorted list does not mark its order or keep its filter")
	}
}

// A date that cannot be read is said next to its field and not applied.
func TestBadDateFilter(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	for _, path := range []string{"/admin/users/", "/admin/deliveries/", "/admin/quotes/", "/admin/offers/", "/admin/activity/"} {
		p := b.get(path + "?desde=2026-13-45")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="desde-error"`) || !strings.Contains(p.Body, "Fecha no válida") {
			t.Errorf("%s bad date: %d", path, p.Status)
		}
		p = b.get(path + "?desde=2026-02-02&hasta=2026-02-01")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="hasta-error"`) {
			t.Errorf("%s reversed range: %d", path, p.Status)
		}
	}
	// A good range narrows the list: the fixture's delivery was created today.
	today := time.Now().In(time.FixedZone("COT", -5*3600)).Format("2006-01-02")
	if n := resultCount(t, b.get("/admin/deliveries/?desde="+today+"&hasta="+today)); n != 1 {
		t.Errorf("today's deliveries: %d", n)
	}
	if n := resultCount(t, b.get("/admin/deliveries/?hasta=2020-01-01")); n != 0 {
		t.Errorf("deliveries before 2020: %d", n)
	}
	// by short id
	if n := resultCount(t, b.get("/admin/deliveries/?q="+f.Delivery.ID.String()[:8])); n != 1 {
		t.Errorf("delivery by short id: %d", n)
	}
}

// The trends page draws four SVG charts, each with a table of its numbers,
// and asks for nothing outside the page.
func TestTrendsPage(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	p := b.get("/admin/trends/")
	if p.Status != http.StatusOK {
		t.Fatalf("trends: %d", p.Status)
	}
	if n := strings.Count(p.Body, `<svg xmlns="http://www.w3.org/2000/svg" viewBox`); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	if n := strings.Count(p.Body, `<div class="sr"><table>`); n != 4 {
		t.Errorf("%d tables for screen readers, want 4", n)
	}
	// The fixture's delivery (created now, in transit) is in today's bar and row.
	if !strings.Contains(p.Body, "En curso: 1</title>") {
		t.Errorf("today's in-transit delivery is not drawn")
	}
	for _, bad := range []string{`src="http`, `href="http`, "<script"} {
		if strings.Contains(p.Body[strings.Index(p.Body, "<main"):], bad) {
			t.Errorf("trends page holds %s", bad)
		}
	}
}

// A search the lists cannot take (too long, a NUL, not UTF-8) is said next
// to the field and not applied; no 5xx on either database.
func TestBadSearch(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t)
	b.mustLogin()
	for _, path := range []string{"/admin/users/", "/admin/deliveries/", "/admin/quotes/", "/admin/offers/", "/admin/vehicles/"} {
		p := b.get(path + "?q=" + url.QueryEscape(strings.Repeat("a", 101)))
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="q-error"`) {
			t.Errorf("%s long search: %d, want 400 with the message next to the field", path, p.Status)
		}
		// A NUL or bytes that are not UTF-8 are refused before the console (pkg/serve): 400, never a 5xx.
		for _, q := range []string{"ana\x00", "\xff\xfe"} {
			if p := b.get(path + "?q=" + url.QueryEscape(q)); p.Status != http.StatusBadRequest {
				t.Errorf("%s q=%q: %d, want 400", path, q, p.Status)
			}
		}
	}
	if n := resultCount(t, b.get("/admin/users/?q="+url.QueryEscape(strings.Repeat("a", 101)))); n != 2 {
		t.Errorf("a refused search filtered the list: %d users, want all 2", n)
	}
}
