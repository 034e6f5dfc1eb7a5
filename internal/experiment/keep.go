package experiment

import (
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/stat/distuv"
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

// Kept returns the values the mean and sigma rest on: Values less Outliers.
func (n *Noise) Kept() []float64 {
	out := append([]float64(nil), n.Values...)
	for _, o := range n.Outliers {
		if i := slices.Index(out, o); i >= 0 {
			out = slices.Delete(out, i, i+1)
		}
	}
	return out
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
// K = 8). The keep rule asks a sigma of few degrees of freedom for a wider
// margin (Student's t), so its false keeps stay near 2 % whatever K; what
// few runs cost is power: by simulation (tools/keepsim -repeats K) the
// default rule keeps 32 % of real 2-sigma gains after 3 baseline runs, 65 %
// after 5 and 84 % after 8, until re-measured changes add to the pooled
// sigma. Short
// budgets (smoke's 5 s) buy 8 runs for about a minute; a 300 s budget (cpu,
// gpu) pays 5 minutes a run, so 5 (25 minutes, about 5 % of an eight-hour
// night) is the compromise there.
func DefaultRepeats(budgetSeconds float64) int {
	if budgetSeconds > 0 && budgetSeconds <= 60 {
		return 8
	}
	return 5
}

// The keep rule's defaults (run's --noise-multiplier, --remeasure and
// --recheck-every). The first two are chosen from the simulation's frontier
// (tools/keepsim -frontier): with sigma estimated from 8 baseline runs, 2
// standard errors and up to 5 re-measurements keep 2.3 % of the changes that
// are in truth no better and 84 % of real gains of 2 sigma, for 1.8 runs
// per no-better change. 4 re-measurements would keep 81 % of those gains,
// too close to the 80 % aimed at; 1.9 standard errors keep 2.8 % of
// no-better changes, too close to the 3 % allowed.
const (
	DefaultNoiseMultiplier = 2.0
	DefaultRemeasure       = 5
	// DefaultRecheckEvery: one run of the best every 20 experiments, each
	// of which costs at least a run, is under 5 % of a night's runs.
	DefaultRecheckEvery = 20
	// DriftLimit is how many standard errors a re-check of the best may
	// differ from the best's estimate before the machine is taken to have
	// changed.
	DriftLimit = 3.0
	// futilityStep sets when a change is not worth another run: after n
	// runs it must beat the best by more than n × futilityStep standard
	// errors of the difference to be measured again.
	futilityStep = 1.0 / 3
)

// KeepRule decides whether a measured candidate beats the best.
//
// It is a sequential test on the standard error of the difference. After n
// runs of a candidate (mean m) against a best valued at the mean B of its
// BestRuns runs, the gain is B - m (m - B when higher is better), and its
// standard error
//
//	SE(n) = Sigma × sqrt(1/BestRuns + 1/n)
//
// counts the best's own uncertainty beside the candidate's. Sigma is the
// pooled within-program standard deviation (SigmaPool) with DF degrees of
// freedom. After each run:
//
//   - keep when n >= 2 and the gain clears the margin: c(n) × SE(n), at least
//     MinDelta, where c(n) = Multiplier × sqrt(N/n) on the normal scale (N =
//     1 + Remeasure, the most runs) converted to Student's t with DF degrees
//     of freedom, so that a sigma read from few runs asks for more. The bar
//     is high after two runs and falls to Multiplier at the last (the shape
//     of O'Brien and Fleming's group-sequential boundary): an early keep
//     needs a clear gain, and the looks together keep about as few no-better
//     changes as one test at the end would;
//   - measure again when n < N and the gain exceeds n × futilityStep
//     standard errors: the evidence is still open;
//   - discard otherwise.
//
// So a change that does not beat the best by a third of a standard error on
// its first run costs one run; no keep rests on one run; no change costs more
// than N runs.
//
// The best was itself measured (BestRuns runs) and was chosen because its
// mean cleared the margin, so that mean reads better than its truth (the
// winner's curse). The standard error counts its runs; the selection makes
// later comparisons stricter, not looser (a no-better change must beat a
// best that reads too good), so it costs power, never false keeps; the
// re-checks of the best (Run's recheck) add fresh runs to its estimate and
// so wear the selection off.
//
// Without noise (Sigma 0, one baseline run) the rule is the original one: a
// strict improvement by more than MinDelta is kept, nothing is re-measured.
// With Remeasure 0 one run decides, on the margin of one run.
type KeepRule struct {
	LowerIsBetter bool
	Sigma         float64 // the pooled noise; 0 when unknown
	DF            int     // Sigma's degrees of freedom; 0 takes Sigma as exact
	BestRuns      int     // the runs behind the best's value (at least 1)
	Multiplier    float64 // the margin at the last run, in standard errors of the difference
	MinDelta      float64 // a floor under the margin, in the metric's units
	Remeasure     int     // the most extra runs a candidate gets
}

// Verdict is what the keep rule says about a candidate.
type Verdict string

const (
	VerdictKeep      Verdict = "keep"
	VerdictDiscard   Verdict = "discard"
	VerdictRemeasure Verdict = "remeasure" // measure it once more, then ask again
)

// SE is the standard error of the difference between the best and the mean
// of n runs of a candidate; 0 without noise.
func (k KeepRule) SE(n int) float64 {
	return k.Sigma * math.Sqrt(1/float64(max(k.BestRuns, 1))+1/float64(max(n, 1)))
}

// Margin is how much the mean of n runs of a candidate must beat the best
// by to be kept.
func (k KeepRule) Margin(n int) float64 {
	if k.Sigma <= 0 {
		return k.MinDelta
	}
	z := k.Multiplier
	if last := 1 + max(k.Remeasure, 0); n < last {
		z *= math.Sqrt(float64(last) / float64(max(n, 1)))
	}
	return math.Max(k.MinDelta, studentsT(z, k.DF)*k.SE(n))
}

// Futility is how much the mean of n runs of a candidate must beat the best
// by to be measured again: n × futilityStep standard errors.
func (k KeepRule) Futility(n int) float64 {
	return float64(n) * futilityStep * k.SE(n)
}

// Bar is what the verdict v on a candidate of n runs rested on: the margin
// after n runs when it was kept, or discarded after its last run (or when
// it could not be measured again), else the futility bar it fell short of.
func (k KeepRule) Bar(n int, v Verdict) float64 {
	if v == VerdictDiscard && k.Sigma > 0 && n <= k.Remeasure {
		return k.Futility(n)
	}
	return k.Margin(n)
}

// Judge decides on a candidate measured values (one or more runs, oldest
// first) against the best (NaN before there is one). It returns the verdict
// and the value the decision rests on, the mean of values; a kept
// candidate's mean becomes the best.
func (k KeepRule) Judge(best float64, values []float64) (Verdict, float64) {
	m, n := mean(values), len(values)
	gain := best - m
	if !k.LowerIsBetter {
		gain = -gain
	}
	beats := gain > k.Margin(n)
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
	case beats && n >= 2:
		return VerdictKeep, m
	case n <= k.Remeasure && gain > k.Futility(n):
		return VerdictRemeasure, m
	}
	return VerdictDiscard, m
}

// studentsT converts z, a quantile of the standard normal, to the quantile
// of Student's t with df degrees of freedom at the same probability (z
// itself for df 0: a sigma taken as exact).
func studentsT(z float64, df int) float64 {
	if df <= 0 {
		return z
	}
	key := [2]float64{z, float64(df)}
	tMu.Lock()
	defer tMu.Unlock()
	if t, ok := tCache[key]; ok {
		return t
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(distuv.UnitNormal.CDF(z))
	if len(tCache) > 4096 {
		clear(tCache)
	}
	tCache[key] = t
	return t
}

var (
	tMu    sync.Mutex
	tCache = map[[2]float64]float64{}
)

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
