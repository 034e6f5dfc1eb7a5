package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"

	"autoresearch/internal/results"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ChartOptions sizes the chart. The zero value gives the original's
// progress.png: 16 × 8 inches at 150 dpi, 2400 × 1200 pixels.
type ChartOptions struct {
	Width, Height int // pixels
	DPI           int
	Title         string // default: the counts of the run
}

func (o ChartOptions) withDefaults() ChartOptions {
	if o.DPI <= 0 {
		o.DPI = 150
	}
	if o.Width <= 0 {
		o.Width = 16 * o.DPI
	}
	if o.Height <= 0 {
		o.Height = 8 * o.DPI
	}
	return o
}

// The palette of the original's chart: kept in green, everything else muted.
var (
	keptFill   = color.RGBA{0x2e, 0xcc, 0x71, 0xff}
	bestLine   = color.RGBA{0x27, 0xae, 0x60, 0xff}
	labelColor = color.RGBA{0x1a, 0x7a, 0x3a, 0xe6}
	discardDot = color.RGBA{0xbb, 0xbb, 0xbb, 0xff}
	crashMark  = color.RGBA{0xd9, 0x6c, 0x6c, 0xff}
	bandFill   = color.RGBA{0x2e, 0xcc, 0x71, 0x33}
	gridColor  = color.RGBA{0xe8, 0xe8, 0xe8, 0xff}
)

// labelLen is where kept descriptions are cut on the chart; past maxLabels
// kept rows, only the baseline, the best and the biggest wins are labelled,
// so the labels stay readable.
const (
	labelLen  = 45
	maxLabels = 40
)

// labelled picks the kept rows whose descriptions the chart shows.
func labelled(a *Analysis) map[int]bool {
	show := map[int]bool{}
	if len(a.Kept) <= maxLabels {
		for _, i := range a.Kept {
			show[i] = true
		}
		return show
	}
	show[a.Baseline], show[a.Best] = true, true
	var wins []int
	for _, i := range a.Kept {
		if i != a.Baseline && a.setsBest(i) {
			wins = append(wins, i)
		}
	}
	sort.SliceStable(wins, func(x, y int) bool { return a.gain(wins[x]) > a.gain(wins[y]) })
	for _, i := range wins[:min(len(wins), maxLabels-2)] {
		show[i] = true
	}
	return show
}

// yRange picks the part of the metric's axis worth reading: from just below
// the best measured value to just beyond the worst kept one (usually the
// baseline). Worse discards and rows without a measurement are drawn at the
// edges instead of stretching the axis. While nothing has beaten the
// baseline, that range is empty: it reaches to the median measured value
// instead, so that half the experiments show how far they missed. For a
// higher-is-better metric all of this is mirrored.
func yRange(a *Analysis) (lo, hi float64) {
	// worse is the side away from the best: up for a lower-is-better metric.
	worse := func(x, y float64) bool { return a.Better(y, x) }
	var bestV, worstKept, bestKept float64
	var measured []float64
	kept := false
	for _, r := range a.Rows {
		if !a.Measured(r) {
			continue
		}
		if len(measured) == 0 || a.Better(r.Value, bestV) {
			bestV = r.Value
		}
		measured = append(measured, r.Value)
		if r.Status == results.Keep {
			if !kept || worse(r.Value, worstKept) {
				worstKept = r.Value
			}
			if !kept || a.Better(r.Value, bestKept) {
				bestKept = r.Value
			}
			kept = true
		}
	}
	if len(measured) == 0 {
		return 0, 1 // nothing measured
	}
	far := worstKept
	switch {
	case !kept: // nothing kept: show the measured spread
		far = measured[0]
		for _, v := range measured {
			if worse(v, far) {
				far = v
			}
		}
	case bestKept == worstKept && bestV == worstKept: // no improvement yet
		slices.Sort(measured)
		far = measured[len(measured)/2]
		if !a.LowerIsBetter {
			far = measured[(len(measured)-1)/2]
		}
	}
	lo, hi = min(bestV, far), max(bestV, far)
	margin := 0.15 * (hi - lo)
	if floor := 0.001 * max(math.Abs(hi), math.Abs(lo)); margin < floor {
		margin = floor
	}
	if margin == 0 {
		margin = 0.5 // every value 0
	}
	return lo - margin, hi + margin
}

// Chart draws the run's progress: every experiment's value in order, kept
// ones highlighted and labelled with their descriptions, the running best as
// a step line over the band of the noise threshold, discards muted, and
// crashes as markers along the bottom edge.
func Chart(a *Analysis, opts ChartOptions) (*plot.Plot, error) {
	opts = opts.withDefaults()
	p := plot.New()
	p.Title.Text = opts.Title
	if p.Title.Text == "" {
		p.Title.Text = fmt.Sprintf("autoresearch progress: %s, %d kept", plural(len(a.Rows), "experiment"), a.Keeps)
	}
	p.X.Label.Text = "experiment #"
	p.Y.Label.Text = a.Metric + " (" + a.Direction() + ")"
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.TextStyle.Font.Size = vg.Points(12)
	p.Y.Label.TextStyle.Font.Size = vg.Points(12)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.Title.Padding = vg.Points(8)
	p.Y.Tick.Marker = niceTicks{n: 8}
	p.X.Tick.Marker = niceTicks{n: 10, integer: true}

	data := progress(a)
	p.Y.Min, p.Y.Max = data.Lo, data.Hi
	p.X.Min, p.X.Max = data.XMin, data.XMax
	worseName, worseGlyph := "discarded, above the range", draw.GlyphDrawer(draw.PyramidGlyph{})
	if !a.LowerIsBetter {
		worseName, worseGlyph = "discarded, below the range", invertedPyramid{}
	}

	grid := plotter.NewGrid()
	grid.Horizontal.Color, grid.Vertical.Color = gridColor, gridColor
	p.Add(grid)
	for i, b := range data.Band {
		poly, err := plotter.NewPolygon(plotter.XYs{{X: b.X0, Y: b.From}, {X: b.X1, Y: b.From}, {X: b.X1, Y: b.To}, {X: b.X0, Y: b.To}})
		if err != nil {
			return nil, err
		}
		poly.Color, poly.LineStyle.Width = bandFill, 0
		p.Add(poly)
		if i == 0 {
			p.Legend.Add("noise threshold", poly)
		}
	}

	var discarded, above, crashed, kept, labelAt plotter.XYs
	var labels []string
	for _, pt := range data.Points {
		xy := plotter.XY{X: float64(pt.Row), Y: pt.Y}
		switch pt.Kind {
		case pointCrashed:
			crashed = append(crashed, xy)
		case pointBeyond:
			above = append(above, xy)
		case pointKept:
			kept = append(kept, xy)
			if pt.Label != "" {
				labelAt = append(labelAt, xy)
				labels = append(labels, pt.Label)
			}
		default:
			discarded = append(discarded, xy)
		}
	}

	scatter := func(name string, pts plotter.XYs, g draw.GlyphStyle) error {
		if len(pts) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		s.GlyphStyle = g
		p.Add(s)
		p.Legend.Add(name, s)
		return nil
	}
	if err := scatter("discarded", discarded, draw.GlyphStyle{Color: discardDot, Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}); err != nil {
		return nil, err
	}
	if err := scatter(worseName, above, draw.GlyphStyle{Color: discardDot, Radius: vg.Points(3.5), Shape: worseGlyph}); err != nil {
		return nil, err
	}
	if err := scatter("crashed (no value)", crashed, draw.GlyphStyle{Color: crashMark, Radius: vg.Points(4), Shape: boldCross{}}); err != nil {
		return nil, err
	}

	if len(data.Best) > 0 {
		line, err := plotter.NewLine(data.Best)
		if err != nil {
			return nil, err
		}
		line.StepStyle = plotter.PostStep
		line.Color = bestLine
		line.Width = vg.Points(2)
		p.Add(line)
		p.Legend.Add("running best", line)
	}

	if err := scatter("kept", kept, draw.GlyphStyle{Color: keptFill, Radius: vg.Points(4), Shape: outlinedCircle{}}); err != nil {
		return nil, err
	}
	if len(labelAt) > 0 {
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: labelAt, Labels: labels})
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Color = labelColor
			l.TextStyle[i].Font.Variant = "Sans"
			l.TextStyle[i].Font.Size = vg.Points(8)
			l.TextStyle[i].Rotation = math.Pi / 6
			l.TextStyle[i].XAlign = text.XLeft
			l.TextStyle[i].YAlign = text.YBottom
		}
		l.Offset = vg.Point{X: vg.Points(6), Y: vg.Points(6)}
		p.Add(l)
	}

	// The legend sits on the side of the worse values, away from the best.
	p.Legend.Top = a.LowerIsBetter
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.Padding = vg.Points(3)
	return p, nil
}

// WritePNG draws the chart and writes it as PNG.
func WritePNG(w io.Writer, a *Analysis, opts ChartOptions) error {
	opts = opts.withDefaults()
	p, err := Chart(a, opts)
	if err != nil {
		return err
	}
	dpi := vg.Length(opts.DPI)
	c := vgimg.NewWith(
		vgimg.UseWH(vg.Length(opts.Width)/dpi*vg.Inch, vg.Length(opts.Height)/dpi*vg.Inch),
		vgimg.UseDPI(opts.DPI),
		vgimg.UseBackgroundColor(color.White),
	)
	// A margin around the chart, as the original's tight bounding box leaves.
	m := vg.Points(8)
	p.Draw(draw.Crop(draw.New(c), m, -m, m, -m))
	_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

// outlinedCircle is a filled circle with a thin dark outline, the kept
// experiments' mark.
type outlinedCircle struct{}

func (outlinedCircle) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	draw.CircleGlyph{}.DrawGlyph(c, sty, pt)
	ring := sty
	ring.Color = color.Black
	c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)})
	draw.RingGlyph{}.DrawGlyph(c, ring, pt)
}

// invertedPyramid is a triangle pointing down: a discard below the range of
// a higher-is-better chart.
type invertedPyramid struct{}

func (invertedPyramid) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(0.5)})
	r := sty.Radius
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r*vg.Length(math.Cos(math.Pi/6)), Y: pt.Y + r*vg.Length(math.Sin(math.Pi/6))})
	p.Line(vg.Point{X: pt.X + r*vg.Length(math.Cos(math.Pi/6)), Y: pt.Y + r*vg.Length(math.Sin(math.Pi/6))})
	p.Close()
	c.Fill(p)
}

// boldCross is an x drawn with a line wide enough to see at print size.
type boldCross struct{}

func (boldCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(1.2)}
	r := sty.Radius * math.Sqrt2 / 2
	c.StrokeLine2(ls, pt.X-r, pt.Y-r, pt.X+r, pt.Y+r)
	c.StrokeLine2(ls, pt.X-r, pt.Y+r, pt.X+r, pt.Y-r)
}

// niceTicks labels an axis at round steps (1, 2 or 5 times a power of ten)
// chosen to give about n labels, each printed with the decimals its step
// needs; unlabelled minor ticks fall between them.
type niceTicks struct {
	n       int
	integer bool // steps of at least 1, for experiment numbers
}

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 6, 64)}}
	}
	raw := (hi - lo) / float64(t.n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, minor := 10*mag, 5
	for _, m := range []struct {
		f     float64
		minor int
	}{{1, 5}, {2, 4}, {5, 5}} {
		if m.f*mag >= raw {
			step, minor = m.f*mag, m.minor
			break
		}
	}
	if t.integer {
		step = max(step, 1)
		if step/float64(minor) < 1 {
			minor = int(step)
		}
	}
	prec := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	var ticks []plot.Tick
	sub := step / float64(minor)
	for k := math.Ceil(lo / sub); k*sub <= hi; k++ {
		v := k * sub
		if v == 0 {
			v = 0 // not -0
		}
		tick := plot.Tick{Value: v}
		if int64(math.Round(k))%int64(minor) == 0 {
			tick.Label = strconv.FormatFloat(v, 'f', prec, 64)
		}
		ticks = append(ticks, tick)
	}
	return ticks
}

func shorten(s string, n int) string {
	s = results.CleanDescription(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
