package main

import (
	"strings"
	"testing"

	"autoresearch/internal/experiment"
)

// The keep rule's promises, by simulation, the rules' sigma estimated from
// their simulated runs: at smoke's defaults (8 baseline runs) the rule keeps
// at most 3 % of the changes that are in truth no better, at least 80 % of
// real gains of 2 sigma, for at most 2 runs per no-better change; the rule
// before kept 61 % of those gains and the original half the no-better ones.
func TestKeepRuleSimulation(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	got := table(&b, rules(), 100000, 1)
	t.Logf("\n%s", b.String())
	for i, s := range got {
		t.Logf("%s: sweep sigma %.2f of the truth, re-check alarms %.2f %%", rules()[i].name, s.SweepSigma, 100*s.Alarms)
	}
	if n := strings.Count(b.String(), "\n"); n != 2+len(rules()) {
		t.Errorf("the table has %d lines, want a header, a rule line and one per rule", n)
	}
	orig, before, now, nowNight := got[0], got[1], got[2], got[4]
	if f := orig.FalseKeep; f < 0.45 || f > 0.55 {
		t.Errorf("the original rule kept %.1f%% of no-better changes; a fair coin is 50%%", 100*f)
	}
	if now.FalseKeep > 0.03 || now.SweepFalseKeep > 0.03 {
		t.Errorf("the default rule kept %.1f%% (fresh) and %.1f%% (sweep) of no-better changes, want at most 3%%", 100*now.FalseKeep, 100*now.SweepFalseKeep)
	}
	if now.Power[1] < 0.80 {
		t.Errorf("the default rule kept %.1f%% of real 2-sigma gains, want at least 80%%", 100*now.Power[1])
	}
	if now.NullRuns > 2 || now.NullRuns < 1 {
		t.Errorf("the default rule spent %.2f runs per no-better change, want between 1 and 2", now.NullRuns)
	}
	if max(now.GainRuns[0], now.GainRuns[1], now.GainRuns[2]) > 1+float64(experiment.DefaultRemeasure) {
		t.Errorf("runs per gain %v past the rule's bound", now.GainRuns)
	}
	// Power grows with the gain; the rule now beats the one before at each.
	if !(now.Power[0] < now.Power[1] && now.Power[1] < now.Power[2]) {
		t.Errorf("power %v does not grow with the gain", now.Power)
	}
	for i := range Gains {
		if now.Power[i] <= before.Power[i] {
			t.Errorf("at a %g-sigma gain the rule keeps %.1f%%, the rule before %.1f%%", Gains[i], 100*now.Power[i], 100*before.Power[i])
		}
	}
	// With fewer baseline runs (cpu, gpu) sigma is less sure: the rule asks
	// more, and still keeps few no-better changes.
	if nowNight.FalseKeep > 0.03 || nowNight.Power[1] >= now.Power[1] {
		t.Errorf("from 5 baseline runs: %.1f%% false keeps, %.1f%% of 2-sigma gains (from 8: %.1f%%)", 100*nowNight.FalseKeep, 100*nowNight.Power[1], 100*now.Power[1])
	}
	// Re-measuring before a keep, and re-checking, make the best less of a
	// lucky draw; a steady machine rarely looks drifted.
	if now.SweepOptimism >= before.SweepOptimism || now.Alarms > 0.02 {
		t.Errorf("the best reads %.2f sigma too good now, %.2f before; %.1f%% of re-checks alarmed", now.SweepOptimism, before.SweepOptimism, 100*now.Alarms)
	}
}

// The frontier: a wider margin keeps fewer no-better changes and fewer real
// gains; more re-measurements keep more real gains for more runs. The
// defaults are on it.
func TestKeepRuleFrontier(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	got := frontier(&b, 20000, 1)
	t.Logf("\n%s", b.String())
	for i := range got {
		for j := range got[i] {
			s := got[i][j]
			if i > 0 && (s.FalseKeep >= got[i-1][j].FalseKeep || s.Power[1] >= got[i-1][j].Power[1]) {
				t.Errorf("multiplier %.1f, %d re-measurements: %.1f%% / %.1f%%, not below multiplier %.1f's %.1f%% / %.1f%%", frontierMultipliers[i], frontierRemeasures[j],
					100*s.FalseKeep, 100*s.Power[1], frontierMultipliers[i-1], 100*got[i-1][j].FalseKeep, 100*got[i-1][j].Power[1])
			}
			if j > 0 && (s.Power[1] <= got[i][j-1].Power[1] || s.NullRuns <= got[i][j-1].NullRuns) {
				t.Errorf("multiplier %.1f: %d re-measurements keep %.1f%% for %.2f runs, %d keep %.1f%% for %.2f", frontierMultipliers[i],
					frontierRemeasures[j], 100*s.Power[1], s.NullRuns, frontierRemeasures[j-1], 100*got[i][j-1].Power[1], got[i][j-1].NullRuns)
			}
		}
	}
	if !strings.Contains(b.String(), "| 2.0 | 5 |") {
		t.Errorf("the defaults (%.1f, %d) are not on the frontier", experiment.DefaultNoiseMultiplier, experiment.DefaultRemeasure)
	}
}
