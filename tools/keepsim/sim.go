package main

import (
	"math"
	"math/rand/v2"

	"autoresearch/internal/experiment"
)

// SimResult is what a simulated keep rule did: how often it kept a candidate
// that is in truth no better than the best, how often it kept one that is
// truly better by Gain, and the runs it spent per candidate.
type SimResult struct {
	Trials int

	FalseKeep     float64 // share of no-better candidates kept
	NullRuns      float64 // runs per no-better candidate
	NullRemeasure float64 // share of no-better candidates measured more than once

	Gain      float64 // the real gain tried, in the metric's units
	TrueKeep  float64 // share of the candidates better by Gain that were kept
	GainRuns  float64 // runs per such candidate
	SweepRuns float64 // runs per candidate in the sweep below

	// A sweep of SweepLen experiments from a baseline of the rule's repeats:
	// SweepNull of every candidate is no better than the current state,
	// the rest better by Gain. SweepFalseKeep is the share of no-better
	// candidates kept there, where the best is itself a kept measurement
	// (lucky draws included), and SweepOptimism how far the final best
	// reads below the truth of the kept program, in sigmas.
	SweepFalseKeep float64
	SweepTrueKeep  float64
	SweepOptimism  float64
}

// Sweep shape of SimulateKeepRule.
const (
	SweepLen  = 24
	SweepNull = 0.8
)

// SimulateKeepRule measures rule k by simulation with Gaussian noise of
// sigma: a baseline of repeats runs, then candidates no better than the
// baseline and candidates better by gain, each measured as k.Judge asks.
// When k uses the noise (k.Sigma > 0), its sigma is what each simulated
// baseline measured, not the true sigma. It is deterministic in seed.
func SimulateKeepRule(k experiment.KeepRule, sigma float64, repeats int, gain float64, trials int, seed uint64) SimResult {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	draw := func(truth float64) float64 { return truth + sigma*rng.NormFloat64() }
	sign := 1.0 // better means lower
	if !k.LowerIsBetter {
		sign = -1
	}
	// baseline measures the baseline; a rule that uses the noise gets the
	// spread of these runs as its sigma, as a real run does, estimate
	// error and all.
	baseline := func() float64 {
		vs := make([]float64, max(repeats, 1))
		for i := range vs {
			vs[i] = draw(0)
		}
		n := experiment.NewNoise(vs)
		if n == nil {
			return vs[0]
		}
		if k.Sigma > 0 {
			k.Sigma = n.Sigma
		}
		return n.Mean
	}
	// candidate measures a program of the given truth against best as the
	// rule asks and returns the verdict, its mean and the runs spent.
	candidate := func(best, truth float64) (bool, float64, int) {
		values := []float64{draw(truth)}
		for {
			v, m := k.Judge(best, values)
			switch v {
			case experiment.VerdictKeep:
				return true, m, len(values)
			case experiment.VerdictDiscard:
				return false, m, len(values)
			}
			values = append(values, draw(truth))
		}
	}
	res := SimResult{Trials: trials, Gain: gain}
	var nullKeeps, nullRuns, nullRemeasured, gainKeeps, gainRuns int
	for range trials {
		best := baseline()
		kept, _, n := candidate(best, 0)
		nullRuns += n
		if kept {
			nullKeeps++
		}
		if n > 1 {
			nullRemeasured++
		}
		kept, _, n = candidate(best, -sign*gain)
		gainRuns += n
		if kept {
			gainKeeps++
		}
	}
	t := float64(trials)
	res.FalseKeep, res.NullRuns, res.NullRemeasure = float64(nullKeeps)/t, float64(nullRuns)/t, float64(nullRemeasured)/t
	res.TrueKeep, res.GainRuns = float64(gainKeeps)/t, float64(gainRuns)/t

	var sNull, sNullKept, sGain, sGainKept, sRuns int
	optimism := 0.0
	sweeps := max(trials/SweepLen, 1)
	for range sweeps {
		truth, best := 0.0, baseline()
		for range SweepLen {
			effect := 0.0
			if rng.Float64() >= SweepNull {
				effect = -sign * gain
			}
			kept, m, n := candidate(best, truth+effect)
			sRuns += n
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
				truth, best = truth+effect, m
			}
		}
		optimism += sign * (truth - best) / sigma
	}
	res.SweepFalseKeep = ratio(sNullKept, sNull)
	res.SweepTrueKeep = ratio(sGainKept, sGain)
	res.SweepRuns = ratio(sRuns, sweeps*SweepLen)
	res.SweepOptimism = optimism / float64(sweeps)
	return res
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
