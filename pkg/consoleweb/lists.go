package consoleweb

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"hermez/pkg/console"
)

// Lists (console.md "Finding"): every list says how many rows match, sorts
// by the columns whose header is a link (?orden=, ?dir=asc|desc), and
// filters by a date range (?desde=, ?hasta=: whole days in Colombia). A date
// that cannot be read is said next to its field and not applied.

// sorter is the order a list is shown in and the links that change it.
type sorter struct {
	path   string
	params url.Values
	Key    string
	Asc    bool
}

// sortOf reads ?orden= (one of keys; def when absent or unknown) and ?dir=.
func sortOf(c echo.Context, def string, keys []string) (sorter, console.Sort) {
	key := console.OneOf(c.QueryParam("orden"), keys...)
	asc := c.QueryParam("dir") == "asc"
	if key == "" {
		key, asc = def, false
	}
	s := sorter{path: c.Request().URL.Path, params: c.QueryParams(), Key: key, Asc: asc}
	return s, console.Sort{Key: key, Asc: asc}
}

// sortCol is one sortable column header.
type sortCol struct {
	Label, Link, Aria, Arrow string
	Num                      bool
}

// Col is the header of column key: a link that sorts by it (descending
// first; the current column's link flips its direction), back to page 1.
func (s sorter) Col(key, label string) sortCol {
	v := url.Values{}
	for k, vs := range s.params {
		v[k] = vs
	}
	v.Del("pagina")
	v.Set("orden", key)
	col := sortCol{Label: label, Aria: "none"}
	dir := "desc"
	if key == s.Key {
		if s.Asc {
			col.Aria, col.Arrow = "ascending", " ▲"
		} else {
			col.Aria, col.Arrow, dir = "descending", " ▼", "asc"
		}
	}
	v.Set("dir", dir)
	col.Link = s.path + "?" + v.Encode()
	return col
}

// NumCol is Col for a right-aligned (numeric) column.
func (s sorter) NumCol(key, label string) sortCol {
	c := s.Col(key, label)
	c.Num = true
	return c
}

// dateRange is a list's ?desde= / ?hasta= as typed, what they mean, and the
// message for a bound that cannot be read.
type dateRange struct {
	From, To       string
	FromErr, ToErr string
	Range          console.Range
	// Q is the search text (?q=), QErr the message when it is refused
	// (then Q is empty: no search).
	Q, QErr string
}

// maxSearch bounds the search text, in characters.
const maxSearch = 100

const msgBadDate = "Fecha no válida: use el formato aaaa-mm-dd."

func rangeOf(c echo.Context) dateRange {
	d := dateRange{From: c.QueryParam("desde"), To: c.QueryParam("hasta"), Q: c.QueryParam("q")}
	switch {
	case !utf8.ValidString(d.Q) || strings.ContainsRune(d.Q, 0):
		d.Q, d.QErr = "", "La búsqueda tiene caracteres no válidos."
	case utf8.RuneCountInString(d.Q) > maxSearch:
		d.Q, d.QErr = "", fmt.Sprintf("La búsqueda admite hasta %d caracteres.", maxSearch)
	}
	if d.From != "" {
		if t := day(d.From); t != nil {
			d.Range.From = t
		} else {
			d.FromErr = msgBadDate
		}
	}
	if d.To != "" {
		if t := day(d.To); t != nil {
			end := t.AddDate(0, 0, 1) // through the whole "hasta" day
			d.Range.To = &end
		} else {
			d.ToErr = msgBadDate
		}
	}
	if d.Range.From != nil && d.Range.To != nil && !d.Range.From.Before(*d.Range.To) {
		d.ToErr = "«Hasta» es anterior a «Desde»."
		d.Range.To = nil
	}
	return d
}

// Bad tells whether a bound was refused.
func (d dateRange) Bad() bool { return d.FromErr != "" || d.ToErr != "" || d.QErr != "" }

// status is the list page's HTTP status: 400 when a date was refused.
func (d dateRange) status() int {
	if d.Bad() {
		return http.StatusBadRequest
	}
	return http.StatusOK
}
