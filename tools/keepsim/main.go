// Command keepsim judges the keep rule by simulation: how often it keeps a
// change that is in truth no better, how often it keeps a real gain, and
// how many runs it spends per change, in a fresh comparison and in a sweep
// of SweepLen experiments. It prints one table (make keepsim).
//
// The noise is Gaussian with the sigma measured on smoke; each rule's own
// sigma is what its simulated baseline runs measured, as a real run's is.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"autoresearch/internal/experiment"
)

// smokeSigma is the noise of val_bpb measured on smoke (five idle
// baselines, sigma 0.0056).
const smokeSigma = 0.0056

// row is one rule of the table.
type row struct {
	name    string
	rule    experiment.KeepRule
	repeats int
}

// rules are the rules the table compares: the original's, one run at 2
// sigma, and the default at the baseline repeats of smoke and of cpu/gpu.
func rules(sigma float64) []row {
	def := experiment.KeepRule{LowerIsBetter: true, Sigma: sigma, Multiplier: experiment.DefaultNoiseMultiplier, Remeasure: experiment.DefaultRemeasure}
	return []row{
		{"original (strict improvement, 1 baseline run)", experiment.KeepRule{LowerIsBetter: true}, 1},
		{"2 sigma, no re-measurement, 5 baseline runs", experiment.KeepRule{LowerIsBetter: true, Sigma: sigma, Multiplier: 2}, 5},
		{"default, 8 baseline runs (smoke)", def, 8},
		{"default, 5 baseline runs (cpu, gpu)", def, 5},
	}
}

// table simulates every rule and writes the table; it returns the results
// in the rules' order.
func table(w io.Writer, sigma float64, trials int, seed uint64) []SimResult {
	fmt.Fprintf(w, "| rule | keeps a no-better change | runs | keeps a real 2-sigma gain | runs | in a %d-experiment sweep: false keeps, 2-sigma keeps, runs, the best's optimism |\n", SweepLen)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	var out []SimResult
	for _, r := range rules(sigma) {
		s := SimulateKeepRule(r.rule, sigma, r.repeats, 2*sigma, trials, seed)
		out = append(out, s)
		fmt.Fprintf(w, "| %s | %.1f %% | %.2f | %.1f %% | %.2f | %.1f %%, %.1f %%, %.2f, %.2f sigma |\n", r.name,
			100*s.FalseKeep, s.NullRuns, 100*s.TrueKeep, s.GainRuns, 100*s.SweepFalseKeep, 100*s.SweepTrueKeep, s.SweepRuns, s.SweepOptimism)
	}
	return out
}

func main() {
	sigma := flag.Float64("sigma", smokeSigma, "the noise (standard deviation) of one run")
	trials := flag.Int("trials", 100000, "simulated candidates per rule")
	seed := flag.Uint64("seed", 1, "seed of the simulation")
	flag.Parse()
	if *sigma <= 0 || *trials < 1 {
		fmt.Fprintln(os.Stderr, "keepsim: -sigma must be positive and -trials at least 1")
		os.Exit(2)
	}
	table(os.Stdout, *sigma, *trials, *seed)
}
