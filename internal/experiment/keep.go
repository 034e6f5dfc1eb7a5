package experiment

import (
	"math"
	"slices"
)

// Noise is the run-to-run spread of the metric: the baseline measured
// several times with nothing changed. It is stored in run.json.
type Noise struct {
	Values []float64 `json:"values"`
	// Sigma is the sample standard deviation of Values less Outliers, and
	// Mean their mean: the baseline's value.
	Sigma float64 `json:"sigma"`
	Mean  float64 `json:"mean"`
	// Outliers are values far outside the others (see NewNoise).
	Outliers []float64 `json:"outliers,omitempty"`
}

// outlierCut is how many robust sigmas (1.4826 × the median absolute
// deviation) from the median make a value an outlier, and minOutlierRuns
// how many values it takes to call one so. With fewer, the median absolute
// deviation is itself too noisy: by simulation, leaving out outliers of five
// Gaussian values would raise the false keeps from 4.2 % to 5.9 %; of
// eight, from 2.2 % to 2.8 %.
const (
	outlierCut     = 5
	minOutlierRuns = 8
)

// NewNoise summarises repeated measurements of one program; nil for fewer
// than two, which say nothing about the spread. From minOutlierRuns values on, those
// that lie more than outlierCut robust sigmas from the median, when they are
// at most a quarter of the values, are left out of the mean and sigma: a run starved of the CPU by
// other work on the machine (it ends at the budget's wall-clock cap having
// trained a fraction of the steps) measures the machine, not the program,
// and one such run would otherwise set a threshold no change can beat for
// the whole run.
func NewNoise(values []float64) *Noise {
	if len(values) < 2 {
		return nil
	}
	n := &Noise{Values: append([]float64(nil), values...)}
	kept := n.Values
	if len(values) >= minOutlierRuns {
		med := median(values)
		dev := make([]float64, len(values))
		for i, v := range values {
			dev[i] = math.Abs(v - med)
		}
		robust := 1.4826 * median(dev)
		var rest []float64
		for _, v := range values {
			if robust > 0 && math.Abs(v-med) > outlierCut*robust {
				n.Outliers = append(n.Outliers, v)
			} else {
				rest = append(rest, v)
			}
		}
		if len(n.Outliers) <= len(values)/4 {
			kept = rest
		} else {
			n.Outliers = nil // too many to be accidents: they are the noise
		}
	}
	n.Sigma, n.Mean = stddev(kept), mean(kept)
	return n
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// DefaultRepeats is how often the baseline is measured when --repeat is not
// given, from the training budget. The standard deviation of K runs is
// itself uncertain by about 1/sqrt(2(K-1)) of it (35 % at K = 5, 27 % at
// K = 8), and a sigma read too low lets noise through: by simulation
// (SimulateKeepRule, sigma estimated from the runs) the default rule keeps
// 8 % of no-better changes after 3 baseline runs, 4 % after 5 and 2 % after
// 8. Short budgets (smoke's 5 s) buy 8 runs for about a minute; a 300 s
// budget (cpu, gpu) pays 5 minutes a run, so 5 (25 minutes, about 5 % of an
// eight-hour night) is the compromise there.
func DefaultRepeats(budgetSeconds float64) int {
	if budgetSeconds > 0 && budgetSeconds <= 60 {
		return 8
	}
	return 5
}

// The keep rule's defaults (run's --noise-multiplier and --remeasure).
const (
	DefaultNoiseMultiplier = 2.0
	DefaultRemeasure       = 2
)

// KeepRule decides whether a measured candidate beats the best.
//
// The threshold is max(MinDelta, Multiplier × Sigma): the mean of a
// candidate's measurements must beat the best by more than that to be kept.
// With a known noise (Sigma > 0, a baseline measured more than once) no
// keep rests on one run: a candidate whose first run beats the best at all
// is measured again, up to Remeasure more times, and the decision is taken
// on the mean of its runs as soon as that mean beats the best by the
// threshold (kept, with at least two runs) or no longer beats it at all
// (discarded); after 1 + Remeasure runs a mean short of the threshold is
// discarded. So a near miss, a real gain that drew an unlucky first run,
// gets a second look, and a lucky draw of a change that is no better
// regresses towards its truth before it can become the best that every
// later experiment is compared with. A candidate costs at most 1 +
// Remeasure runs; one that does not beat the best on its first run costs
// one. Remeasure 0 keeps on a single run beating the threshold.
//
// Without noise (Sigma 0, one baseline run) the rule is the original one: a
// strict improvement by more than MinDelta is kept, nothing is re-measured.
//
// SimulateKeepRule measures the rule. With the defaults (2 sigma, two
// re-measurements) and sigma estimated from a baseline of five runs, it
// keeps about 4 % of the changes that are in truth no better and 60 % of
// real gains of 2 sigma, for 1.9 runs per no-better candidate (the original
// rule: 50 %, 92 %, 1 run); in a sweep its best reads less optimistic.
type KeepRule struct {
	LowerIsBetter bool
	Sigma         float64 // the run's noise; 0 when unknown
	Multiplier    float64 // how many sigmas a gain must exceed
	MinDelta      float64 // a floor under the threshold, in the metric's units
	Remeasure     int     // the most extra runs a candidate gets
}

// Verdict is what the keep rule says about a candidate.
type Verdict string

const (
	VerdictKeep      Verdict = "keep"
	VerdictDiscard   Verdict = "discard"
	VerdictRemeasure Verdict = "remeasure" // measure it once more, then ask again
)

// Threshold is how much a candidate must beat the best by to be kept.
func (k KeepRule) Threshold() float64 {
	return math.Max(k.MinDelta, k.Multiplier*k.Sigma)
}

// Judge decides on a candidate measured values (one or more runs, oldest
// first) against the best (NaN before there is one). It returns the verdict
// and the value the decision rests on, the mean of values; a kept
// candidate's mean becomes the best.
func (k KeepRule) Judge(best float64, values []float64) (Verdict, float64) {
	m := mean(values)
	gain := best - m
	if !k.LowerIsBetter {
		gain = -gain
	}
	beats := gain > k.Threshold()
	switch {
	case math.IsNaN(m):
		return VerdictDiscard, m
	case math.IsNaN(best):
		return VerdictKeep, m
	case k.Sigma <= 0 || k.Remeasure <= 0:
		if beats {
			return VerdictKeep, m
		}
		return VerdictDiscard, m
	case beats && len(values) >= 2:
		return VerdictKeep, m
	case gain > 0 && len(values) <= k.Remeasure:
		return VerdictRemeasure, m
	}
	return VerdictDiscard, m
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// stddev is the sample standard deviation (n-1 in the denominator).
func stddev(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m, s := mean(xs), 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)-1))
}
