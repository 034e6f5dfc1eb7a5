package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/results"
	"autoresearch/internal/testfs"
)

// A run folder with a baseline measured four times and two re-measured
// experiments: the table and the summary show the noise, the threshold, the
// re-measurements and each kept gain in sigmas.
func TestNoiseShownInTableAndSummary(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("results.tsv", "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"+
		"aaaaaaa\t1.000000\t0.1\tkeep\tbaseline\n"+
		"bbbbbbb\t0.995000\t0.1\tdiscard\tnear miss\n"+
		"ccccccc\t0.950000\t0.1\tkeep\treal gain\n")
	write("run.json", `{"version": 1, "noise": {"values": [0.98, 1.0, 1.0, 1.02], "sigma": 0.01633}}`+"\n")
	write("experiments.jsonl", `{"n":0,"status":"keep","threshold":0,"measurements":[0.98,1,1,1.02]}`+"\n"+
		`{"n":1,"status":"discard","threshold":0.03266,"measurements":[0.99,1.0]}`+"\n"+
		`{"n":2,"status":"abandoned"}`+"\n"+
		`{"n":2,"status":"keep","threshold":0.03266,"measurements":[0.94,0.96,0.95]}`+"\n")
	path := filepath.Join(dir, "results.tsv")
	n, err := ReadNoise(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Noise{Sigma: 0.01633, Runs: 4, Min: 0.98, Max: 1.02, Threshold: 0.03266, Remeasured: 2, ExtraRuns: 3}
	if *n != want {
		t.Fatalf("noise %+v, want %+v", *n, want)
	}
	f, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := Analyze(f)
	a.Noise = n
	var table, md bytes.Buffer
	if err := Table(&table, a, path); err != nil {
		t.Fatal(err)
	}
	line := "noise: sigma 0.016330 over 4 baseline runs (0.980000 to 1.020000); a change must beat the best by 0.032660; 2 experiments re-measured (3 extra runs)"
	if !strings.Contains(table.String(), line+"\n") || !strings.Contains(table.String(), "-0.050000  real gain (3.1 sigma)") {
		t.Errorf("the table lacks the noise:\n%s", table.String())
	}
	if err := WriteMarkdown(&md, a, nil, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| noise | "+strings.TrimPrefix(line, "noise: ")+" |") || !strings.Contains(md.String(), "| -0.050000 (3.1 sigma) | real gain |") {
		t.Errorf("the summary lacks the noise:\n%s", md.String())
	}
}

// A results file on its own, or a run measured once without a threshold,
// has no noise to show.
func TestNoNoise(t *testing.T) {
	dir := t.TempDir()
	testfs.WriteFile(t, filepath.Join(dir, "run.json"), []byte(`{"version": 1}`), 0o644)
	testfs.WriteFile(t, filepath.Join(dir, "experiments.jsonl"), []byte(`{"n":1,"status":"keep","threshold":0,"measurements":[0.9]}`+"\n"), 0o644)
	for _, p := range []string{filepath.Join(dir, "results.tsv"), filepath.Join(t.TempDir(), "results.tsv")} {
		if n, err := ReadNoise(p); n != nil || err != nil {
			t.Errorf("%s: noise %+v, %v; want none", p, n, err)
		}
	}
}

func TestNoiseLineNamesOutliers(t *testing.T) {
	dir := t.TempDir()
	testfs.WriteFile(t, filepath.Join(dir, "run.json"), []byte(`{"noise": {"values": [0.6, 0.61, 1.0], "sigma": 0.007, "outliers": [1.0]}}`), 0o644)
	n, err := ReadNoise(filepath.Join(dir, "results.tsv"))
	if err != nil || n == nil || n.Line() != "noise: sigma 0.007000 over 3 baseline runs (0.600000 to 1.000000, 1 outlier left out)" {
		t.Errorf("noise %+v (%v): %q", n, err, n.Line())
	}
}

// A re-check of the best is a line of experiments.jsonl with status recheck,
// numbered like the experiment after it: no experiment to the page, the
// noise, the workers or a proposer's count.
func TestRecheckLinesAreNoExperiments(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("results.tsv", "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"+
		"aaaaaaa\t1.000000\t0.1\tkeep\tbaseline\n"+
		"bbbbbbb\t0.950000\t0.1\tkeep\treal gain\n"+
		"ccccccc\t0.990000\t0.1\tdiscard\tno gain\n")
	write("experiments.jsonl", `{"n":0,"status":"keep","measurements":[0.98,1,1.02]}`+"\n"+
		`{"n":1,"status":"keep","proposer":"sweep","worker":1,"threshold":0.03,"measurements":[0.94,0.96]}`+"\n"+
		`{"n":2,"status":"recheck","commit":"bbbbbbb","description":"re-check of the best (experiment 1)","measurements":[1.0,0.98,1.02],"drift":4.6,"rebaselined":true}`+"\n"+
		`{"n":2,"status":"discard","proposer":"sweep","worker":1,"threshold":0.03,"measurements":[0.99]}`+"\n")
	recs, use, err := readRecords(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if recs[2] == nil || recs[2].Status != "discard" || len(use) != 1 || use[0].Experiments != 2 {
		t.Errorf("record 2 %+v, proposers %+v: want the discard, and 2 experiments of sweep", recs[2], use)
	}
	n, err := ReadNoise(filepath.Join(dir, "results.tsv"))
	if err != nil || n == nil || n.Remeasured != 1 || n.ExtraRuns != 1 {
		t.Errorf("noise %+v (%v): want 1 experiment re-measured, 1 extra run", n, err)
	}
	w, err := ReadWorkers(filepath.Join(dir, "results.tsv"))
	if err != nil || w == nil || w.Counts[1] == nil || w.Counts[1].Experiments != 2 {
		t.Errorf("workers %+v (%v): want worker 1's 2 experiments", w, err)
	}
}
