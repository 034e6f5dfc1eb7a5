// Command keepsim judges the keep rule by simulation: how often it keeps a
// change that is in truth no better, how often it keeps real gains of 1, 2
// and 3 sigma, and how many runs it spends per change, in a fresh comparison
// and in a sweep of SweepLen experiments, for the rule before and the rule
// now side by side (make keepsim). -frontier prints the trade-off of the
// rule now over its two settings instead.
//
// The noise is Gaussian; each rule's sigma is what its simulated runs
// measured, as a real run's is.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"autoresearch/internal/experiment"
)

// row is one rule of the table.
type row struct {
	name    string
	rule    func() Rule
	repeats int
}

// smokeRepeats and nightRepeats are the baseline runs of smoke and of the
// cpu and gpu profiles (experiment.DefaultRepeats).
var (
	smokeRepeats = experiment.DefaultRepeats(5)
	nightRepeats = experiment.DefaultRepeats(300)
)

func defaultRule() Rule {
	return &NewRule{Multiplier: experiment.DefaultNoiseMultiplier, Remeasure: experiment.DefaultRemeasure, RecheckEvery: experiment.DefaultRecheckEvery}
}

// rules are the rules the table compares: the original, the rule before the
// standard error (2 sigma on the mean, two re-measurements), and the
// default, at the baseline repeats of smoke and of cpu/gpu.
func rules() []row {
	old := func() Rule { return &OldRule{Multiplier: 2, Remeasure: 2} }
	return []row{
		{"original: any strict improvement, 1 baseline run", func() Rule { return &OldRule{} }, 1},
		{fmt.Sprintf("before: 2 sigma on the mean, 2 re-measurements, %d baseline runs", smokeRepeats), old, smokeRepeats},
		{fmt.Sprintf("now: %.1f standard errors, %d re-measurements, %d baseline runs (smoke)", experiment.DefaultNoiseMultiplier, experiment.DefaultRemeasure, smokeRepeats), defaultRule, smokeRepeats},
		{fmt.Sprintf("before, %d baseline runs (cpu, gpu)", nightRepeats), old, nightRepeats},
		{fmt.Sprintf("now, %d baseline runs (cpu, gpu)", nightRepeats), defaultRule, nightRepeats},
	}
}

// at is the rule before and the rule now from a baseline of repeats runs.
func at(repeats int) []row {
	return []row{
		{fmt.Sprintf("before, %d baseline runs", repeats), func() Rule { return &OldRule{Multiplier: 2, Remeasure: 2} }, repeats},
		{fmt.Sprintf("now, %d baseline runs", repeats), defaultRule, repeats},
	}
}

// table simulates every rule of rows and writes the table; it returns the
// results in the rows' order.
func table(w io.Writer, rows []row, trials int, seed uint64) []SimResult {
	fmt.Fprintf(w, "| rule | keeps a no-better change | keeps a real 1 / 2 / 3 sigma gain | runs per no-better change | runs per 2 sigma gain | %d-experiment sweep: false keeps, 2 sigma keeps, runs per experiment, the best's optimism |\n", SweepLen)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	var out []SimResult
	for _, r := range rows {
		s := Simulate(r.rule, r.repeats, trials, seed)
		out = append(out, s)
		fmt.Fprintf(w, "| %s | %.1f %% | %.0f / %.0f / %.0f %% | %.2f | %.2f | %.1f %%, %.0f %%, %.2f, %.2f sigma |\n", r.name,
			100*s.FalseKeep, 100*s.Power[0], 100*s.Power[1], 100*s.Power[2], s.NullRuns, s.GainRuns[1],
			100*s.SweepFalseKeep, 100*s.SweepTrueKeep, s.SweepRuns, s.SweepOptimism)
	}
	return out
}

// Frontier settings: the margin in standard errors and the re-measurements.
var (
	frontierMultipliers = []float64{1.7, 1.8, 1.9, 2.0, 2.2}
	frontierRemeasures  = []int{2, 3, 4, 5}
)

// frontier simulates the rule now at each setting, from smoke's baseline,
// and writes the trade-off; it returns the results, multipliers first.
func frontier(w io.Writer, trials int, seed uint64) [][]SimResult {
	fmt.Fprintln(w, "| multiplier | re-measurements | keeps a no-better change | keeps a real 2 sigma gain | runs per no-better change | runs per 2 sigma gain |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	var out [][]SimResult
	for _, m := range frontierMultipliers {
		var line []SimResult
		for _, k := range frontierRemeasures {
			s := Simulate(func() Rule { return &NewRule{Multiplier: m, Remeasure: k} }, smokeRepeats, trials, seed)
			line = append(line, s)
			fmt.Fprintf(w, "| %.1f | %d | %.1f %% | %.1f %% | %.2f | %.2f |\n", m, k, 100*s.FalseKeep, 100*s.Power[1], s.NullRuns, s.GainRuns[1])
		}
		out = append(out, line)
	}
	return out
}

func main() {
	trials := flag.Int("trials", 100000, "simulated candidates per rule")
	seed := flag.Uint64("seed", 1, "seed of the simulation")
	front := flag.Bool("frontier", false, "print the trade-off of the rule's settings instead")
	repeats := flag.Int("repeats", 0, "compare the rule before and now from this many baseline runs only")
	flag.Parse()
	if *trials < 1 {
		fmt.Fprintln(os.Stderr, "keepsim: -trials must be at least 1")
		os.Exit(2)
	}
	if *front {
		frontier(os.Stdout, *trials, *seed)
		return
	}
	rows := rules()
	if *repeats > 0 {
		rows = at(*repeats)
	}
	table(os.Stdout, rows, *trials, *seed)
}
