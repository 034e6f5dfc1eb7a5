package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"autoresearch/internal/experiment"
)

// Rule is a keep rule as the simulation runs it, lower being better: a
// night starts from a baseline, candidates are judged against the best as
// the rule's state says, and the state takes in each decision.
type Rule interface {
	// Start begins a night from the baseline's runs.
	Start(baseline []float64)
	// Judge decides on a candidate's runs so far against the best.
	Judge(values []float64) (experiment.Verdict, float64)
	// Decided takes in a candidate's runs once decided.
	Decided(id string, values []float64, kept bool)
	// Best is the best's value now.
	Best() float64
}

// Rechecker is a Rule that re-checks its best every Every() experiments:
// Recheck takes in a fresh run of the best and says whether it drifted (and
// how many more runs a re-estimate wants then; Rebaseline takes them in).
type Rechecker interface {
	Every() int
	Recheck(v float64) (drifted bool, more int)
	Rebaseline(values []float64)
}

// OldRule is the rule before the standard error: keep when the mean of at
// least two runs beats the best by Multiplier × sigma, sigma being the
// baseline's (fixed for the night); measure again, up to Remeasure more
// times, while the mean beats the best at all. Sigma 0 (or a baseline of one
// run) is the original rule: any strict improvement on one run.
type OldRule struct {
	Multiplier float64
	Remeasure  int
	sigma      float64
	best       float64
}

func (o *OldRule) Start(baseline []float64) {
	o.sigma, o.best = 0, baseline[0]
	if n := experiment.NewNoise(baseline); n != nil {
		o.sigma, o.best = n.Sigma, n.Mean
	}
}

func (o *OldRule) Judge(values []float64) (experiment.Verdict, float64) {
	m := mean(values)
	gain := o.best - m
	beats := gain > o.Multiplier*o.sigma
	switch {
	case o.sigma <= 0 || o.Remeasure <= 0:
		if beats {
			return experiment.VerdictKeep, m
		}
	case beats && len(values) >= 2:
		return experiment.VerdictKeep, m
	case gain > 0 && len(values) <= o.Remeasure:
		return experiment.VerdictRemeasure, m
	}
	return experiment.VerdictDiscard, m
}

func (o *OldRule) Decided(_ string, values []float64, kept bool) {
	if kept {
		o.best = mean(values)
	}
}

func (o *OldRule) Best() float64 { return o.best }

// NewRule is experiment.KeepRule with the state a run keeps
// (experiment.KeepState): the pooled sigma and the best's runs, re-checked
// every RecheckEvery experiments (0: never).
type NewRule struct {
	Multiplier   float64
	Remeasure    int
	RecheckEvery int
	state        experiment.KeepState
	repeats      int
}

func (r *NewRule) rule() experiment.KeepRule {
	return r.state.Rule(experiment.KeepRule{LowerIsBetter: true, Multiplier: r.Multiplier, Remeasure: r.Remeasure})
}

func (r *NewRule) Start(baseline []float64) {
	r.state, r.repeats = experiment.KeepState{}, len(baseline)
	r.state.Baseline("baseline", baseline)
}

func (r *NewRule) Judge(values []float64) (experiment.Verdict, float64) {
	return r.rule().Judge(r.state.Best(), values)
}

func (r *NewRule) Decided(id string, values []float64, kept bool) {
	r.state.Decided(id, values, kept)
}

func (r *NewRule) Best() float64 { return r.state.Best() }

func (r *NewRule) Every() int { return r.RecheckEvery }

func (r *NewRule) Recheck(v float64) (bool, int) {
	if math.Abs(r.state.Drift(r.rule(), v)) > experiment.DriftLimit {
		return true, max(r.repeats, 2) - 1
	}
	r.state.Rechecked([]float64{v})
	return false, 0
}

func (r *NewRule) Rebaseline(values []float64) { r.state.Rebaselined(values) }

// SimResult is what a simulated keep rule did, in a fresh comparison (a
// baseline, then one candidate) and in sweeps.
type SimResult struct {
	Trials int

	FalseKeep float64 // share of no-better candidates kept
	NullRuns  float64 // runs per no-better candidate
	// Power is the share kept of candidates truly better by Gains[i]
	// sigmas, and GainRuns the runs each cost.
	Power    []float64
	GainRuns []float64

	// A sweep of SweepLen experiments from a baseline: SweepNull of the
	// candidates are no better than the current state, the rest better by
	// SweepGain sigmas. SweepFalseKeep is the share of no-better candidates
	// kept there, where the best is itself a kept measurement (lucky draws
	// included), SweepTrueKeep that of the real gains, SweepRuns the runs
	// per experiment (re-checks of the best included), SweepOptimism how far
	// the final best reads below the truth of the kept program, in sigmas,
	// SweepSigma the rule's sigma at the end over the true one, and Alarms
	// the share of re-checks that took the machine to have changed (it did
	// not).
	SweepFalseKeep float64
	SweepTrueKeep  float64
	SweepRuns      float64
	SweepOptimism  float64
	SweepSigma     float64
	Alarms         float64
}

// Gains are the real gains the fresh comparison tries, in sigmas.
var Gains = []float64{1, 2, 3}

// Sweep shape of Simulate.
const (
	SweepLen  = 24
	SweepNull = 0.8
	SweepGain = 2
)

// Simulate measures a keep rule (made fresh for each night by newRule) with
// Gaussian noise of sigma 1: a baseline of repeats runs, then candidates no
// better than the baseline and candidates better by each of Gains, each
// measured as the rule asks; and sweeps. The rule's sigma is what its
// simulated runs measured, as a real run's is. It is deterministic in seed.
func Simulate(newRule func() Rule, repeats, trials int, seed uint64) SimResult {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	draw := func(truth float64) float64 { return truth + rng.NormFloat64() }
	runs := func(truth float64, k int) []float64 {
		vs := make([]float64, k)
		for i := range vs {
			vs[i] = draw(truth)
		}
		return vs
	}
	// candidate measures a program of the given truth as rule asks and
	// returns the verdict, its runs and their mean.
	candidate := func(rule Rule, truth float64) (bool, []float64, float64) {
		values := []float64{draw(truth)}
		for {
			v, m := rule.Judge(values)
			switch v {
			case experiment.VerdictKeep:
				return true, values, m
			case experiment.VerdictDiscard:
				return false, values, m
			}
			values = append(values, draw(truth))
		}
	}
	res := SimResult{Trials: trials, Power: make([]float64, len(Gains)), GainRuns: make([]float64, len(Gains))}
	var nullKeeps, nullRuns int
	gainKeeps, gainRuns := make([]int, len(Gains)), make([]int, len(Gains))
	for range trials {
		rule := newRule()
		rule.Start(runs(0, max(repeats, 1)))
		kept, values, _ := candidate(rule, 0)
		nullRuns += len(values)
		if kept {
			nullKeeps++
		}
		for i, g := range Gains {
			kept, values, _ = candidate(rule, -g)
			gainRuns[i] += len(values)
			if kept {
				gainKeeps[i]++
			}
		}
	}
	t := float64(trials)
	res.FalseKeep, res.NullRuns = float64(nullKeeps)/t, float64(nullRuns)/t
	for i := range Gains {
		res.Power[i], res.GainRuns[i] = float64(gainKeeps[i])/t, float64(gainRuns[i])/t
	}

	var sNull, sNullKept, sGain, sGainKept, sRuns, checks, alarms int
	optimism, sigmas := 0.0, 0.0
	sweeps := max(trials/SweepLen, 1)
	for range sweeps {
		rule := newRule()
		rc, _ := rule.(Rechecker)
		truth := 0.0
		rule.Start(runs(0, max(repeats, 1)))
		for e := 1; e <= SweepLen; e++ {
			effect := 0.0
			if rng.Float64() >= SweepNull {
				effect = -SweepGain
			}
			kept, values, _ := candidate(rule, truth+effect)
			rule.Decided(fmt.Sprint(e), values, kept)
			sRuns += len(values)
			if effect == 0 {
				sNull++
				if kept {
					sNullKept++
				}
			} else {
				sGain++
				if kept {
					sGainKept++
				}
			}
			if kept {
				truth += effect
			}
			if rc != nil && rc.Every() > 0 && e%rc.Every() == 0 {
				checks++
				sRuns++
				v := draw(truth)
				if drifted, more := rc.Recheck(v); drifted {
					alarms++
					sRuns += more
					rc.Rebaseline(append([]float64{v}, runs(truth, more)...))
				}
			}
		}
		optimism += truth - rule.Best()
		if nr, ok := rule.(*NewRule); ok {
			sigmas += nr.state.Pool.Sigma()
		} else if or, ok := rule.(*OldRule); ok {
			sigmas += or.sigma
		}
	}
	res.SweepFalseKeep = ratio(sNullKept, sNull)
	res.SweepTrueKeep = ratio(sGainKept, sGain)
	res.SweepRuns = ratio(sRuns, sweeps*SweepLen)
	res.SweepOptimism = optimism / float64(sweeps)
	res.SweepSigma = sigmas / float64(sweeps)
	res.Alarms = ratio(alarms, checks)
	return res
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
