package consoleweb

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"hermez/pkg/console"
)

// Trends are drawn here as inline SVG (no script, no outside request), each
// with a table of the same numbers for screen readers (the picture is
// aria-hidden). Colours come with a text legend; every bar has a <title>.

type legendItem struct{ Label, Color string }

// chartView is one chart as the template shows it.
type chartView struct {
	ID, Title, Note string
	SVG             template.HTML
	Legend          []legendItem
	Head            []string   // the table's column headers
	Rows            [][]string // one per bucket: its label, each series, the total
}

// chartStyle says how a chart's buckets, series and values read.
type chartStyle struct {
	bucket   func(time.Time) string
	series   func(key string) string
	colors   map[string]string
	value    func(float64) string
	everyNth int  // x labels on every nth bucket
	noTotal  bool // a single series: no total column
}

const (
	svgW, svgH             = 720, 260
	padL, padR, padT, padB = 64, 8, 12, 30
	plotW, plotH           = svgW - padL - padR, svgH - padT - padB
)

// niceCeil rounds v up to 2, 4 or 10 × 10^k (at least 2), so the middle
// grid line is a round number too.
func niceCeil(v float64) float64 {
	if v <= 2 {
		return 2
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 4, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func drawChart(id, title, note string, c console.Chart, st chartStyle) chartView {
	v := chartView{ID: id, Title: title, Note: note}
	v.Head = append(v.Head, "Periodo")
	for _, s := range c.Series {
		v.Head = append(v.Head, st.series(s.Key))
		v.Legend = append(v.Legend, legendItem{Label: st.series(s.Key), Color: st.colors[s.Key]})
	}
	if !st.noTotal {
		v.Head = append(v.Head, "Total")
	}
	max := 0.0
	for i := range c.Buckets {
		row := []string{st.bucket(c.Buckets[i])}
		for _, s := range c.Series {
			row = append(row, st.value(s.Values[i]))
		}
		if !st.noTotal {
			row = append(row, st.value(c.Total(i)))
		}
		v.Rows = append(v.Rows, row)
		max = math.Max(max, c.Total(i))
	}
	top := niceCeil(max)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="chart" aria-hidden="true" focusable="false">`, svgW, svgH)
	for _, f := range []float64{0, 0.5, 1} {
		y := padT + plotH - f*plotH
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d8dce2"/>`, padL, svgW-padR, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="14" fill="#5b6573">%s</text>`, padL-6, y+4, template.HTMLEscapeString(st.value(f*top)))
	}
	n := len(c.Buckets)
	slot := float64(plotW) / float64(n)
	bw := slot * 0.72
	for i := range c.Buckets {
		x := padL + slot*float64(i) + (slot-bw)/2
		base := float64(padT + plotH)
		for _, s := range c.Series {
			h := s.Values[i] / top * plotH
			if h <= 0 {
				continue
			}
			base -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s · %s: %s</title></rect>`,
				x, base, bw, h, st.colors[s.Key], template.HTMLEscapeString(st.bucket(c.Buckets[i])),
				template.HTMLEscapeString(st.series(s.Key)), template.HTMLEscapeString(st.value(s.Values[i])))
		}
		if st.everyNth <= 1 || (n-1-i)%st.everyNth == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="14" fill="#5b6573">%s</text>`,
				x+bw/2, svgH-10, template.HTMLEscapeString(st.bucket(c.Buckets[i])))
		}
	}
	b.WriteString(`</svg>`)
	v.SVG = template.HTML(b.String()) // built from numbers and escaped labels only
	return v
}

func dayLabel(t time.Time) string  { return t.In(cot).Format("02/01") }
func weekLabel(t time.Time) string { return "sem. " + t.In(cot).Format("02/01") }
func count(v float64) string       { return strconv.FormatInt(int64(math.Round(v)), 10) }
func percent(v float64) string {
	return strings.Replace(strconv.FormatFloat(v, 'f', 1, 64), ".", ",", 1) + " %"
}
func moneyF(v float64) string { return money(decimal.NewFromFloat(v).Round(0)) }

var statusColors = map[string]string{"paid": "#137333", "delivered": "#0b5fff", "cancelled": "#b3261e", "active": "#8a5a00"}

func (a *Console) trends(c echo.Context) error {
	t, err := a.d.Console.Trends(c.Request().Context())
	if err != nil {
		return a.fail(c, err)
	}
	series := func(k string) string {
		if k == "active" {
			return "En curso"
		}
		return statusLabels[k]
	}
	one := func(label string) func(string) string { return func(string) string { return label } }
	charts := []chartView{
		drawChart("por-dia", "Entregas por día (últimos 30 días)", "Por día de creación, según su estado ahora.", t.PerDay,
			chartStyle{bucket: dayLabel, series: series, colors: statusColors, value: count, everyNth: 5}),
		drawChart("ingresos", "Ingresos por semana y medio de pago", "Precio final de las entregas entregadas en la semana (lunes a domingo).", t.RevenuePerWeek,
			chartStyle{bucket: weekLabel, series: func(k string) string { return statusLabels[k] },
				colors: map[string]string{"efectivo": "#137333", "nequi": "#6a1b9a"}, value: moneyF, everyNth: 2}),
		drawChart("cancelacion", "Tasa de cancelación por semana", "Entregas creadas en la semana que están canceladas, en porcentaje.", t.CancelRatePerWeek,
			chartStyle{bucket: weekLabel, series: one("Canceladas (%)"), colors: map[string]string{"": "#b3261e"}, value: percent, everyNth: 2, noTotal: true}),
		drawChart("usuarios", "Usuarios nuevos por semana", "Cuentas creadas en la semana (clientes y domiciliarios).", t.NewUsersPerWeek,
			chartStyle{bucket: weekLabel, series: one("Usuarios nuevos"), colors: map[string]string{"": "#0b5fff"}, value: count, everyNth: 2, noTotal: true}),
	}
	return a.render(c, http.StatusOK, "trends.html", "Tendencias", map[string]any{"Charts": charts, "At": t.At})
}
