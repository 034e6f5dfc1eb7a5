package experiment

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/testfs"
)

func TestNewNoiseIsTheSampleStandardDeviation(t *testing.T) {
	t.Parallel()
	// 1, 2, 3, 4: mean 2.5, squared deviations 2.25+0.25+0.25+2.25 = 5, over n-1 = 3.
	n := NewNoise([]float64{1, 2, 3, 4})
	if math.Abs(n.Sigma-math.Sqrt(5.0/3)) > 1e-12 || len(n.Values) != 4 {
		t.Errorf("noise of 1..4: %+v", n)
	}
	if NewNoise([]float64{0.6}) != nil {
		t.Error("one value has no spread, but NewNoise made one")
	}
}

// A run starved of the CPU (the baseline of a loaded smoke run: 20 steps
// instead of about 80) is left out of the mean and sigma; the spread of the
// others stays in.
func TestNewNoiseLeavesOutAStarvedRun(t *testing.T) {
	values := []float64{0.657, 0.483, 0.519, 1.005, 0.662, 0.617, 0.606, 0.589}
	n := NewNoise(values)
	rest := []float64{0.657, 0.483, 0.519, 0.662, 0.617, 0.606, 0.589}
	if !reflect.DeepEqual(n.Outliers, []float64{1.005}) || math.Abs(n.Sigma-stddev(rest)) > 1e-12 || math.Abs(n.Mean-mean(rest)) > 1e-12 || len(n.Values) != 8 {
		t.Errorf("noise %+v, want 1.005 left out", n)
	}
	// Five values are too few to call one an outlier; three far ones of eight are too many.
	for _, vs := range [][]float64{{1, 1.01, 0.99, 1.0, 3}, {1, 1.01, 0.99, 1.0, 1.02, 3, 3.1, 3.2}} {
		if n := NewNoise(vs); len(n.Outliers) != 0 || math.Abs(n.Sigma-stddev(vs)) > 1e-12 {
			t.Errorf("noise of %v: %+v, want every value kept", vs, n)
		}
	}
}

func TestKeepRuleJudge(t *testing.T) {
	t.Parallel()
	// Sigma 0.02 taken as exact (DF 0), the best of 4 runs, at most 4 runs
	// (N = 4). SE(n) = 0.02 × sqrt(1/4 + 1/n): 0.022361, 0.017321,
	// 0.015275, 0.014142. The margin after n runs is 2 × sqrt(4/n) × SE(n):
	// 0.048990 (n 2), 0.035277 (n 3), 0.028284 (n 4); another run needs a
	// gain above n/3 × SE(n): 0.007454 (n 1), 0.011547 (n 2), 0.015275 (n 3).
	noisy := KeepRule{LowerIsBetter: true, Sigma: 0.02, BestRuns: 4, Multiplier: 2, Remeasure: 3}
	cases := []struct {
		name   string
		rule   KeepRule
		values []float64
		want   Verdict
	}{
		{"the original rule keeps any strict improvement", KeepRule{LowerIsBetter: true}, []float64{0.999}, VerdictKeep},
		{"the original rule drops a tie", KeepRule{LowerIsBetter: true}, []float64{1}, VerdictDiscard},
		{"min-delta without noise", KeepRule{LowerIsBetter: true, MinDelta: 0.01}, []float64{0.995}, VerdictDiscard},
		{"no better on the first run: one run", noisy, []float64{1.001}, VerdictDiscard},
		{"better by less than a third of a standard error: one run", noisy, []float64{0.993}, VerdictDiscard},
		{"promising: measured again", noisy, []float64{0.99}, VerdictRemeasure},
		{"far past the margin on one run: confirmed first", noisy, []float64{0.90}, VerdictRemeasure},
		{"past the margin after two runs", noisy, []float64{0.95, 0.95}, VerdictKeep},
		{"short of the margin after two runs, still promising", noisy, []float64{0.96, 0.96}, VerdictRemeasure},
		{"past the lower margin after three runs", noisy, []float64{0.96, 0.96, 0.96}, VerdictKeep},
		{"fallen behind after two runs", noisy, []float64{0.99, 0.99}, VerdictDiscard},
		{"still promising after three runs", noisy, []float64{0.98, 0.98, 0.98}, VerdictRemeasure},
		{"short of the last margin", noisy, []float64{0.98, 0.98, 0.98, 0.98}, VerdictDiscard},
		{"past the last margin", noisy, []float64{0.97, 0.97, 0.97, 0.97}, VerdictKeep},
		{"higher is better", KeepRule{Sigma: 0.02, BestRuns: 4, Multiplier: 2, Remeasure: 3}, []float64{1.05, 1.05}, VerdictKeep},
		{"higher is better, lower value", KeepRule{Sigma: 0.02, BestRuns: 4, Multiplier: 2, Remeasure: 3}, []float64{0.95}, VerdictDiscard},
		{"min-delta above the margin", KeepRule{LowerIsBetter: true, Sigma: 0.02, BestRuns: 4, Multiplier: 2, MinDelta: 0.1, Remeasure: 3}, []float64{0.95, 0.95, 0.95, 0.95}, VerdictDiscard},
		// One run decides: the margin is 2 × SE(1) = 0.044721.
		{"no re-measurement: one run decides", KeepRule{LowerIsBetter: true, Sigma: 0.02, BestRuns: 4, Multiplier: 2}, []float64{0.95}, VerdictKeep},
		{"no re-measurement: short of the margin", KeepRule{LowerIsBetter: true, Sigma: 0.02, BestRuns: 4, Multiplier: 2}, []float64{0.96}, VerdictDiscard},
	}
	for _, c := range cases {
		got, m := c.rule.Judge(1.0, c.values)
		if got != c.want {
			t.Errorf("%s: %v on %v, want %v", c.name, got, c.values, c.want)
		}
		if math.Abs(m-mean(c.values)) > 1e-12 {
			t.Errorf("%s: decided on %v, want the mean %v", c.name, m, mean(c.values))
		}
	}
	if v, _ := noisy.Judge(math.NaN(), []float64{2}); v != VerdictKeep {
		t.Errorf("without a best the first value is kept, got %v", v)
	}
	for n, want := range map[int]float64{2: 0.048990, 3: 0.035277, 4: 0.028284} {
		if got := noisy.Margin(n); math.Abs(got-want) > 1e-6 {
			t.Errorf("margin after %d runs %.6f, want %.6f", n, got, want)
		}
	}
	if se := noisy.SE(2); math.Abs(se-0.02*math.Sqrt(0.75)) > 1e-12 {
		t.Errorf("SE(2) %v, want 0.02 × sqrt(1/4 + 1/2)", se)
	}
}

// A sigma of few degrees of freedom asks for Student's t: with 2 degrees of
// freedom its quantile at probability p is (2p - 1) / sqrt(2p(1 - p)); with
// 10, the tables give 2.228 at 97.5 %; with none, sigma is taken as exact.
func TestMarginOnStudentsT(t *testing.T) {
	t.Parallel()
	p := 0.5 * (1 + math.Erf(2/math.Sqrt2)) // the normal's probability below 2
	t2 := (2*p - 1) / math.Sqrt(2*p*(1-p))
	k := KeepRule{LowerIsBetter: true, Sigma: 0.01, DF: 2, BestRuns: 3, Multiplier: 2, Remeasure: 1}
	if got, want := k.Margin(2), t2*0.01*math.Sqrt(1.0/3+1.0/2); math.Abs(got-want) > 1e-9 {
		t.Errorf("margin with 2 degrees of freedom %.9f, want %.9f (t %.4f)", got, want, t2)
	}
	if got := studentsT(1.959964, 10); math.Abs(got-2.228) > 5e-4 {
		t.Errorf("t with 10 degrees of freedom at 97.5 %% is %.4f, want 2.228", got)
	}
	if got := studentsT(1.5, 0); got != 1.5 {
		t.Errorf("without degrees of freedom t is %v, want z itself", got)
	}
}

// The pool weighs each program by its runs: the sum of squared deviations
// from each program's own mean over the runs less one per program. A
// program measured once adds nothing; runs of one program added at two times
// join.
func TestSigmaPool(t *testing.T) {
	t.Parallel()
	var p SigmaPool
	p.Add("a", 1.02, 1.0, 0.98) // squared deviations 0.0008, 2 degrees of freedom
	p.Add("b", 5)               // measured once
	p.Add("c", 0.99, 1.02)      // 0.00045, 1
	if math.Abs(p.Sigma()-math.Sqrt(0.00125/3)) > 1e-12 || p.DF() != 3 || p.Runs() != 5 {
		t.Fatalf("pool of a and c: sigma %v df %d runs %d, want %v 3 5", p.Sigma(), p.DF(), p.Runs(), math.Sqrt(0.00125/3))
	}
	p.Add("b", 5.03) // b now: 5, 5.03: 0.00045, 1
	p.Add("a", 1.0)  // a: 1.02, 1, 0.98, 1: mean 1, still 0.0008, 3
	// 0.0008 + 0.00045 + 0.00045 over 3 + 1 + 1 degrees of freedom.
	if math.Abs(p.Sigma()-math.Sqrt(0.0017/5)) > 1e-12 || p.DF() != 5 || p.Runs() != 8 {
		t.Errorf("after b's second run and a's fourth: sigma %v df %d runs %d, want %v 5 8", p.Sigma(), p.DF(), p.Runs(), math.Sqrt(0.0017/5))
	}
	p.Reset()
	if p.Sigma() != 0 || p.DF() != 0 {
		t.Errorf("a reset pool: %v, %d", p.Sigma(), p.DF())
	}
}

// noisySandbox runs the noisy task unconfined: it counts its runs in a file
// beside its offsets, state outside any scratch folder, which the sandbox
// would refuse.
const noisySandbox = sandbox.Off

// noisyConfig is the noisy task's configuration; its runs take their noise
// from offsets, in order.
func noisyConfig(t *testing.T, offsets string) Config {
	t.Helper()
	user := gittest.CommitTree(t, filepath.Join("testdata", "noisy"), "the noisy task")
	file := filepath.Join(t.TempDir(), "offsets")
	if err := os.WriteFile(file, []byte(offsets), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := toyConfig(user, "n1")
	cfg.Task.Run.Env = append(cfg.Task.Run.Env, "NOISE_FILE="+file)
	return cfg
}

// tq is Student's t quantile with df degrees of freedom at the normal's
// probability below z, from gonum's distributions: the reference for the
// margins of the loop's test.
func tq(z float64, df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(distuv.UnitNormal.CDF(z))
}

// The loop on the noisy task, every value derived by hand from the offsets.
// Multiplier 1.5, at most 3 runs (z after 2 runs 1.5 × sqrt(3/2) = 1.8371),
// a re-check every 2 experiments.
//
// Baseline 1.02, 1.00, 0.98: mean 1.00; the pool 0.0008 over 2 degrees of
// freedom, sigma 0.02.
//
// Experiment 1 (VALUE 0.99): 0.99 beats the best by 0.01, more than a third
// of SE(1) = 0.02 × sqrt(1/3 + 1) = 0.023094: run 2, 1.02, and the mean
// 1.005 no longer beats it by 2/3 × SE(2) = 0.012172: discarded. A keep
// after 2 runs needed t(2 df) × SE(2) = 3.6911 × 0.018257 = 0.067391 (t with
// 2 degrees of freedom at p is (2p-1)/sqrt(2p(1-p))), after 3 runs (the
// threshold) 2.4536 × 0.016330 = 0.040067. Its runs join the pool: 0.00125
// over 3, sigma 0.020412.
//
// Experiment 2 (VALUE 0.90): 0.90, then 0.91: the mean 0.905 beats 1.00 by
// 0.095, past t(3 df) × 0.020412 × sqrt(1/3 + 1/2) = 0.0527: kept. The pool:
// 0.0013 over 4, sigma 0.018028; the best 0.905 over 2 runs.
//
// Re-check 3: 0.92, (0.92 - 0.905) / (0.018028 × sqrt(1/2 + 1)) = 0.68
// standard errors: steady. The best 0.91 over 3 runs; the pool 0.00145 over
// 5, sigma 0.017029.
//
// Experiment 3 (VALUE 0.89): 0.92, no better than 0.91: one run.
// Experiment 4 (VALUE 0.95): 0.95, one run.
//
// Re-check 5: 1.00, (1.00 - 0.91) / (0.017029 × sqrt(1/3 + 1)) = 4.58
// standard errors above: the machine changed. Two more runs, 0.98 and 1.02:
// the best 1.00 over these 3 runs, the pool restarted from them, sigma 0.02
// over 2 again.
//
// Experiment 5 (VALUE 0.84): 0.92, 0.92: beats the re-estimated best 1.00 by
// 0.08, past 0.067391: kept (against the stale 0.91 it would have lost).
func TestRepeatedBaselineAndRemeasuredCandidates(t *testing.T) {
	t.Parallel()
	cfg := noisyConfig(t, "0.02 0 -0.02  0 0.03  0 0.01  0.02  0.03  0  0.10 0.08 0.12  0.08 0.08")
	cfg.BaselineRepeats = 3
	rep := &recorder{}
	r, err := Setup(cfg, rep)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Close() }()
	r.Sandbox = noisySandbox
	p := newScripted(t,
		idea{desc: "VALUE 0.99", edit: set(t, "VALUE", "0.99")},
		idea{desc: "VALUE 0.90", edit: set(t, "VALUE", "0.90")},
		idea{desc: "VALUE 0.89", edit: set(t, "VALUE", "0.89")},
		idea{desc: "VALUE 0.95", edit: set(t, "VALUE", "0.95")},
		idea{desc: "VALUE 0.84", edit: set(t, "VALUE", "0.84")},
	)
	o := Options{Proposer: p, NoiseMultiplier: 1.5, Remeasure: 2, RecheckEvery: 2}
	if stop, err := r.Loop(context.Background(), o); err != nil || stop != StopExhausted {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}

	var cfgOnDisk Config
	b := testfs.ReadFile(t, filepath.Join(r.Dir, ConfigFile))
	if err := json.Unmarshal(b, &cfgOnDisk); err != nil {
		t.Fatal(err)
	}
	if n := cfgOnDisk.Noise; n == nil || !near(n.Values, []float64{1.02, 1, 0.98}) || math.Abs(n.Sigma-0.02) > 1e-9 {
		t.Fatalf("run.json noise %+v, want the baseline's: values 1.02 1 0.98 and sigma 0.02", n)
	}
	f, err := results.ReadFile(filepath.Join(r.Dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var statuses []results.Status
	var values []float64
	for _, row := range f.Rows {
		statuses, values = append(statuses, row.Status), append(values, row.Value)
	}
	k, d := results.Keep, results.Discard
	if !reflect.DeepEqual(statuses, []results.Status{k, d, k, d, d, k}) || !near(values, []float64{1, 1.005, 0.905, 0.92, 0.95, 0.92}) {
		t.Errorf("results.tsv: %v %v, want keep discard keep discard discard keep at 1 1.005 0.905 0.92 0.95 0.92 (no row for a re-check)", statuses, values)
	}
	recs, err := ReadRecords(filepath.Join(r.Dir, RecordsFile))
	if err != nil || len(recs) != 8 {
		t.Fatalf("%d records (%v), want 6 experiments and 2 re-checks", len(recs), err)
	}
	z2 := 1.5 * math.Sqrt(1.5)
	t2 := func(z float64) float64 { // with 2 degrees of freedom, in closed form
		p := 0.5 * (1 + math.Erf(z/math.Sqrt2))
		return (2*p - 1) / math.Sqrt(2*p*(1-p))
	}
	s1, s2, s3 := 0.02, math.Sqrt(0.00125/3), math.Sqrt(0.00145/5) // the pooled sigmas
	se := func(sigma float64, bestRuns, n int) float64 {
		return sigma * math.Sqrt(1/float64(bestRuns)+1/float64(n))
	}
	// margin: the bar each decision rested on; threshold: the margin after
	// the most runs, 3.
	want := []struct {
		n                 int
		status            string
		measurements      []float64
		logs              []string
		margin, threshold float64
		sigma             float64
		df, bestRuns      int
		best, drift       float64
	}{
		{0, "keep", []float64{1.02, 1, 0.98}, []string{"logs/0.log", "logs/0-run2.log", "logs/0-run3.log"}, 0, 0, 0, 0, 0, 1, 0},
		// Dropped after 2 runs, short of the futility bar 2/3 × SE(2).
		{1, "discard", []float64{0.99, 1.02}, []string{"logs/1.log", "logs/1-run2.log"}, 2.0 / 3 * se(s1, 3, 2), t2(1.5) * se(s1, 3, 3), s1, 2, 3, 1, 0},
		{2, "keep", []float64{0.90, 0.91}, []string{"logs/2.log", "logs/2-run2.log"}, tq(z2, 3) * se(s2, 3, 2), tq(1.5, 3) * se(s2, 3, 3), s2, 3, 3, 0.905, 0},
		{3, "recheck", []float64{0.92}, []string{"logs/recheck-3.log"}, 0, 0, s3, 5, 3, 0.91, 0.015 / se(math.Sqrt(0.0013/4), 2, 1)},
		// Dropped after 1 run, short of 1/3 × SE(1).
		{3, "discard", []float64{0.92}, []string{"logs/3.log"}, 1.0 / 3 * se(s3, 3, 1), tq(1.5, 5) * se(s3, 3, 3), s3, 5, 3, 0.91, 0},
		{4, "discard", []float64{0.95}, []string{"logs/4.log"}, 1.0 / 3 * se(s3, 3, 1), tq(1.5, 5) * se(s3, 3, 3), s3, 5, 3, 0.91, 0},
		{5, "recheck", []float64{1.00, 0.98, 1.02}, []string{"logs/recheck-5.log", "logs/recheck-5-run2.log", "logs/recheck-5-run3.log"}, 0, 0, s1, 2, 3, 1, 0.09 / se(s3, 3, 1)},
		{5, "keep", []float64{0.92, 0.92}, []string{"logs/5.log", "logs/5-run2.log"}, t2(z2) * se(s1, 3, 2), t2(1.5) * se(s1, 3, 3), s1, 2, 3, 0.92, 0},
	}
	for i, w := range want {
		rec := recs[i]
		if rec.N != w.n || rec.Status != w.status || !near(rec.Measurements, w.measurements) || !reflect.DeepEqual(rec.Logs, w.logs) {
			t.Errorf("record %d: %d %s measurements %v logs %v, want %d %s %v %v", i, rec.N, rec.Status, rec.Measurements, rec.Logs, w.n, w.status, w.measurements, w.logs)
		}
		if math.Abs(rec.Margin-w.margin) > 1e-9 || math.Abs(rec.Threshold-w.threshold) > 1e-9 || math.Abs(rec.Sigma-w.sigma) > 1e-9 || rec.SigmaDF != w.df || rec.BestRuns != w.bestRuns ||
			math.Abs(rec.Best-w.best) > 1e-9 || math.Abs(rec.Drift-w.drift) > 1e-9 {
			t.Errorf("record %d (%d %s): margin %.6f threshold %.6f sigma %.6f df %d best runs %d best %.6f drift %.4f, want %.6f %.6f %.6f %d %d %.6f %.4f", i, rec.N, rec.Status,
				rec.Margin, rec.Threshold, rec.Sigma, rec.SigmaDF, rec.BestRuns, rec.Best, rec.Drift, w.margin, w.threshold, w.sigma, w.df, w.bestRuns, w.best, w.drift)
		}
	}
	if !recs[6].Rebaselined || recs[3].Rebaselined {
		t.Errorf("re-checks rebaselined: %v %v, want only the second", recs[3].Rebaselined, recs[6].Rebaselined)
	}
	// The proposal of experiment 5 saw the re-estimated noise: sigma 0.02
	// over the 3 fresh runs, the margins after 2 and 3 runs.
	if req := p.requests[5]; math.Abs(req.Noise-0.02) > 1e-9 || req.NoiseRuns != 3 || len(req.Margins) != 2 ||
		math.Abs(req.Margins[0]-t2(z2)*se(s1, 3, 2)) > 1e-9 || math.Abs(req.Margins[1]-t2(1.5)*se(s1, 3, 3)) > 1e-9 || req.Threshold != req.Margins[1] {
		t.Errorf("experiment 5's request: noise %v over %d runs, margins %v, threshold %v", req.Noise, req.NoiseRuns, req.Margins, req.Threshold)
	}
	// show N finds the experiment, not the re-check numbered like it.
	if s, err := Show(r.Dir, 5); err != nil || s.Record == nil || s.Record.Status != "keep" || s.Record.Description != "VALUE 0.84" {
		t.Errorf("show 5: %+v, %v", s, err)
	}
	if best, _ := r.Best(); math.Abs(best-0.92) > 1e-9 {
		t.Errorf("best %v, want the kept mean 0.92", best)
	}
	for _, l := range []string{
		"experiment 1: val_bpb 0.990000 against the best 1.000000: measuring again, run 2 of at most 3 (a keep needs the mean 0.067391 better than the best after it)",
		"re-check of the best: val_bpb 0.920000, 0.7 standard errors from its estimate: steady. The best is now 0.910000 over 3 runs, sigma 0.017029",
		"re-check of the best: val_bpb 1.000000, 4.6 standard errors above its estimate 0.910000 (sigma 0.017029): the machine has changed. Measuring the best 2 more times",
		"re-check of the best: re-estimated over 3 runs: the best 1.000000 (was 0.910000), sigma 0.020000 (was 0.017029)",
	} {
		if !rep.logged(l) {
			t.Errorf("not logged: %q\nlogs: %q", l, rep.logs)
		}
	}
	if n := rep.notes; len(n) != 5 || n[0] != "re-checking the best" || n[1] != "" || n[2] != "re-checking the best" ||
		n[3] != "best drifted +4.6 SE: re-measuring" || !strings.HasPrefix(n[4], "best drifted +4.6 SE at ") || !strings.HasSuffix(n[4], ": re-estimated") {
		t.Errorf("the live line's notes: %q", rep.notes)
	}

	// On resume the pooled sigma and the best's runs are rebuilt from
	// experiments.jsonl: the re-estimate's 0.0008 over 2 and experiment
	// 5's 0.92, 0.92 (0 over 1): sigma sqrt(0.0008/3), the best 0.92 over 2
	// runs; the last re-check was at 5.
	live := r.KeepRule(o)
	r.Close()
	if r, err = Open(r.Dir, nil); err != nil {
		t.Fatal(err)
	}
	got := r.KeepRule(o)
	if got != live || math.Abs(got.Sigma-math.Sqrt(0.0008/3)) > 1e-9 || got.DF != 3 || got.BestRuns != 2 || r.noise.checkedAt != 5 {
		t.Errorf("resumed rule %+v (re-checked at %d), want the live one %+v: sigma %.6f over 3, the best of 2 runs, re-checked at 5", got, r.noise.checkedAt, live, math.Sqrt(0.0008/3))
	}
	if best, _ := r.Best(); math.Abs(best-0.92) > 1e-9 {
		t.Errorf("resumed best %v, want 0.92", best)
	}
}

// A re-measurement that crashes ends the measurement: the change is
// discarded and says why.
func TestRemeasurementThatFailsDiscards(t *testing.T) {
	t.Parallel()
	// Baseline 1.01, 0.99; experiment 1 runs once (0.98, a near miss), then finds no offset left and fails.
	cfg := noisyConfig(t, "0.01 -0.01  0")
	cfg.BaselineRepeats = 2
	r, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Sandbox = noisySandbox
	p := newScripted(t, idea{desc: "VALUE 0.98", edit: set(t, "VALUE", "0.98")})
	if _, err := r.Loop(context.Background(), Options{Proposer: p, NoiseMultiplier: 2, Remeasure: 2}); err != nil {
		t.Fatal(err)
	}
	recs, _ := ReadRecords(filepath.Join(r.Dir, RecordsFile))
	last := recs[len(recs)-1]
	if last.Status != "discard" || !reflect.DeepEqual(last.Measurements, []float64{0.98}) || last.Reason == "" {
		t.Errorf("the change whose second run failed: %+v", last)
	}
	if err := r.repo.Guard(r.Kept(), nil); err != nil || r.Kept() != r.Config.BaseCommit {
		t.Errorf("the worktree was not rolled back to the baseline: %v", err)
	}
}

func near(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			return false
		}
	}
	return true
}
