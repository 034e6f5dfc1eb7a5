package experiment

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"autoresearch/internal/audit"
	"autoresearch/internal/results"
)

// cancelAfter is a reporter that ends a context once it has logged n lines
// containing sub.
type cancelAfter struct {
	recorder
	sub    string
	n      int
	cancel context.CancelFunc
	mu     sync.Mutex
	seen   int
}

func (c *cancelAfter) Logf(format string, args ...any) {
	c.recorder.Logf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Contains(fmt.Sprintf(format, args...), c.sub) {
		if c.seen++; c.seen == c.n {
			c.cancel()
		}
	}
}

// runFiles are the run's own records and its branch: what an audit must
// leave as they are.
func runFiles(t *testing.T, r *Run) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{ResultsFile, RecordsFile} {
		data, err := os.ReadFile(filepath.Join(r.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	u, err := git.PlainOpen(r.Config.Repo)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := u.Reference(plumbing.NewBranchReferenceName(r.Config.Branch), false)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "user's branch %s, run's clone %s, kept %s\n", ref.Hash(), head, r.Kept())
	return b.String()
}

// A run keeps a change that is no better in truth (its two runs drew lucky
// noise) and then a real one. The audit of every kept commit, stopped half
// way and continued, says the first did not hold and the second did, and
// touches nothing of the run.
func TestAuditFindsALuckyKeep(t *testing.T) {
	t.Parallel()
	// Baseline 1.01, 1.00, 0.99: mean 1.0, sigma 0.01 (2 degrees of
	// freedom). Two runs decide (one re-measurement): the margin is 2
	// standard errors on the normal scale, 4.53 on Student's t with 2
	// degrees of freedom, times 0.01 × sqrt(1/3 + 1/2): 0.041.
	// Experiment 1 (VALUE 1.00, the same program): 0.95, 0.96, kept at 0.955.
	// Experiment 2 (VALUE 0.9): 0.90, 0.91, kept at 0.905 (sigma pooled to
	// 0.0091 over 3 degrees of freedom, the best of 2 runs: margin 0.03).
	// The audit, three runs each, interleaved 0 1 2 2 1 0 0 1 2, drawing
	// the offsets after those in turn.
	logged := "0.01 0 -0.01  -0.05 -0.04  0 0.01"
	fresh := []float64{0.01, -0.01, 0, 0.01, 0.01, -0.01, 0, 0, -0.01}
	offsets := logged
	for _, f := range fresh {
		offsets += fmt.Sprintf(" %g", f)
	}
	cfg := noisyConfig(t, offsets)
	cfg.BaselineRepeats = 3
	r, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Sandbox = noisySandbox
	p := newScripted(t,
		idea{desc: "VALUE 1.0 -> 1.00", edit: set(t, "VALUE", "1.00")},
		idea{desc: "VALUE 1.00 -> 0.9", edit: set(t, "VALUE", "0.9")},
	)
	// One re-measurement: each change is decided on its two runs.
	if _, err := r.Loop(context.Background(), Options{Proposer: p, NoiseMultiplier: 2, Remeasure: 1}); err != nil {
		t.Fatal(err)
	}
	if f, _ := results.ReadFile(filepath.Join(r.Dir, ResultsFile)); len(f.Rows) != 3 || f.Rows[1].Status != results.Keep || f.Rows[2].Status != results.Keep {
		t.Fatalf("the run did not keep both changes: %+v", f.Rows)
	}
	before := runFiles(t, r)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep := &cancelAfter{sub: "audit: #", n: 4, cancel: cancel}
	r.Reporter = rep
	o := AuditOptions{Runs: 3, Each: true}
	a, err := r.Audit(ctx, o)
	if err != context.Canceled || a == nil || a.Measured() != 4 || a.Complete {
		t.Fatalf("the audit stopped after 4 runs: %v, %+v", err, a)
	}
	onDisk, err := audit.Read(r.Dir)
	if err != nil || onDisk == nil || onDisk.Measured() != 4 || onDisk.Complete {
		t.Fatalf("audit.json after the stop: %+v, %v", onDisk, err)
	}
	r.Reporter = &rep.recorder
	if a, err = r.Audit(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !rep.recorder.logged("audit: going on with the audit of") {
		t.Errorf("the second audit did not say it went on: %q", rep.recorder.logs)
	}
	if after := runFiles(t, r); after != before {
		t.Errorf("the audit changed the run:\nbefore %s\nafter %s", before, after)
	}

	// Each program's fresh runs are the offsets drawn in the plan's order.
	want := [][]float64{{1.0 + fresh[0], 1.0 + fresh[5], 1.0 + fresh[6]}, {1.0 + fresh[1], 1.0 + fresh[4], 1.0 + fresh[7]}, {0.9 + fresh[2], 0.9 + fresh[3], 0.9 + fresh[8]}}
	if !a.Complete || len(a.Programs) != 3 {
		t.Fatalf("audit %+v", a)
	}
	for i, p := range a.Programs {
		var got []float64
		for _, run := range p.Fresh {
			got = append(got, run.Value)
			if _, err := os.Stat(filepath.Join(r.Dir, run.Log)); err != nil || !strings.HasPrefix(run.Log, "logs/audit-") {
				t.Errorf("program %d: log %q: %v", i, run.Log, err)
			}
		}
		if !near(got, want[i]) {
			t.Errorf("program #%d: fresh %v, want %v", p.N, got, want[i])
		}
	}
	if a.Programs[1].Logged != 0.955 || !near(a.Programs[1].LoggedRuns, []float64{0.95, 0.96}) || a.Programs[0].Commit != r.Config.BaseCommit || a.Programs[2].Commit != r.Kept() {
		t.Errorf("programs %+v", a.Programs)
	}
	s := a.Summarize()
	if v := []string{s.Steps[0].Verdict(), s.Steps[1].Verdict()}; !slices.Equal(v, []string{"NO", "yes"}) {
		t.Errorf("verdicts %v, want the lucky keep not held and the real one held", v)
	}
	if math.Abs(s.Held-0.1/0.095) > 1e-9 {
		t.Errorf("held %v", s.Held)
	}
	var table bytes.Buffer
	if err := audit.WriteTable(&table, a); err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^ +1 +[0-9a-f]{7} +-0\.045000 +[+-]0\.000000 ± 0\.008165 +NO +VALUE 1\.0 -> 1\.00$`)
	if !strings.Contains(table.String(), "1 of 2 kept changes did not hold (#1)") || !row.MatchString(table.String()) {
		t.Errorf("the table does not say so:\n%s", table.String())
	}
}

// The building block: a commit measured k times, as many at once as there
// are slots, each slot with its own share of the machine, and nothing of
// the run changed.
func TestMeasurerRunsSlotsAtOnce(t *testing.T) {
	t.Parallel()
	r, err := Setup(toyConfig(newUserRepo(t), "m1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := runFiles(t, r)
	env := [][]string{{"AUTORESEARCH_PROFILE=slot-one"}, {"AUTORESEARCH_PROFILE=slot-two"}}
	m, err := r.NewMeasurer("probe", 2, env)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := m.Measure(context.Background(), r.Config.BaseCommit, 4)
	if err != nil {
		t.Fatal(err)
	}
	if v := Values(ms); !slices.Equal(v, []float64{1, 1, 1, 1}) {
		t.Errorf("values %v, want the toy's 1.0 four times", v)
	}
	slots, labels := map[int]bool{}, map[string]bool{}
	for _, x := range ms {
		slots[x.Slot] = true
		labels[x.Label] = true
		log, err := os.ReadFile(filepath.Join(r.Dir, x.Log))
		if err != nil {
			t.Fatal(err)
		}
		if want := "profile " + strings.TrimPrefix(env[x.Slot-1][0], "AUTORESEARCH_PROFILE="); !strings.Contains(string(log), want) {
			t.Errorf("slot %d's run %s does not show its share (%q):\n%s", x.Slot, x.Log, want, log)
		}
		if x.Figures["training_seconds"] <= 0 || x.Seconds <= 0 {
			t.Errorf("measurement %+v lacks its figures or time", x)
		}
	}
	if len(slots) != 2 || len(labels) != 4 || !labels["probe-"+short(r.Config.BaseCommit)+"-4"] {
		t.Errorf("slots %v, labels %v", slots, labels)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, WorkersDir, "probe", "2", WorktreeDir)); err != nil {
		t.Errorf("slot 2 has no clone of its own: %v", err)
	}
	if after := runFiles(t, r); after != before {
		t.Errorf("measuring changed the run:\nbefore %s\nafter %s", before, after)
	}

	// Only the run's commits, and only those that keep the locked paths.
	if _, err := m.Measure(context.Background(), strings.Repeat("ab", 20), 1); err == nil || !strings.Contains(err.Error(), "not in run m1's clone") {
		t.Errorf("an unknown commit: %v", err)
	}
	appendTo(t, filepath.Join(r.Worktree(), "harness", "harness.go"), "\nvar Cheat = true\n")
	bad, err := r.repo.Commit("edits the harness", r.Kept(), []string{"harness/harness.go"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Measure(context.Background(), bad, 1); err == nil || !strings.Contains(err.Error(), "harness/harness.go") || !strings.Contains(err.Error(), "not measured") {
		t.Errorf("a commit that edits the harness: %v", err)
	}
	if _, err := r.NewMeasurer("3", 1, nil); err == nil {
		t.Error("a measurer named like a loop's worker was opened")
	}
}

// A run that kept nothing has no gain to audit, and says so.
func TestAuditWithoutKeeps(t *testing.T) {
	t.Parallel()
	r, err := Setup(toyConfig(newUserRepo(t), "k0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Audit(context.Background(), AuditOptions{}); err == nil || !strings.Contains(err.Error(), "kept no change beyond its baseline") {
		t.Errorf("audit of a run without keeps: %v", err)
	}
	if a, _ := audit.Read(r.Dir); a != nil {
		t.Errorf("it wrote an audit: %+v", a)
	}
}
