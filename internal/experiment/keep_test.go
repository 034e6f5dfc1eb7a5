package experiment

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

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
	noisy := KeepRule{LowerIsBetter: true, Sigma: 0.02, Multiplier: 1.5, Remeasure: 2} // threshold 0.03
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
		{"a near miss is measured again", noisy, []float64{0.99}, VerdictRemeasure},
		{"past the threshold on one run: confirmed first", noisy, []float64{0.95}, VerdictRemeasure},
		{"past the threshold on the mean of two", noisy, []float64{0.95, 0.97}, VerdictKeep},
		{"the mean no longer beats the best", noisy, []float64{0.99, 1.02}, VerdictDiscard},
		{"still a near miss: a third run", noisy, []float64{0.99, 0.98}, VerdictRemeasure},
		{"short of the threshold after three runs", noisy, []float64{0.99, 0.98, 0.98}, VerdictDiscard},
		{"kept on the third run", noisy, []float64{0.99, 0.96, 0.94}, VerdictKeep},
		{"no re-measurement: one run decides", KeepRule{LowerIsBetter: true, Sigma: 0.02, Multiplier: 1.5}, []float64{0.96}, VerdictKeep},
		{"higher is better", KeepRule{Sigma: 0.02, Multiplier: 1.5, Remeasure: 2}, []float64{1.05, 1.04}, VerdictKeep},
		{"higher is better, lower value", KeepRule{Sigma: 0.02, Multiplier: 1.5, Remeasure: 2}, []float64{0.95}, VerdictDiscard},
		{"min-delta above the noise", KeepRule{LowerIsBetter: true, Sigma: 0.02, Multiplier: 1.5, MinDelta: 0.1, Remeasure: 2}, []float64{0.95, 0.95, 0.95}, VerdictDiscard},
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
	if th := noisy.Threshold(); math.Abs(th-0.03) > 1e-12 {
		t.Errorf("threshold %v, want 1.5 × 0.02", th)
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

func TestRepeatedBaselineAndRemeasuredCandidates(t *testing.T) {
	t.Parallel()
	// Baseline 1.02, 1.00, 0.98: mean 1.00, sigma 0.02, threshold 1.5 × 0.02.
	// Experiment 1 (0.99): 0.99 is a near miss, 1.02 brings the mean to 1.005: discarded after two runs.
	// Experiment 2 (0.95): 0.95 beats the threshold, 0.96 confirms it: kept on the mean 0.955.
	// Experiment 3 (0.94): 0.94 no better than 0.955 by the threshold, then 0.96, 0.95: mean 0.95, discarded after three.
	cfg := noisyConfig(t, "0.02 0 -0.02  0 0.03  0 0.01  0 0.02 0.01")
	cfg.BaselineRepeats = 3
	rep := &recorder{}
	r, err := Setup(cfg, rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Sandbox = noisySandbox
	p := newScripted(t,
		idea{desc: "VALUE 0.99", edit: set(t, "VALUE", "0.99")},
		idea{desc: "VALUE 0.95", edit: set(t, "VALUE", "0.95")},
		idea{desc: "VALUE 0.94", edit: set(t, "VALUE", "0.94")},
	)
	o := Options{Proposer: p, NoiseMultiplier: 1.5, Remeasure: 2}
	if stop, err := r.Loop(context.Background(), o); err != nil || stop != StopExhausted {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}

	var cfgOnDisk Config
	b := testfs.ReadFile(t, filepath.Join(r.Dir, ConfigFile))
	if err := json.Unmarshal(b, &cfgOnDisk); err != nil {
		t.Fatal(err)
	}
	if n := cfgOnDisk.Noise; n == nil || !near(n.Values, []float64{1.02, 1, 0.98}) || math.Abs(n.Sigma-0.02) > 1e-9 {
		t.Fatalf("run.json noise %+v, want values 1.02 1 0.98 and sigma 0.02", n)
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
	if !reflect.DeepEqual(statuses, []results.Status{results.Keep, results.Discard, results.Keep, results.Discard}) || !near(values, []float64{1, 1.005, 0.955, 0.95}) {
		t.Errorf("results.tsv: %v %v, want keep discard keep discard at 1 1.005 0.955 0.95", statuses, values)
	}
	recs, err := ReadRecords(filepath.Join(r.Dir, RecordsFile))
	if err != nil || len(recs) != 4 {
		t.Fatalf("%d records (%v)", len(recs), err)
	}
	want := []struct {
		measurements []float64
		logs         []string
		threshold    float64
	}{
		{[]float64{1.02, 1, 0.98}, []string{"logs/0.log", "logs/0-run2.log", "logs/0-run3.log"}, 0},
		{[]float64{0.99, 1.02}, []string{"logs/1.log", "logs/1-run2.log"}, 0.03},
		{[]float64{0.95, 0.96}, []string{"logs/2.log", "logs/2-run2.log"}, 0.03},
		{[]float64{0.94, 0.96, 0.95}, []string{"logs/3.log", "logs/3-run2.log", "logs/3-run3.log"}, 0.03},
	}
	for i, w := range want {
		rec := recs[i]
		if !near(rec.Measurements, w.measurements) || !reflect.DeepEqual(rec.Logs, w.logs) || math.Abs(rec.Threshold-w.threshold) > 1e-9 {
			t.Errorf("record %d: measurements %v logs %v threshold %v, want %v %v %v", i, rec.Measurements, rec.Logs, rec.Threshold, w.measurements, w.logs, w.threshold)
		}
		if i > 0 && math.Abs(rec.Sigma-0.02) > 1e-9 {
			t.Errorf("record %d: sigma %v, want 0.02", i, rec.Sigma)
		}
	}
	if best, _ := r.Best(); math.Abs(best-0.955) > 1e-9 {
		t.Errorf("best %v, want the kept mean 0.955", best)
	}
	if !rep.logged("experiment 1: val_bpb 0.990000 against the best 1.000000 (threshold 0.030000): measuring again, run 2 of at most 3") {
		t.Errorf("the re-measurement was not announced: %q", rep.logs)
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
