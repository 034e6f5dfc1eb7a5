package report

import (
	"math"
	"path/filepath"

	"autoresearch/internal/audit"
	"autoresearch/internal/cost"
	"autoresearch/internal/results"
)

// Analysis is a results file with the figures derived from it.
type Analysis struct {
	Metric string
	// LowerIsBetter is the metric's direction: a val_bpb or a time falls, a
	// Sharpe ratio or an accuracy rises.
	LowerIsBetter bool
	Rows          []results.Row

	// Per row, parallel to Rows: the running best before the row (NaN while
	// there is none) and the row's delta against it (NaN without one).
	BestBefore []float64
	Delta      []float64

	Baseline int // index of the first kept row, -1 without kept rows
	Best     int // index of the best row, -1 without kept measured rows
	Kept     []int

	Keeps, Discards, Crashes int

	// Noise is the run's measured noise when known (see ReadNoise); the
	// table and the summary then show it, and kept deltas in sigmas.
	Noise *Noise
	// Workers counts the experiments of each worker of a run with several,
	// and what each is doing (see ReadWorkers); nil for one worker.
	Workers *Workers
	// Audit is the run's audit (audit.json beside the results), nil
	// without one; AuditProblem says why one could not be read.
	Audit        *audit.Audit
	AuditProblem string
}

// Measured reports whether a row of a lower-is-better metric holds a
// measurement (see the package doc).
func Measured(r results.Row) bool { return r.Value > 0 && r.Status != results.Crash }

// Measured reports whether a row holds a measurement. A higher-is-better
// metric may be 0 or negative (a losing strategy's Sharpe ratio): there only
// crashes have none.
func (a *Analysis) Measured(r results.Row) bool {
	if a.LowerIsBetter {
		return Measured(r)
	}
	return r.Status != results.Crash
}

// Better reports whether value x beats y in the metric's direction.
func (a *Analysis) Better(x, y float64) bool {
	if a.LowerIsBetter {
		return x < y
	}
	return x > y
}

// gain is how much row i improved on the best before it: its delta with
// the sign that makes an improvement positive.
func (a *Analysis) gain(i int) float64 {
	if a.LowerIsBetter {
		return -a.Delta[i]
	}
	return a.Delta[i]
}

// Analyze derives the figures of f for a metric where lower is better, such
// as val_bpb.
func Analyze(f *results.File) *Analysis { return AnalyzeMetric(f, true) }

// AnalyzeRun reads the results file at path and analyses it for a metric of
// the given direction, with the run's noise, workers and audit from the files
// beside it.
func AnalyzeRun(path string, lowerIsBetter bool) (*Analysis, error) {
	f, err := results.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a := AnalyzeMetric(f, lowerIsBetter)
	if a.Noise, err = ReadNoise(path); err != nil {
		return nil, err
	}
	if a.Workers, err = ReadWorkers(path); err != nil {
		return nil, err
	}
	if a.Audit, err = audit.Read(filepath.Dir(path)); err != nil {
		a.AuditProblem = err.Error() // the results are worth showing without it
	}
	return a, nil
}

// AnalyzeMetric derives the figures of f for a metric of the given direction.
func AnalyzeMetric(f *results.File, lowerIsBetter bool) *Analysis {
	a := &Analysis{Metric: f.Metric, LowerIsBetter: lowerIsBetter, Rows: f.Rows, Baseline: -1, Best: -1}
	if a.Metric == "" {
		a.Metric = results.DefaultMetric
	}
	best := math.NaN()
	for i, r := range f.Rows {
		a.BestBefore = append(a.BestBefore, best)
		d := math.NaN()
		if a.Measured(r) && !math.IsNaN(best) {
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
			if a.Measured(r) && (math.IsNaN(best) || a.Better(r.Value, best)) {
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

// Improvement is how far the best value beat the baseline's (positive for
// a better best, in either direction), and that as a fraction of the
// baseline's size; NaN when either is missing.
func (a *Analysis) Improvement() (abs, frac float64) {
	if a.Baseline < 0 || a.Best < 0 || !a.Measured(a.Rows[a.Baseline]) {
		return math.NaN(), math.NaN()
	}
	base := a.Rows[a.Baseline].Value
	abs = base - a.BestValue()
	if !a.LowerIsBetter {
		abs = -abs
	}
	return abs, abs / math.Abs(base)
}

// Direction is "lower is better" or "higher is better".
func (a *Analysis) Direction() string {
	if a.LowerIsBetter {
		return "lower is better"
	}
	return "higher is better"
}

// KeepRate is keeps / (keeps + discards), NaN when both are zero.
func (a *Analysis) KeepRate() float64 {
	if a.Keeps+a.Discards == 0 {
		return math.NaN()
	}
	return float64(a.Keeps) / float64(a.Keeps+a.Discards)
}

// Spend is the run's LLM cost of dollars over its experiments and kept
// changes, the baseline not counted.
func (a *Analysis) Spend(dollars float64) cost.Spend {
	s := cost.Spend{Dollars: dollars, Experiments: len(a.Rows), Keeps: a.Keeps}
	if a.Baseline >= 0 {
		s.Experiments, s.Keeps = s.Experiments-1, s.Keeps-1
	}
	return s
}

// SpendLine says what the LLM cost the run under p, from its usage u:
// "LLM cost: $4.20: $0.35 per experiment, ..."; "" when u has no priced
// tokens (tokens only, as without prices).
func (a *Analysis) SpendLine(u *Usage, p cost.Pricing) string {
	c, ok := u.Cost(p)
	if !ok {
		return ""
	}
	return "LLM cost: " + a.Spend(c).String()
}

// setsBest reports whether row i improved the running best.
func (a *Analysis) setsBest(i int) bool {
	r := a.Rows[i]
	return r.Status == results.Keep && a.Measured(r) && (math.IsNaN(a.BestBefore[i]) || a.Better(r.Value, a.BestBefore[i]))
}
