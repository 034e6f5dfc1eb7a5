package main

import (
	"strings"
	"testing"

	"autoresearch/internal/experiment"
)

// The keep rule's promise, by simulation with the noise measured on smoke,
// the rule's sigma estimated from the simulated baseline runs: with the
// defaults it keeps fewer than 5 % of the changes that are in truth no
// better, and most real gains of 2 sigma; the original rule keeps half of
// the no-better ones.
func TestKeepRuleSimulation(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	got := table(&b, smokeSigma, 100000, 1)
	t.Logf("\n%s", b.String())
	if n := strings.Count(b.String(), "\n"); n != 2+len(rules(smokeSigma)) {
		t.Errorf("the table has %d lines, want a header, a rule line and one per rule", n)
	}
	if f := got[0].FalseKeep; f < 0.45 || f > 0.55 {
		t.Errorf("the original rule kept %.1f%% of no-better changes; a fair coin is 50%%", 100*f)
	}
	for _, s := range got[2:] {
		if s.FalseKeep >= 0.05 || s.SweepFalseKeep >= 0.05 {
			t.Errorf("the default rule kept %.1f%% (fresh) and %.1f%% (sweep) of no-better changes, want under 5%%", 100*s.FalseKeep, 100*s.SweepFalseKeep)
		}
		if s.TrueKeep < 0.55 {
			t.Errorf("the default rule kept only %.1f%% of real 2-sigma gains", 100*s.TrueKeep)
		}
		if s.NullRuns > 1+float64(experiment.DefaultRemeasure) || s.NullRuns < 1 {
			t.Errorf("%.2f runs per candidate is outside the rule's bound", s.NullRuns)
		}
	}
	// Re-measuring before a keep makes the best less of a lucky draw.
	if got[2].SweepOptimism >= got[1].SweepOptimism {
		t.Errorf("the best reads %.2f sigma too low with the default rule, %.2f without re-measurement", got[2].SweepOptimism, got[1].SweepOptimism)
	}
}
