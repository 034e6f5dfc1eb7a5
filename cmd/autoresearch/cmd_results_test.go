package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
)

// execute runs the root command with args and returns its output and error.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// newRunRepo makes a repository folder holding runs with the given
// results.tsv contents, the last one modified most recently, and changes into
// a folder below its root.
func newRunRepo(t *testing.T, runs ...[2]string) string {
	t.Helper()
	root := t.TempDir()
	if _, err := git.PlainInit(root, false); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-time.Hour)
	for _, r := range runs {
		dir := filepath.Join(root, ".autoresearch", r[0])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "results.tsv")
		if err := os.WriteFile(path, []byte(r[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, when, when); err != nil {
			t.Fatal(err)
		}
		when = when.Add(time.Minute)
	}
	sub := filepath.Join(root, "gpt")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	return root
}

const header = "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"

func TestResultsCommand(t *testing.T) {
	newRunRepo(t,
		[2]string{"nov25", header + "aaaaaaa\t1.500000\t1.0\tkeep\tbaseline of nov25\n"},
		[2]string{"nov26", header + "bbbbbbb\t1.200000\t1.0\tkeep\tbaseline\nccccccc\t1.100000\t1.0\tkeep\tdeeper\n"},
	)
	out, _, err := execute(t, "results")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, filepath.Join(".autoresearch", "nov26", "results.tsv")) || !strings.Contains(out, "* best: #1 ccccccc") {
		t.Errorf("latest run not shown:\n%s", out)
	}
	out, _, err = execute(t, "results", "--tag", "nov25")
	if err != nil || !strings.Contains(out, "baseline of nov25") {
		t.Errorf("--tag nov25: %v\n%s", err, out)
	}
	_, _, err = execute(t, "results", "--tag", "dec01")
	var u *usageError
	if err == nil || !strings.Contains(err.Error(), `no run "dec01"`) || errors.As(err, &u) {
		t.Errorf("unknown tag: %v, want a plain error naming the tag", err)
	}
	_, _, err = execute(t, "results", "--tag", "nov25", "--file", "x.tsv")
	if !errors.As(err, &u) {
		t.Errorf("--tag with --file: %v, want a usage error", err)
	}
}

func TestResultsCommandMalformedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := os.WriteFile(path, []byte(header+"aaaaaaa\t1.5\t1.0\tkeep\tbaseline\nbbbbbbb\t1.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := execute(t, "results", "--file", path)
	if err == nil || !strings.Contains(err.Error(), path+":3: want 5 tab-separated columns") {
		t.Errorf("error %v, want one naming line 3", err)
	}
}

func TestResultsFollowStopsCleanlyOnInterrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.tsv")
	if err := os.WriteFile(path, []byte(header+"aaaaaaa\t1.5\t1.0\tkeep\tbaseline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := runResults(ctx, resultsOptions{File: path, Follow: true, Dir: ".", Poll: time.Millisecond}, &out)
	if err != nil || !strings.Contains(out.String(), "baseline") {
		t.Errorf("follow after interrupt: %v\n%s", err, out.String())
	}
}

func TestReportCommand(t *testing.T) {
	root := newRunRepo(t, [2]string{"nov26", header +
		"bbbbbbb\t1.200000\t1.0\tkeep\tbaseline\nccccccc\t0.000000\t0.0\tcrash\tOOM\nddddddd\t1.100000\t1.0\tkeep\tdeeper\n"})
	jsonl := `{"start":"2026-11-26T22:00:00Z","end":"2026-11-26T23:00:00Z","prompt_tokens":100,"completion_tokens":20}` + "\n"
	if err := os.WriteFile(filepath.Join(root, ".autoresearch", "nov26", "experiments.jsonl"), []byte(jsonl), 0o644); err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(t.TempDir(), "chart.png")
	out, errOut, err := execute(t, "report", "-o", chart)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# autoresearch run nov26", "![progress](" + chart + ")", "| LLM tokens | 120 (100 prompt, 20 completion) |", "| wall time | 1 h 00 min"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "wrote "+chart) {
		t.Errorf("stderr %q", errOut)
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 2400 || img.Bounds().Dy() != 1200 {
		t.Errorf("chart: %v, %v", err, img.Bounds())
	}

	_, _, err = execute(t, "report", "-o", "chart.svg")
	var u *usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), ".png") {
		t.Errorf("-o chart.svg: %v, want a usage error about .png", err)
	}
}
