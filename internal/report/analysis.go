package report

import (
	"math"

	"autoresearch/internal/results"
)

// Analysis is a results file with the figures derived from it.
type Analysis struct {
	Metric string
	Rows   []results.Row

	// Per row, parallel to Rows: the running best before the row (NaN while
	// there is none) and the row's delta against it (NaN without one).
	BestBefore []float64
	Delta      []float64

	Baseline int // index of the first kept row, -1 without kept rows
	Best     int // index of the best row, -1 without kept measured rows
	Kept     []int

	Keeps, Discards, Crashes int
}

// Measured reports whether a row holds a measurement (see the package doc).
func Measured(r results.Row) bool { return r.Value > 0 && r.Status != results.Crash }

// Analyze derives the figures of f.
func Analyze(f *results.File) *Analysis {
	a := &Analysis{Metric: f.Metric, Rows: f.Rows, Baseline: -1, Best: -1}
	if a.Metric == "" {
		a.Metric = results.DefaultMetric
	}
	best := math.NaN()
	for i, r := range f.Rows {
		a.BestBefore = append(a.BestBefore, best)
		d := math.NaN()
		if Measured(r) && !math.IsNaN(best) {
			d = r.Value - best
		}
		a.Delta = append(a.Delta, d)
		switch r.Status {
		case results.Keep:
			a.Keeps++
			a.Kept = append(a.Kept, i)
			if a.Baseline < 0 {
				a.Baseline = i
			}
			if Measured(r) && (math.IsNaN(best) || r.Value < best) {
				best, a.Best = r.Value, i
			}
		case results.Discard:
			a.Discards++
		case results.Crash:
			a.Crashes++
		}
	}
	return a
}

// BestValue is the best row's value, NaN without one.
func (a *Analysis) BestValue() float64 {
	if a.Best < 0 {
		return math.NaN()
	}
	return a.Rows[a.Best].Value
}

// Improvement is the baseline's value minus the best value, and that as a
// fraction of the baseline; NaN when either is missing.
func (a *Analysis) Improvement() (abs, frac float64) {
	if a.Baseline < 0 || a.Best < 0 || !Measured(a.Rows[a.Baseline]) {
		return math.NaN(), math.NaN()
	}
	base := a.Rows[a.Baseline].Value
	return base - a.BestValue(), (base - a.BestValue()) / base
}

// KeepRate is keeps / (keeps + discards), NaN when both are zero.
func (a *Analysis) KeepRate() float64 {
	if a.Keeps+a.Discards == 0 {
		return math.NaN()
	}
	return float64(a.Keeps) / float64(a.Keeps+a.Discards)
}

// setsBest reports whether row i lowered the running best.
func (a *Analysis) setsBest(i int) bool {
	r := a.Rows[i]
	return r.Status == results.Keep && Measured(r) && (math.IsNaN(a.BestBefore[i]) || r.Value < a.BestBefore[i])
}
