package audit

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Level is the confidence of the interval around the fraction held.
const Level = 0.95

// Estimate is what the fresh runs of one program say.
type Estimate struct {
	Runs    int     // runs with a value
	Crashed int     // runs that crashed: no value
	Mean    float64 // NaN without a run
	SD      float64 // the sample standard deviation; NaN below two runs
	SE      float64 // the mean's standard error, SD/√Runs
}

// Estimate summarises the fresh runs of program i.
func (a *Audit) Estimate(i int) Estimate {
	var xs []float64
	e := Estimate{Mean: math.NaN(), SD: math.NaN(), SE: math.NaN()}
	for _, r := range a.Programs[i].Fresh {
		if r.Crash != "" {
			e.Crashed++
			continue
		}
		xs = append(xs, r.Value)
	}
	e.Runs = len(xs)
	if e.Runs > 0 {
		e.Mean = stat.Mean(xs, nil)
	}
	if e.Runs > 1 {
		e.SD = stat.StdDev(xs, nil)
		e.SE = e.SD / math.Sqrt(float64(e.Runs))
	}
	return e
}

// Diff is the fresh difference of two programs' means, to minus from, with
// its standard error and Welch–Satterthwaite's degrees of freedom.
type Diff struct {
	Delta, SE, DF float64
}

func diff(from, to Estimate) Diff {
	vf, vt := from.SE*from.SE, to.SE*to.SE
	d := Diff{Delta: to.Mean - from.Mean, SE: math.Sqrt(vf + vt)}
	d.DF = (vf + vt) * (vf + vt) / (vf*vf/float64(from.Runs-1) + vt*vt/float64(to.Runs-1))
	return d
}

// halfWidth is the half width of the t-interval at Level around a
// difference: 0 when the runs did not vary (a deterministic program), NaN
// when its standard error is unknown.
func (d Diff) halfWidth() float64 {
	switch {
	case math.IsNaN(d.SE):
		return math.NaN()
	case d.SE == 0:
		return 0
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: d.DF}.Quantile(1 - (1-Level)/2)
	return t * d.SE
}

// Step is one kept change set against its parent, the kept program before
// it. Deltas are in the metric's units, the change's value minus its
// parent's (negative is better when lower is better).
type Step struct {
	Program, Parent int // indexes into Programs
	Logged          float64
	Fresh           Diff
	// Known says both programs have the runs for a standard error; Held
	// that the fresh delta is better than zero by at least one of them.
	Known, Held bool
}

// Summary is what the audit says.
type Summary struct {
	// Base and Best index the baseline and the final best in Programs.
	Base, Best           int
	BaseFresh, BestFresh Estimate
	// LoggedGain and the fresh Gain are the best's improvement on the
	// baseline, positive when better; the fresh one's Delta is signed so.
	LoggedGain float64
	Gain       Diff
	// Held is the fresh gain over the logged one, Low and High the
	// t-interval at Level around it; NaN when unknown.
	Held, Low, High float64
	// Steps holds one step per kept change after the baseline when the
	// audit measured every kept commit (Each).
	Steps []Step
}

// better turns a delta of the metric into a gain: positive when better.
func (a *Audit) better(delta float64) float64 {
	if a.LowerIsBetter {
		return -delta
	}
	return delta
}

// Summarize computes what the audit says from the runs it holds.
func (a *Audit) Summarize() Summary {
	s := Summary{Base: 0, Best: len(a.Programs) - 1, Held: math.NaN(), Low: math.NaN(), High: math.NaN()}
	if len(a.Programs) < 2 {
		return s
	}
	s.BaseFresh, s.BestFresh = a.Estimate(s.Base), a.Estimate(s.Best)
	s.LoggedGain = a.better(a.Programs[s.Best].Logged - a.Programs[s.Base].Logged)
	g := diff(s.BaseFresh, s.BestFresh)
	g.Delta = a.better(g.Delta)
	s.Gain = g
	if s.LoggedGain != 0 && !math.IsNaN(g.Delta) {
		s.Held = g.Delta / s.LoggedGain
		h := g.halfWidth() / math.Abs(s.LoggedGain)
		s.Low, s.High = s.Held-h, s.Held+h
	}
	if a.Each {
		for i := 1; i < len(a.Programs); i++ {
			st := Step{Program: i, Parent: i - 1, Logged: a.Programs[i].Logged - a.Programs[i-1].Logged,
				Fresh: diff(a.Estimate(i-1), a.Estimate(i))}
			st.Known = !math.IsNaN(st.Fresh.SE)
			gain := a.better(st.Fresh.Delta)
			st.Held = st.Known && gain > 0 && gain >= st.Fresh.SE
			s.Steps = append(s.Steps, st)
		}
	}
	return s
}
