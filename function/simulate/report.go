package simulate

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// The report's plots hold at most plotPoints buckets and maxMarkers order
// marks per instance, whatever the trace's length.
const (
	plotPoints = 720
	maxMarkers = 500
)

// plot is one instance's series, bucketed: the demand's and each
// strategy's cap's maximum per bucket, and the policy strategy's orders.
type plot struct {
	per     int // minutes per bucket
	demand  []float64
	caps    [][]int // [strategy][bucket]
	orders  []Order
	dropped int // orders beyond maxMarkers
}

func newPlot(minutes int) *plot {
	per := max(1, (minutes+plotPoints-1)/plotPoints)
	n := (minutes + per - 1) / per
	p := &plot{per: per, demand: make([]float64, n)}
	for range Strategies {
		p.caps = append(p.caps, make([]int, n))
	}
	return p
}

// add records minute m of instance i.
func (p *plot) add(m, i int, demand float64, runs []*run) {
	b := m / p.per
	p.demand[b] = math.Max(p.demand[b], demand)
	for k, r := range runs {
		p.caps[k][b] = max(p.caps[k][b], r.caps[i])
	}
}

func (p *plot) order(at time.Time, from, to int) {
	if len(p.orders) == maxMarkers {
		p.dropped++
		return
	}
	p.orders = append(p.orders, Order{Time: at, From: from, To: to})
}

// strategyStyle draws the policy thick and the comparisons thin.
var strategyStyle = map[string]string{
	StrategyPolicy:     `stroke="#1f5fbf" stroke-width="2.2"`,
	StrategyAlarmsOnly: `stroke="#e07b00" stroke-width="1"`,
	StrategyFixedPeak:  `stroke="#2a9d3a" stroke-width="1" stroke-dasharray="5,3"`,
	StrategyStartCap:   `stroke="#777" stroke-width="1" stroke-dasharray="2,3"`,
}

// WriteReport writes report.html: self-contained, one inline SVG per
// instance.
func WriteReport(w io.Writer, res *Result) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>Bandwidth replay</title><style>
body{font:14px sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
.note{color:#555}.warn{color:#a00}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>Bandwidth replay</h1><p>%s to %s, %d minutes, %d instances, billing %s.</p>",
		res.Start.Format(time.RFC3339), res.End.Format(time.RFC3339), res.Minutes, len(res.Instances), html.EscapeString(string(res.Billing)))
	fmt.Fprintf(&b, "<p><b>%s</b></p>", html.EscapeString(res.Best))
	for _, n := range res.Notes {
		fmt.Fprintf(&b, `<p class="note">%s</p>`, html.EscapeString(n))
	}
	for _, n := range res.Warnings {
		fmt.Fprintf(&b, `<p class="warn">warning: %s</p>`, html.EscapeString(n))
	}
	b.WriteString("<h2>Total</h2>")
	figuresTable(&b, res.Total)
	b.WriteString(`<p>Lines: <span style="color:#1f5fbf">policy (thick)</span>, <span style="color:#e07b00">alarms-only</span>, <span style="color:#2a9d3a">fixed-peak (dashed)</span>, <span style="color:#777">start-cap (dotted)</span>; grey area: demand; marks: the policy's orders (▲ up, ▼ down).</p>`)
	for _, ir := range res.Instances {
		fmt.Fprintf(&b, "<h2>%s</h2><p>bounds %d..%d Mbit/s, start %d Mbit/s, peak demand %.4g Mbit/s</p>",
			html.EscapeString(ir.ID), ir.Min, ir.Max, ir.StartCap, ir.PeakDemand)
		svg(&b, res, ir)
		figuresTable(&b, ir.Strategies)
	}
	b.WriteString("</body></html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("simulate: report: %w", err)
	}
	return nil
}

// WritePlot writes the first instance's plot as a standalone SVG, for
// documents that cannot hold the HTML report.
func WritePlot(w io.Writer, res *Result) error {
	if len(res.Instances) == 0 {
		return nil
	}
	var b strings.Builder
	svg(&b, res, res.Instances[0])
	if _, err := io.WriteString(w, b.String()+"\n"); err != nil {
		return fmt.Errorf("simulate: plot: %w", err)
	}
	return nil
}

// WriteTable prints the total figures of every strategy as a text table.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tdemand served\tminutes saturated\torders up/down\tcap Mbit/s-hours\tcost")
	for _, s := range Strategies {
		f := res.Total[s]
		fmt.Fprintf(tw, "%s\t%.1f%%\t%d\t%d / %d\t%.1f\t%.2f %s\n", s, f.ServedFraction*100, f.MinutesSaturated, f.OrdersUp, f.OrdersDown, f.CapMbpsHours, f.Cost.Amount, f.Cost.Currency)
	}
	return tw.Flush()
}

func figuresTable(b *strings.Builder, figs map[string]*Figures) {
	b.WriteString("<table><tr><th>strategy</th><th>demand served</th><th>minutes saturated</th><th>orders up/down</th><th>cap Mbit/s-hours</th><th>cost</th></tr>")
	for _, s := range Strategies {
		f := figs[s]
		cost := fmt.Sprintf("%.2f %s", f.Cost.Amount, html.EscapeString(f.Cost.Currency))
		if f.Cost.BoundAtCap > 0 {
			cost += fmt.Sprintf(" (%.1f GB sent; the cap bounded it to %.2f)", f.Cost.TrafficGB, f.Cost.BoundAtCap)
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%.1f%%</td><td>%d</td><td>%d / %d</td><td>%.1f</td><td>%s</td></tr>",
			s, f.ServedFraction*100, f.MinutesSaturated, f.OrdersUp, f.OrdersDown, f.CapMbpsHours, cost)
	}
	b.WriteString("</table>")
}

// svg draws demand and caps against time, with the policy's orders marked.
func svg(b *strings.Builder, res *Result, ir *InstanceResult) {
	const width, height, left, bottom, top = 960.0, 260.0, 50.0, 24.0, 8.0
	p := ir.plot
	n := len(p.demand)
	ymax := ir.PeakDemand
	for _, caps := range p.caps {
		for _, c := range caps {
			ymax = math.Max(ymax, float64(c))
		}
	}
	ymax = math.Max(1, ymax*1.08)
	x := func(bucket float64) float64 { return left + bucket/float64(max(n, 1))*(width-left-4) }
	y := func(v float64) float64 { return top + (1-v/ymax)*(height-top-bottom) }
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-size="11">`, width, height)
	for _, v := range []float64{0, ymax / 2 / 1.08, ymax / 1.08} {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="2" y="%.1f">%.4g</text>`, left, width, y(v), y(v), y(v)+4, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text><text x="%.1f" y="%.1f" text-anchor="end">%s</text>`,
		left, height-6, res.Start.Format("2006-01-02 15:04"), width-4, height-6, res.End.Format("2006-01-02 15:04 MST"))
	// Demand: a filled step area.
	var d strings.Builder
	fmt.Fprintf(&d, "M%.1f %.1f", x(0), y(0))
	for i, v := range p.demand {
		fmt.Fprintf(&d, "L%.1f %.1fL%.1f %.1f", x(float64(i)), y(v), x(float64(i+1)), y(v))
	}
	fmt.Fprintf(&d, "L%.1f %.1fZ", x(float64(n)), y(0))
	fmt.Fprintf(b, `<path d="%s" fill="#ddd" stroke="none"/>`, d.String())
	// Caps: the comparisons first so the policy's line is on top.
	for k := len(Strategies) - 1; k >= 0; k-- {
		var c strings.Builder
		for i, v := range p.caps[k] {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&c, "%s%.1f %.1fL%.1f %.1f", cmd, x(float64(i)), y(float64(v)), x(float64(i+1)), y(float64(v)))
		}
		fmt.Fprintf(b, `<path d="%s" fill="none" %s><title>%s</title></path>`, c.String(), strategyStyle[Strategies[k]], Strategies[k])
	}
	for _, o := range p.orders {
		bucket := o.Time.Sub(res.Start).Minutes() / float64(p.per)
		mark, color := "▲", "#c00"
		if o.To < o.From {
			mark, color = "▼", "#06c"
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s" text-anchor="middle">%s<title>%s: %d → %d Mbit/s</title></text>`,
			x(bucket), y(float64(o.To))-3, color, mark, o.Time.Format(time.RFC3339), o.From, o.To)
	}
	if p.dropped > 0 {
		fmt.Fprintf(b, `<text x="%.1f" y="14">%d more orders not marked</text>`, left+4, p.dropped)
	}
	b.WriteString("</svg>")
}
