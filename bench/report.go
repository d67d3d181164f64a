package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// WriteReport writes one self-contained HTML page (inline SVG and CSS, no script, nothing
// fetched): throughput over time, p50 and p99 of each phase over time, the latency table and
// the reply mix. `exlab bench --report` and `exlab bench merge --report` write it.
func WriteReport(w io.Writer, r *Result) error {
	var b strings.Builder
	title := "exlab bench: " + r.Target
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n<style>%s</style></head><body>\n", html.EscapeString(title), reportCSS)
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p>%s, %d messages in %.2f s = <b>%.1f msgs/s</b>, %d failed, %d sessions.</p>\n",
		html.EscapeString(title), r.Start.UTC().Format("2006-01-02 15:04:05 UTC"), r.Sent, r.Elapsed.Seconds(), r.Rate(), r.Failed, r.Sessions)
	for _, wr := range r.Warnings {
		fmt.Fprintf(&b, "<p class=\"warn\">warning: %s</p>\n", html.EscapeString(wr))
	}
	xs := make([]float64, len(r.Series))
	sent, failed := make([]float64, len(r.Series)), make([]float64, len(r.Series))
	for i, s := range r.Series {
		xs[i] = float64(s.Unix - r.Series[0].Unix)
		sent[i], failed[i] = float64(s.Sent), float64(s.Failed)
	}
	b.WriteString("<h2>Throughput</h2>\n")
	b.WriteString(chart("messages per second", xs, []series{{"sent/s", "#1f77b4", sent}, {"failed/s", "#d62728", failed}}))
	b.WriteString("<h2>Latency over time</h2>\n")
	for _, p := range Phases {
		if _, ok := r.Histograms[p]; !ok {
			continue
		}
		p50, p99 := make([]float64, len(r.Series)), make([]float64, len(r.Series))
		for i, s := range r.Series {
			p50[i], p99[i] = math.NaN(), math.NaN()
			if _, ok := s.P50ms[p]; ok {
				p50[i], p99[i] = s.P50ms[p], s.P99ms[p]
			}
		}
		b.WriteString(chart(p+" (ms)", xs, []series{{p + " p50", "#2ca02c", p50}, {p + " p99", "#ff7f0e", p99}}))
	}
	b.WriteString("<h2>Latency of the run</h2>\n<table><tr><th>phase</th><th>n</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>\n")
	for _, p := range Phases {
		if l, ok := r.Latency[p]; ok {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", p, l.N, round(l.P50), round(l.P90), round(l.P99), round(l.Max))
		}
	}
	b.WriteString("</table>\n<h2>Reply mix</h2>\n<table><tr><th>reply</th><th>count</th><th>share</th><th></th></tr>\n")
	var total int64
	for _, v := range r.Replies {
		total += v
	}
	for _, k := range sortedKeys(r.Replies) {
		share := float64(r.Replies[k]) / float64(max(total, 1))
		color := "#1f77b4"
		if k != "" && k[0] != '2' {
			color = "#d62728"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%.1f%%</td><td><svg width=\"200\" height=\"12\"><rect width=\"%.1f\" height=\"12\" fill=\"%s\"/></svg></td></tr>\n",
			html.EscapeString(k), r.Replies[k], 100*share, 200*share, color)
	}
	b.WriteString("</table>\n")
	if len(r.Errors) > 0 {
		b.WriteString("<h2>Errors</h2>\n<table><tr><th>kind</th><th>count</th></tr>\n")
		for _, k := range sortedKeys(r.Errors) {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td></tr>\n", html.EscapeString(k), r.Errors[k])
		}
		b.WriteString("</table>\n")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

const reportCSS = `body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}td:first-child,th:first-child{text-align:left}.warn{color:#a00;font-weight:bold}svg text{font-size:11px;font-family:sans-serif}`

type series struct {
	name, color string
	ys          []float64 // NaN: no value that second
}

// chart draws lines over xs (seconds from the start) as inline SVG.
func chart(title string, xs []float64, ss []series) string {
	const w, h, left, bottom, top = 720.0, 200.0, 60.0, 30.0, 20.0
	maxX, maxY := 1.0, 0.0
	for _, x := range xs {
		maxX = max(maxX, x)
	}
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) {
				maxY = max(maxY, y)
			}
		}
	}
	if maxY == 0 {
		maxY = 1
	}
	px := func(x float64) float64 { return left + x/maxX*(w-left-10) }
	py := func(y float64) float64 { return h - bottom - y/maxY*(h-bottom-top) }
	var b strings.Builder
	fmt.Fprintf(&b, "<figure><svg width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"%s\">\n", w, h, html.EscapeString(title))
	fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"14\">%s</text>\n", left, html.EscapeString(title))
	fmt.Fprintf(&b, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/><line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n",
		left, h-bottom, w-10, h-bottom, left, top, left, h-bottom)
	fmt.Fprintf(&b, "<text x=\"4\" y=\"%.0f\">%.4g</text><text x=\"4\" y=\"%.0f\">0</text><text x=\"%.0f\" y=\"%.0f\">%.0f s</text>\n",
		top+4, maxY, h-bottom, w-50, h-8, maxX)
	for i, s := range ss {
		var pts []string
		for j, y := range s.ys {
			if !math.IsNaN(y) && j < len(xs) {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xs[j]), py(y)))
			}
		}
		fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"><title>%s</title></polyline>\n", s.color, strings.Join(pts, " "), html.EscapeString(s.name))
		fmt.Fprintf(&b, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n", left+10+float64(i)*120, h-8, s.color, html.EscapeString(s.name))
	}
	b.WriteString("</svg></figure>\n")
	return b.String()
}
