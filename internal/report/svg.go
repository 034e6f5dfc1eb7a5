package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"autoresearch/harness"
)

// The page's charts are SVG drawn by the template from the geometry below:
// coordinates in the SVG's own units, text left to the template to escape.

// svgTick is an axis tick at Pos; Label is "" for a minor one.
type svgTick struct {
	Pos   float64
	Label string
}

// svgPoint is one experiment on the progress chart.
type svgPoint struct {
	Row   int
	X, Y  float64
	Shape string // kept, discard, beyond, crash: the CSS class too
	Title string // the hover text
	Label string // the description written beside a kept point
}

// svgChart is the progress chart (progressData) laid out in a box of W × H.
type svgChart struct {
	W, H                    float64
	Left, Top, PlotW, PlotH float64
	XTicks, YTicks          []svgTick
	XLabel, YLabel          string
	Band, Best              string // path data; "" for none
	Points                  []svgPoint
	Beyond                  string // where the beyond-range markers point: up or down
}

// The progress chart's box and margins.
const (
	chartW, chartH                 = 1000.0, 440.0
	chartL, chartR, chartT, chartB = 64.0, 16.0, 14.0, 42.0
)

// progressSVG lays out the progress chart of a; title gives a point's hover
// text.
func progressSVG(a *Analysis, title func(row int) string) *svgChart {
	d := progress(a)
	c := &svgChart{W: chartW, H: chartH, Left: chartL, Top: chartT, PlotW: chartW - chartL - chartR, PlotH: chartH - chartT - chartB,
		XLabel: "experiment #", YLabel: a.Metric + " (" + a.Direction() + ")", Beyond: "up"}
	if !a.LowerIsBetter {
		c.Beyond = "down"
	}
	x := func(v float64) float64 { return c.Left + (v-d.XMin)/(d.XMax-d.XMin)*c.PlotW }
	y := func(v float64) float64 { return c.Top + (d.Hi-v)/(d.Hi-d.Lo)*c.PlotH }
	for _, t := range (niceTicks{n: 10, integer: true}).Ticks(d.XMin, d.XMax) {
		c.XTicks = append(c.XTicks, svgTick{Pos: x(t.Value), Label: t.Label})
	}
	for _, t := range (niceTicks{n: 8}).Ticks(d.Lo, d.Hi) {
		c.YTicks = append(c.YTicks, svgTick{Pos: y(t.Value), Label: t.Label})
	}
	var b strings.Builder
	for _, s := range d.Band {
		fmt.Fprintf(&b, "M%s %sH%sV%sH%sZ", num(x(s.X0)), num(y(s.From)), num(x(s.X1)), num(y(s.To)), num(x(s.X0)))
	}
	c.Band = b.String()
	b.Reset()
	for i, p := range d.Best {
		if i == 0 {
			fmt.Fprintf(&b, "M%s %s", num(x(p.X)), num(y(p.Y)))
		} else {
			fmt.Fprintf(&b, "H%sV%s", num(x(p.X)), num(y(p.Y)))
		}
	}
	c.Best = b.String()
	shapes := map[pointKind]string{pointKept: "kept", pointDiscarded: "discard", pointBeyond: "beyond", pointCrashed: "crash"}
	// Kept points last, so that they are drawn over the others.
	pts := make([]chartPoint, len(d.Points))
	copy(pts, d.Points)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Kind != pointKept && pts[j].Kind == pointKept })
	for _, p := range pts {
		c.Points = append(c.Points, svgPoint{Row: p.Row, X: x(float64(p.Row)), Y: y(p.Y), Shape: shapes[p.Kind], Title: title(p.Row), Label: p.Label})
	}
	return c
}

// triangle is the path of a marker at the chart's edge pointing up (or
// down): a discard beyond the range.
func triangle(x, y float64, dir string) string {
	const r = 5.0
	tip, base := y-r, y+r/2
	if dir == "down" {
		tip, base = y+r, y-r/2
	}
	return "M" + num(x) + " " + num(tip) + "L" + num(x-r) + " " + num(base) + "L" + num(x+r) + " " + num(base) + "Z"
}

// cross is the path of an x: a crash.
func cross(x, y float64) string {
	const r = 4.0
	return "M" + num(x-r) + " " + num(y-r) + "L" + num(x+r) + " " + num(y+r) + "M" + num(x-r) + " " + num(y+r) + "L" + num(x+r) + " " + num(y-r)
}

// num prints a coordinate with one decimal, enough at the page's scale.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// svgCurve is an experiment's training curve, loss against the share of the
// budget, in a small box.
type svgCurve struct {
	W, H     float64
	Line     string // polyline points
	MinLoss  string
	MaxLoss  string
	LastStep int
	Title    string
}

func curveSVG(curve []harness.CurvePoint) *svgCurve {
	if len(curve) < 2 {
		return nil
	}
	const w, h, pad = 260.0, 70.0, 6.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range curve {
		lo, hi = min(lo, p.Loss), max(hi, p.Loss)
	}
	span := hi - lo
	if span == 0 {
		span = 1
	}
	c := &svgCurve{W: w, H: h, MinLoss: strconv.FormatFloat(lo, 'f', 4, 64), MaxLoss: strconv.FormatFloat(hi, 'f', 4, 64),
		LastStep: curve[len(curve)-1].Step, Title: harness.FormatCurve(curve)}
	var b strings.Builder
	for i, p := range curve {
		if i > 0 {
			b.WriteByte(' ')
		}
		px := pad + p.Progress*(w-2*pad)
		py := pad + (hi-p.Loss)/span*(h-2*pad)
		b.WriteString(num(px) + "," + num(py))
	}
	c.Line = b.String()
	return c
}

// svgTimeline is what each worker did over the run: a lane per worker, a
// bar per experiment from its start to its end, and the experiments in
// flight up to now.
type svgTimeline struct {
	W, H        float64
	Left, PlotW float64
	Lanes       []svgLane
	Bars        []svgBar
	Ticks       []svgTick
}

type svgLane struct {
	Label string
	Y     float64
}

type svgBar struct {
	Row          int // -1 for one in flight
	X, Y, W      float64
	Class, Title string
}

const laneH, timelineL, timelineW = 24.0, 90.0, 1000.0

// timelineSVG lays out the records with times and the flights; nil when
// none has a start and an end.
func timelineSVG(recs []*Record, flights []Flight, now time.Time, title func(row int) string) *svgTimeline {
	var start, end time.Time
	see := func(s, e time.Time) {
		if s.IsZero() || !e.After(s) {
			return
		}
		if start.IsZero() || s.Before(start) {
			start = s
		}
		if e.After(end) {
			end = e
		}
	}
	workers := map[int]bool{}
	for _, r := range recs {
		if r != nil && !r.Start.IsZero() && r.End.After(r.Start) {
			see(r.Start, r.End)
			workers[r.Worker] = true
		}
	}
	for _, f := range flights {
		if !f.Start.IsZero() && now.After(f.Start) {
			see(f.Start, now)
			workers[f.Worker] = true
		}
	}
	if start.IsZero() {
		return nil
	}
	ids := make([]int, 0, len(workers))
	for id := range workers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	t := &svgTimeline{W: timelineW, Left: timelineL, PlotW: timelineW - timelineL - 16}
	lane := map[int]float64{}
	for i, id := range ids {
		y := float64(i) * laneH
		lane[id] = y
		label := "worker " + strconv.Itoa(id)
		if id == 0 {
			label = "experiments"
			if len(ids) > 1 {
				label = "main"
			}
		}
		t.Lanes = append(t.Lanes, svgLane{Label: label, Y: y})
	}
	t.H = float64(len(ids))*laneH + 26
	total := end.Sub(start)
	x := func(at time.Time) float64 { return t.Left + float64(at.Sub(start))/float64(total)*t.PlotW }
	bar := func(row int, s, e time.Time, worker int, class, title string) {
		w := max(x(e)-x(s), 1) // a short experiment stays visible
		t.Bars = append(t.Bars, svgBar{Row: row, X: x(s), Y: lane[worker] + 3, W: w, Class: class, Title: title})
	}
	for n, r := range recs {
		if r != nil && !r.Start.IsZero() && r.End.After(r.Start) {
			bar(n, r.Start, r.End, r.Worker, r.Status, title(n)+", "+shortDuration(r.End.Sub(r.Start)))
		}
	}
	for _, f := range flights {
		if !f.Start.IsZero() && now.After(f.Start) {
			bar(-1, f.Start, now, f.Worker, "inflight", fmt.Sprintf("in flight: %s %q for %s", f.Phase, f.Description, shortDuration(now.Sub(f.Start))))
		}
	}
	step := timeStep(total)
	for at := time.Duration(0); at <= total; at += step {
		t.Ticks = append(t.Ticks, svgTick{Pos: x(start.Add(at)), Label: clock(at)})
	}
	return t
}

// timeStep is a round step that cuts d into at most ten parts.
func timeStep(d time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if d/s <= 10 {
			return s
		}
	}
	return 24 * time.Hour
}

// clock prints an offset from the run's start: 0, 45 s, 12 min, 2 h 30.
func clock(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d h %02d", int(d.Hours()), int(d.Minutes())%60)
}

// shortDuration prints a duration for a table: 4.2 s, 3m05s, 2h10m.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
