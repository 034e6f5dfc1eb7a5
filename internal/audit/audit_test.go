package audit

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// runsOf makes fresh runs of the given values.
func runsOf(vs ...float64) []Run {
	out := make([]Run, len(vs))
	for i, v := range vs {
		out[i] = Run{Value: v}
	}
	return out
}

// twoPrograms is an audit of a baseline logged at 1.0 and a best logged at
// 0.905, with the fresh runs given.
func twoPrograms(base, best []float64) *Audit {
	return &Audit{Tag: "t", Metric: "val_bpb", LowerIsBetter: true, Runs: len(base), Programs: []Program{
		{N: 0, Commit: "aaaaaaaaaa", Description: "baseline", Logged: 1.0, Fresh: runsOf(base...)},
		{N: 4, Commit: "bbbbbbbbbb", Description: "VALUE 0.9", Logged: 0.905, Fresh: runsOf(best...)},
	}}
}

// The fraction held and its interval, worked by hand: fresh means 1.0 and
// 0.9 (gain 0.1 against a logged 0.095), each from three runs with a
// sample standard deviation of 0.01, so the gain's standard error is
// sqrt(2 × 0.01²/3), Welch's degrees of freedom are 4, and the t quantile
// at 97.5 % with 4 degrees of freedom is 2.776445 (any table of Student's
// t).
func TestHeldByHand(t *testing.T) {
	s := twoPrograms([]float64{1.01, 0.99, 1.00}, []float64{0.90, 0.91, 0.89}).Summarize()
	se := math.Sqrt(2 * 0.01 * 0.01 / 3)
	half := 2.776445 * se / 0.095
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"logged gain", s.LoggedGain, 0.095},
		{"fresh gain", s.Gain.Delta, 0.1},
		{"its standard error", s.Gain.SE, se},
		{"degrees of freedom", s.Gain.DF, 4},
		{"held", s.Held, 0.1 / 0.095},
		{"low", s.Low, 0.1/0.095 - half},
		{"high", s.High, 0.1/0.095 + half},
	} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s: %.9f, want %.9f", c.name, c.got, c.want)
		}
	}
	if s.BaseFresh.Runs != 3 || math.Abs(s.BaseFresh.SD-0.01) > 1e-12 || math.Abs(s.BestFresh.SE-0.01/math.Sqrt(3)) > 1e-12 {
		t.Errorf("estimates %+v %+v", s.BaseFresh, s.BestFresh)
	}
}

// The interval keeps its promise: over many simulated audits of programs
// with known means (and unequal spreads), the 95 % interval around the
// fraction held covers the true fraction about 95 % of the time.
func TestIntervalCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const trials = 4000
	truth := (1.0 - 0.93) / 0.095 // the fresh gain in truth over the logged one
	covered := 0
	for range trials {
		base, best := make([]float64, 5), make([]float64, 5)
		for i := range base {
			base[i] = 1.0 + 0.02*rng.NormFloat64()
			best[i] = 0.93 + 0.005*rng.NormFloat64()
		}
		s := twoPrograms(base, best).Summarize()
		if s.Low <= truth && truth <= s.High {
			covered++
		}
	}
	if f := float64(covered) / trials; f < 0.935 || f > 0.965 {
		t.Errorf("the 95 %% interval covered the truth in %.1f %% of %d audits", 100*f, trials)
	}
}

func TestStepsHeldOrNot(t *testing.T) {
	a := &Audit{Tag: "t", Metric: "sharpe", LowerIsBetter: false, Runs: 3, Each: true, Programs: []Program{
		{N: 0, Commit: "c0", Description: "baseline", Logged: 1.0, Fresh: runsOf(1.0, 1.1, 0.9)},
		{N: 2, Commit: "c2", Description: "a real gain", Logged: 1.5, Fresh: runsOf(1.5, 1.6, 1.4)},
		{N: 5, Commit: "c5", Description: "a lucky one", Logged: 1.8, Fresh: runsOf(1.6, 1.4, 1.5)},
		{N: 7, Commit: "c7", Description: "one run crashed", Logged: 2.0, Fresh: []Run{{Value: 2.0}, {Crash: "runtime"}, {Crash: "runtime"}}},
	}}
	s := a.Summarize()
	if len(s.Steps) != 3 {
		t.Fatalf("%d steps", len(s.Steps))
	}
	want := []struct {
		verdict       string
		logged, fresh float64
	}{{"yes", 0.5, 0.5}, {"NO", 0.3, 0}, {"?", 0.2, 0.5}}
	for i, w := range want {
		st := s.Steps[i]
		if st.Verdict() != w.verdict || math.Abs(st.Logged-w.logged) > 1e-9 || math.Abs(st.Fresh.Delta-w.fresh) > 1e-9 {
			t.Errorf("step %d: %s, logged %+.3f, fresh %+.3f; want %s %+.3f %+.3f", i, st.Verdict(), st.Logged, st.Fresh.Delta, w.verdict, w.logged, w.fresh)
		}
	}
	if f := s.Failed(); len(f) != 1 || a.Programs[f[0].Program].N != 5 {
		t.Errorf("failed steps %+v", f)
	}
	if c := a.Conclusion(s); !strings.Contains(c, "1 of 3 kept changes did not hold (#5)") {
		t.Errorf("conclusion %q", c)
	}
	// Higher is better here: the best's gain over the baseline is positive.
	if s.LoggedGain != 1.0 || math.Abs(s.Gain.Delta-1.0) > 1e-9 {
		t.Errorf("gains %v %v", s.LoggedGain, s.Gain.Delta)
	}
	if e := a.Estimate(3); e.Runs != 1 || e.Crashed != 2 || !math.IsNaN(e.SE) || e.Count() != "1 run, 2 crashed" {
		t.Errorf("estimate of the crashing program %+v", e)
	}
}

// A deterministic program: no spread, so a step held exactly when it is
// better at all, and the fraction's interval is the fraction.
func TestNoSpread(t *testing.T) {
	a := &Audit{Tag: "t", Metric: "ns", LowerIsBetter: true, Runs: 2, Each: true, Programs: []Program{
		{N: 0, Logged: 10, Fresh: runsOf(10, 10)},
		{N: 1, Logged: 8, Fresh: runsOf(8, 8)},
		{N: 2, Logged: 7, Fresh: runsOf(8, 8)},
	}}
	s := a.Summarize()
	if s.Steps[0].Verdict() != "yes" || s.Steps[1].Verdict() != "NO" {
		t.Errorf("verdicts %s %s", s.Steps[0].Verdict(), s.Steps[1].Verdict())
	}
	if math.Abs(s.Held-2.0/3) > 1e-12 || s.Low != s.Held || s.High != s.Held {
		t.Errorf("held %v [%v, %v]", s.Held, s.Low, s.High)
	}
	if !strings.Contains(s.HeldLine(), "did not vary") {
		t.Errorf("held line %q", s.HeldLine())
	}
}

func TestPlanInterleavesAndGoesOn(t *testing.T) {
	a := &Audit{Runs: 3, Programs: make([]Program, 3)}
	var order []int
	for _, j := range a.Plan() {
		order = append(order, j.Program)
	}
	if want := []int{0, 1, 2, 2, 1, 0, 0, 1, 2}; !reflect.DeepEqual(order, want) {
		t.Errorf("plan %v, want %v", order, want)
	}
	// Cut short after three runs (0, 1, 2): the rest is what was left.
	a.Programs[0].Fresh, a.Programs[1].Fresh, a.Programs[2].Fresh = runsOf(1), runsOf(1), runsOf(1)
	want := []Job{{2, 2}, {1, 2}, {0, 2}, {0, 3}, {1, 3}, {2, 3}}
	if got := a.Plan(); !reflect.DeepEqual(got, want) {
		t.Errorf("plan after three runs %v, want %v", got, want)
	}
}

func TestWriteReadAndTable(t *testing.T) {
	dir := t.TempDir()
	if a, err := Read(dir); a != nil || err != nil {
		t.Fatalf("no audit yet: %v %v", a, err)
	}
	a := twoPrograms([]float64{1.01, 0.99, 1.00}, []float64{0.90, 0.91, 0.89})
	a.Each, a.Complete, a.Seconds, a.RunSeconds = true, true, 75, 610
	if err := a.Write(dir); err != nil {
		t.Fatal(err)
	}
	b, err := Read(dir)
	if err != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("read back %+v, %v", b, err)
	}
	var out bytes.Buffer
	if err := WriteTable(&out, b); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"3 fresh runs each of every kept commit (2), interleaved, one at a time; 6 runs in 1 min 15 s (the run took 10 min 10 s)",
		"baseline #0  1.000000",
		"best #4      0.905000",
		"gain         0.095000 (9.50 %)  0.100000 ± 0.008165 (10.00 %)",
		"1.000000 ± 0.005774",
		"0.100000 ± 0.008165 (10.00 %)",
		"held: 105.3 % of the logged gain, 95 % interval 81.4 % to 129.1 % (Welch's t-interval of the fresh gain, 4.0 degrees of freedom)",
		"4  bbbbbbb  -0.095000     -0.100000 ± 0.008165  yes   VALUE 0.9",
		"Every kept change held",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "interrupted") {
		t.Errorf("a complete audit said it was interrupted:\n%s", text)
	}
	b.Complete = false
	if st := b.State(); !strings.Contains(st, "interrupted after 6 of 6 runs") || !strings.Contains(st, "autoresearch audit --tag t --runs 3 --each") {
		t.Errorf("state %q", st)
	}
	if err := os.WriteFile(filepath.Join(dir, File), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("a damaged audit.json: %v", err)
	}
}
