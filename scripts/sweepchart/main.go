// Command sweepchart draws docs/sweep.svg from the CSV scripts/sweep.sh
// writes: span-end records/s and CPU seconds per million spans against the
// batch size (log scale), one line per concurrency. Plain SVG, no
// dependencies.
//
//	go run ./scripts/sweepchart docs/sweep.csv docs/sweep.svg
package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

type point struct {
	batch, conc int
	rate, cpu   float64
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sweepchart sweep.csv sweep.svg")
		os.Exit(2)
	}
	pts, err := load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sweepchart:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], []byte(render(pts)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "sweepchart:", err)
		os.Exit(1)
	}
}

func load(path string) ([]point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var pts []point
	for i, r := range rows {
		if i == 0 {
			continue // header
		}
		if len(r) < 4 {
			return nil, fmt.Errorf("line %d: %d fields", i+1, len(r))
		}
		var p point
		var errs [4]error
		p.batch, errs[0] = strconv.Atoi(r[0])
		p.conc, errs[1] = strconv.Atoi(r[1])
		p.rate, errs[2] = strconv.ParseFloat(r[2], 64)
		p.cpu, errs[3] = strconv.ParseFloat(r[3], 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, e)
			}
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("%s holds no points", path)
	}
	return pts, nil
}

const (
	panelW, panelH = 420, 300
	left, top      = 70, 70
	gap            = 110
)

var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

func render(pts []point) string {
	var concs, batches []int
	for _, p := range pts {
		if !slices.Contains(concs, p.conc) {
			concs = append(concs, p.conc)
		}
		if !slices.Contains(batches, p.batch) {
			batches = append(batches, p.batch)
		}
	}
	slices.Sort(concs)
	slices.Sort(batches)
	var b strings.Builder
	w := left + 2*panelW + gap + 150
	h := top + panelH + 70
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">spanshipper: 1,000,000 spans from one file to a validating receiver on 127.0.0.1 (2 cores)</text>`+"\n", left)
	panel(&b, pts, concs, batches, left, "span-end records per second", func(p point) float64 { return p.rate }, true)
	panel(&b, pts, concs, batches, left+panelW+gap, "CPU seconds per million spans (shipper)", func(p point) float64 { return p.cpu }, false)
	// Legend.
	lx := left + 2*panelW + gap + 20
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">--concurrency</text>`+"\n", lx, top+10)
	for i, c := range concs {
		y := top + 30 + 20*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%d</text>`+"\n",
			lx, y-4, lx+24, y-4, colors[i%len(colors)], lx+30, y, c)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// panel draws one chart: value against batch size (log scale), a line per
// concurrency.
func panel(b *strings.Builder, pts []point, concs, batches []int, x0 int, title string, val func(point) float64, thousands bool) {
	maxV := 0.0
	for _, p := range pts {
		maxV = max(maxV, val(p))
	}
	maxV = niceCeil(maxV)
	lo, hi := math.Log(float64(batches[0])), math.Log(float64(batches[len(batches)-1]))
	if hi == lo {
		hi = lo + 1
	}
	px := func(batch int) float64 { return float64(x0) + (math.Log(float64(batch))-lo)/(hi-lo)*panelW }
	py := func(v float64) float64 { return float64(top+panelH) - v/maxV*panelH }

	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, top-12, title)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, top, panelW, panelH)
	for i := 0; i <= 5; i++ {
		v := maxV * float64(i) / 5
		y := py(v)
		label := fmt.Sprintf("%.1f", v)
		if thousands {
			label = fmt.Sprintf("%.0fk", v/1000)
		}
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0, y, x0+panelW, y, x0-6, y+4, label)
	}
	for _, bs := range batches {
		x := px(bs)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/><text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n",
			x, top, x, top+panelH, x, top+panelH+16, bs)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">--batch-size (log scale)</text>`+"\n", x0+panelW/2, top+panelH+36)
	for i, c := range concs {
		var line []point
		for _, p := range pts {
			if p.conc == c {
				line = append(line, p)
			}
		}
		slices.SortFunc(line, func(a, b point) int { return a.batch - b.batch })
		var d strings.Builder
		for j, p := range line {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f,%.1f ", cmd, px(p.batch), py(val(p)))
		}
		color := colors[i%len(colors)]
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.TrimSpace(d.String()), color)
		for _, p := range line {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>batch %d, concurrency %d: %.0f/s, %.2f CPU-s/M</title></circle>`+"\n",
				px(p.batch), py(val(p)), color, p.batch, p.conc, p.rate, p.cpu)
		}
	}
}

// niceCeil rounds v up to a round multiple of a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}
