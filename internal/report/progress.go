package report

import (
	"math"

	"autoresearch/internal/results"
	"gonum.org/v1/plot/plotter"
)

// pointKind is how the progress chart draws an experiment.
type pointKind int

const (
	pointKept      pointKind = iota
	pointDiscarded           // within the range
	pointBeyond              // a discard beyond the range, drawn at the edge away from the best
	pointCrashed             // no measurement, drawn at the edge of the best values
)

// chartPoint is one experiment on the progress chart.
type chartPoint struct {
	Row   int
	Y     float64 // where it is drawn: its value, or an edge
	Kind  pointKind
	Label string // the description written beside a kept point; "" for none
}

// bandStep is the noise band under one step of the running best: from the
// best (From) to where a change had to reach to be kept (To), clamped to the
// chart's range.
type bandStep struct {
	X0, X1   float64
	From, To float64
}

// progressData is what the progress chart draws, the same for progress.png
// (Chart) and the page's SVG: the ranges, every experiment's point, the
// running best and the noise band.
type progressData struct {
	XMin, XMax float64
	Lo, Hi     float64 // the metric's range (see yRange)
	Points     []chartPoint
	Best       plotter.XYs // the running best's steps, each held until the next
	Band       []bandStep
}

// progress prepares the chart of a. Edge markers sit just inside the
// plotting area: crashes on the side of the best values, worse discards on
// the other (the top when lower is better).
func progress(a *Analysis) progressData {
	lo, hi := yRange(a)
	d := progressData{XMin: -1, XMax: float64(max(len(a.Rows), 5)), Lo: lo, Hi: hi}
	edge := 0.015 * (hi - lo)
	crashY, worseY := lo+edge, hi-edge
	if !a.LowerIsBetter {
		crashY, worseY = hi-edge, lo+edge
	}
	show := labelled(a)
	for i, r := range a.Rows {
		pt := chartPoint{Row: i, Y: r.Value}
		switch {
		case !a.Measured(r):
			pt.Kind, pt.Y = pointCrashed, crashY
		case r.Value > hi || r.Value < lo:
			pt.Kind, pt.Y = pointBeyond, worseY
		case r.Status == results.Keep:
			pt.Kind = pointKept
			if show[i] {
				pt.Label = shorten(r.Description, labelLen)
			}
		default:
			pt.Kind = pointDiscarded
		}
		d.Points = append(d.Points, pt)
	}
	d.Best = runningBest(a)
	d.Band = noiseBand(a, d.Best, lo, hi)
	return d
}

// runningBest is the step line of the running best, from the baseline to
// the last experiment.
func runningBest(a *Analysis) plotter.XYs {
	var pts plotter.XYs
	best := math.NaN()
	for i, r := range a.Rows {
		if a.setsBest(i) {
			best = r.Value
			pts = append(pts, plotter.XY{X: float64(i), Y: best})
		}
	}
	if last := len(a.Rows) - 1; len(pts) > 0 && pts[len(pts)-1].X < float64(last) {
		pts = append(pts, plotter.XY{X: float64(last), Y: best})
	}
	return pts
}

// noiseBand is the band a change had to cross to be kept: the run's latest
// threshold under each step of the running best (over it for a
// higher-is-better metric). None without a threshold.
func noiseBand(a *Analysis, best plotter.XYs, lo, hi float64) []bandStep {
	if a.Noise == nil || a.Noise.Threshold <= 0 {
		return nil
	}
	clamp := func(y float64) float64 { return min(max(y, lo), hi) }
	var band []bandStep
	for i := 0; i+1 < len(best); i++ {
		to := best[i].Y - a.Noise.Threshold
		if !a.LowerIsBetter {
			to = best[i].Y + a.Noise.Threshold
		}
		band = append(band, bandStep{X0: best[i].X, X1: best[i+1].X, From: clamp(best[i].Y), To: clamp(to)})
	}
	return band
}
