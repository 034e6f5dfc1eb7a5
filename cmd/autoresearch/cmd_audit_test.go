package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"autoresearch/internal/agent/llmtest"
	"autoresearch/internal/audit"
	"autoresearch/internal/gitops/gittest"
)

// noisyRepo commits the experiment tests' noisy program (it reports VALUE
// plus the next offset of a file, counting its runs beside it) with a task
// file naming that file, and changes into it. Its runs need --sandbox off:
// the count lives outside any scratch folder.
func noisyRepo(t *testing.T, offsets []float64) string {
	t.Helper()
	var text strings.Builder
	for _, o := range offsets {
		fmt.Fprintf(&text, "%g\n", o)
	}
	file := filepath.Join(t.TempDir(), "offsets")
	if err := os.WriteFile(file, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := os.CopyFS(tmp, os.DirFS(filepath.Join("..", "..", "internal", "experiment", "testdata", "noisy"))); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf(`editable = ["gpt/train.go"]
build = ["go", "build", "-buildvcs=false", "-o", "{bin}", "./gpt"]
run = ["{bin}"]
budget = "1s"
env = { NOISE_FILE = %q }

[metric]
name = "val_bpb"
pattern = '^val_bpb:\s*([0-9.]+)'
direction = "lower"
`, file)
	if err := os.WriteFile(filepath.Join(tmp, "autoresearch.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := gittest.CommitTree(t, tmp, "the noisy task")
	t.Chdir(repo)
	return repo
}

// A night in small: a run whose first kept change was luck (the same
// program, two lucky runs) and whose second was real, run with --audit; then
// the audit of every kept commit, which says the lucky one did not hold, and
// results, show, report and the HTML page, which all include it.
func TestAuditCommandFindsTheLuckyKeep(t *testing.T) {
	// Baseline 1.01, 1.00, 0.99 (sigma 0.01); two runs decide
	// (--remeasure 1); experiment 1 (VALUE 1.00) draws 0.95 and 0.96, kept;
	// experiment 2 (VALUE 0.9) 0.90 and 0.91, kept. run --audit: 5 fresh runs each of the baseline and the best,
	// no noise. audit --each --runs 2, interleaved 0 1 2 2 1 0.
	offsets := []float64{0.01, 0, -0.01, -0.05, -0.04, 0, 0.01}
	offsets = append(offsets, make([]float64, 10)...)
	offsets = append(offsets, 0.01, -0.01, 0, 0, 0.01, -0.01)
	repo := noisyRepo(t, offsets)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Text("ready"),
		srv.Calls(edit("VALUE = 1.0 ", "VALUE = 1.00 ")), srv.Calls(submit("VALUE 1.0 -> 1.00")),
		srv.Calls(edit("VALUE = 1.00 ", "VALUE = 0.9 ")), srv.Calls(submit("VALUE 1.00 -> 0.9")),
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", llmtest.Key)
	program := filepath.Join(t.TempDir(), "program.md")
	if err := os.WriteFile(program, []byte("lower val_bpb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "baseline", "--tag", "n1", "--repeat", "3", "--sandbox", "off"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runCLI(t, "run", "--tag", "n1", "--model", "test-model", "--program", program, "--sandbox", "off",
		"--max-experiments", "2", "--remeasure", "1", "--audit")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"stopped: max-experiments reached. 3 experiments, best val_bpb 0.905000",
		"auditing run n1: its baseline and its best, 5 fresh runs each",
		"5 fresh runs each of the baseline and the final best, interleaved, one at a time",
		"baseline #0  1.000000           1.000000 ± 0.000000            5 runs",
		"held: 105.3 % of the logged gain (the fresh runs did not vary",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run --audit lacks %q:\n%s", want, out)
		}
	}

	out, err = runCLI(t, "audit", "--each", "--runs", "2", "--sandbox", "off")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lucky := regexp.MustCompile(`(?m)^ +1 +[0-9a-f]{7} +-0\.045000 +[+-]0\.000000 ± 0\.014142 +NO +VALUE 1\.0 -> 1\.00$`)
	real := regexp.MustCompile(`(?m)^ +2 +[0-9a-f]{7} +-0\.050000 +-0\.100000 ± 0\.010000 +yes +VALUE 1\.00 -> 0\.9$`)
	if !lucky.MatchString(out) || !real.MatchString(out) || !strings.Contains(out, "audit: replacing the audit of") ||
		!strings.Contains(out, "1 of 2 kept changes did not hold (#1): the fresh delta is not better than the parent's by at least one standard error") {
		t.Errorf("audit --each said:\n%s", out)
	}
	a, err := audit.Read(filepath.Join(repo, ".autoresearch", "n1"))
	if err != nil || a == nil || !a.Complete || a.Measured() != 6 || !a.Each {
		t.Fatalf("audit.json: %+v, %v", a, err)
	}

	out, err = runCLI(t, "results")
	if err != nil || !lucky.MatchString(out) || !strings.Contains(out, "audit of run n1") {
		t.Errorf("results (%v):\n%s", err, out)
	}
	out, err = runCLI(t, "show", "1")
	if err != nil || !strings.Contains(out, "audit delta   against #0: logged -0.045000, fresh ") ||
		!strings.Contains(out, "did NOT hold, the fresh delta is not better than #0's by at least one standard error") ||
		!strings.Contains(out, "audit         1.000000 ± 0.010000 fresh (2 runs: 0.990000, 1.010000), logged 0.955000") {
		t.Errorf("show 1 (%v):\n%s", err, out)
	}
	out, err = runCLI(t, "report", "-o", filepath.Join(t.TempDir(), "p.png"))
	if err != nil || !strings.Contains(out, "## Audit") || !strings.Contains(out, "| 1 | ") || !strings.Contains(out, "| NO |") ||
		!strings.Contains(out, "| audit | 105.3 % of the logged gain held") {
		t.Errorf("report (%v):\n%s", err, out)
	}
	page := filepath.Join(t.TempDir(), "n1.html")
	if out, err := runCLI(t, "report", "--html", "--out", page); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(b), `<section id="audit">`) || !strings.Contains(string(b), `<tr class="worse"><td class="num"><a href="#exp-1">1</a></td>`) {
		t.Errorf("the page's audit section (%v)", err)
	}
}

func TestAuditCommandErrors(t *testing.T) {
	repo := toyRepo(t)
	t.Chdir(repo)
	if out, err := runCLI(t, "baseline", "--tag", "e1", "--repeat", "1", "--device", "cpu"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		msg  string
		code int
	}{
		{[]string{"audit", "--runs", "1"}, "--runs 1: give 2 or more", 2},
		{[]string{"audit", "--workers", "-1"}, "--workers cannot be negative", 2},
		{[]string{"audit", "--tag", "nope"}, "nope", 1},
		{[]string{"audit", "--tag", "e1"}, "run e1 has kept no change beyond its baseline: there is no gain to audit", 1},
	} {
		_, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) || exitCode(err) != c.code {
			t.Errorf("%v: %v (exit %d), want %q and exit %d", c.args, err, exitCode(err), c.msg, c.code)
		}
	}
}
