package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"autoresearch/harness"
	"autoresearch/internal/experiment"
	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/testfs"
)

// toyRepo makes a git repository holding the experiment tests' toy task (a
// gpt/train.go that prints a summary block) and prepared-data stand-ins for
// the smoke profile, so the commands run without the real trainer.
func toyRepo(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv(harness.EnvHome, home)
	t.Setenv(harness.EnvProfile, "")
	smoke := filepath.Join(home, "smoke")
	if err := os.MkdirAll(smoke, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(smoke, harness.MetaFile), []byte(`{"profile":"smoke","vocab_size":512}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{harness.TokenizerFile, harness.TrainFile, harness.ValFile} {
		if err := os.WriteFile(filepath.Join(smoke, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return gittest.CommitTree(t, filepath.Join("..", "..", "internal", "experiment", "testdata", "toy"), "toy")
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

var sweepRow = regexp.MustCompile(`^(VALUE|SLEEP) \S+ -> \S+$`)

func TestBaselineThenSweepRunThenResume(t *testing.T) {
	repo := toyRepo(t)
	out, err := runCLI(t, "baseline", "--repo", repo, "--tag", "t1", "--device", "cpu")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// Smoke's short budget: the baseline is measured 8 times by default.
	if !strings.Contains(out, "baseline val_bpb 1.000000 (mean of 8 runs, sigma 0.000000) recorded") || !strings.Contains(out, "next: autoresearch run --tag t1") {
		t.Errorf("baseline said:\n%s", out)
	}
	if _, err := runCLI(t, "baseline", "--repo", repo, "--tag", "t1", "--device", "cpu"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second baseline on t1: %v", err)
	}
	out, err = runCLI(t, "run", "--repo", repo, "--tag", "t1", "--agent", "sweep", "--seed", "5", "--max-experiments", "3")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "stopped: max-experiments reached. 4 experiments") {
		t.Errorf("run said:\n%s", out)
	}
	out, err = runCLI(t, "run", "--repo", repo, "--tag", "t1", "--agent", "sweep", "--seed", "5", "--max-experiments", "1", "--profile", "smoke", "--device", "cpu")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "resuming run t1 at experiment 4") {
		t.Errorf("second run said:\n%s", out)
	}
	f, err := results.ReadFile(filepath.Join(repo, ".autoresearch", "t1", "results.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) != 5 || f.Rows[0].Description != "baseline" {
		t.Fatalf("rows %+v", f.Rows)
	}
	seen := map[string]bool{}
	for _, r := range f.Rows[1:] {
		if !sweepRow.MatchString(r.Description) || seen[r.Description] {
			t.Errorf("row %+v is not a fresh sweep change", r)
		}
		seen[r.Description] = true
		if strings.HasPrefix(r.Description, "VALUE 1.0 -> 0.5") && r.Status != results.Keep {
			t.Errorf("a lower val_bpb was not kept: %+v", r)
		}
	}
	// Inside the run's clone, run continues that run.
	out, err = runCLI(t, "run", "--repo", filepath.Join(repo, ".autoresearch", "t1", "worktree", "gpt"), "--agent", "sweep", "--max-experiments", "1")
	if err != nil || !strings.Contains(out, "resuming run t1 at experiment 5") {
		t.Errorf("run inside the clone: %v\n%s", err, out)
	}
	_, err = runCLI(t, "run", "--repo", repo, "--tag", "t1", "--agent", "sweep", "--profile", "cpu")
	if err == nil || !strings.Contains(err.Error(), "--profile only applies to a new run") || exitCode(err) != 2 {
		t.Errorf("--profile on an existing run: %v", err)
	}
	_, err = runCLI(t, "run", "--repo", repo, "--tag", "t1", "--agent", "sweep", "--repeat", "3")
	if err == nil || !strings.Contains(err.Error(), "and 8 baseline runs; --repeat only applies to a new run") || exitCode(err) != 2 {
		t.Errorf("--repeat on an existing run: %v", err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	repo := toyRepo(t)
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	cases := []struct {
		args []string
		msg  string
		code int
	}{
		{[]string{"run", "--repo", repo, "--agent", "gpt"}, `unknown --agent "gpt": use llm or sweep`, 2},
		{[]string{"run", "--repo", repo, "--agent", "llm"}, "no API key for https://api.openai.com/v1: set OPENAI_API_KEY", 1},
		{[]string{"run", "--repo", repo, "--temperature", "5"}, "--temperature 5 is out of range", 1},
		{[]string{"run", "--repo", repo, "--temperature", "warm"}, `invalid argument "warm" for "--temperature" flag: not a number`, 2},
		{[]string{"run", "--repo", repo, "--agent", "sweep", "--tag", "a b"}, "--tag: tag \"a b\" cannot name a branch", 2},
		{[]string{"run", "--repo", repo, "--max-experiments", "-1"}, "cannot be negative", 2},
		{[]string{"run", "--repo", repo, "--agent", "sweep", "--noise-multiplier", "-2"}, "--repeat, --noise-multiplier, --remeasure and --recheck-every cannot be negative", 2},
		{[]string{"baseline", "--repo", repo, "--repeat", "-1"}, "--repeat -1: give the number of baseline runs", 2},
		{[]string{"baseline", "--repo", repo, "--profile", "laptop"}, `--profile: unknown profile "laptop"`, 2},
		{[]string{"baseline", "--repo", repo, "--profile", "cpu", "--device", "cpu"}, `data not prepared for profile cpu`, 1},
		{[]string{"baseline", "--repo", t.TempDir()}, "not inside a git repository", 1},
	}
	for _, c := range cases {
		_, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) || exitCode(err) != c.code {
			t.Errorf("%v: error %v (exit %d), want %q (exit %d)", c.args, err, exitCode(err), c.msg, c.code)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, ".autoresearch", defaultTag())); !os.IsNotExist(err) {
		t.Errorf("a refused command left a run behind: %v", err)
	}
}

func TestTrainRunsTheProgramAsItIs(t *testing.T) {
	repo := toyRepo(t)
	t.Chdir(filepath.Join(repo, "gpt"))
	out, err := runCLI(t, "train", "--device", "cpu")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "profile smoke") || !strings.Contains(out, "val_bpb:          1.000000") {
		t.Errorf("train output:\n%s", out)
	}
	train := filepath.Join(repo, "gpt", "train.go")
	b := testfs.ReadFile(t, train)
	if err := os.WriteFile(train, bytes.Replace(b, []byte(`MODE  = "ok"`), []byte(`MODE  = "fail"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "train", "--device", "cpu"); err == nil || !strings.Contains(err.Error(), "the run failed (runtime: the program printed FAIL") {
		t.Errorf("a failing run: %v", err)
	}
	if err := os.WriteFile(train, append(b, []byte("\nfunc broken() { undefinedName() }\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "train", "--device", "cpu"); err == nil || !strings.Contains(err.Error(), "gpt/train.go does not build") ||
		!strings.Contains(err.Error(), "undefined: undefinedName") {
		t.Errorf("a broken build: %v", err)
	}
	if err := os.WriteFile(train, b, 0o644); err != nil {
		t.Fatal(err)
	}
	prepared := os.Getenv(harness.EnvHome)
	t.Setenv(harness.EnvHome, t.TempDir())
	if _, err := runCLI(t, "train", "--device", "cpu"); err == nil || !strings.Contains(err.Error(), `run "autoresearch prepare --profile smoke"`) {
		t.Errorf("unprepared data: %v", err)
	}
	t.Setenv(harness.EnvHome, prepared)
	t.Setenv("PATH", t.TempDir())
	_, err = runCLI(t, "train", "--device", "cpu")
	if !errors.Is(err, runner.ErrNoToolchain) || !strings.Contains(err.Error(), "install Go") {
		t.Errorf("train without a Go toolchain: %v", err)
	}
}

func TestBaselineInterrupted(t *testing.T) {
	// The toy program, committed with a training run that never ends.
	src := t.TempDir()
	os.CopyFS(src, os.DirFS(filepath.Join("..", "..", "internal", "experiment", "testdata", "toy")))
	train := filepath.Join(src, "gpt", "train.go")
	b := testfs.ReadFile(t, train)
	if err := os.WriteFile(train, bytes.Replace(b, []byte(`MODE  = "ok"`), []byte(`MODE  = "hang"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	toyRepo(t) // the prepared-data stand-ins
	repo := gittest.CommitTree(t, src, "toy that hangs")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &watcher{mark: "experiment 0: training", hook: cancel}
	root := newRootCmd()
	root.SetOut(out)
	root.SetErr(out)
	root.SetArgs([]string{"baseline", "--repo", repo, "--tag", "t1", "--device", "cpu"})
	err := root.ExecuteContext(ctx)
	if exitCode(err) != 130 || err.Error() != `baseline interrupted; nothing was recorded: continue with "autoresearch run --tag t1", which runs the baseline first` {
		t.Errorf("interrupted baseline: %v (exit %d)\n%s", err, exitCode(err), out.buf.String())
	}
}

// A run set up before run.json kept its task under "task" (version 1, the
// GPT task implied) resumes: its run.json is read, the built-in task's words
// and lines are filled in, and the next experiment is numbered after the
// rows it has.
func TestRunResumesARunOfVersion1(t *testing.T) {
	repo := toyRepo(t)
	if out, err := runCLI(t, "baseline", "--repo", repo, "--tag", "old", "--device", "cpu", "--repeat", "1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dir := experiment.Dir(repo, "old")
	cfg, err := experiment.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	// run.json as version 1 wrote it.
	tk := cfg.Task
	v1 := map[string]any{
		"version": 1, "tag": cfg.Tag, "repo": cfg.Repo, "branch": cfg.Branch, "base_commit": cfg.BaseCommit,
		"profile": tk.Profile, "device": tk.Device.Name, "editable": tk.Editable, "shared": tk.Shared,
		"build": tk.Build, "run": map[string]any{"argv": tk.Run.Argv, "env": tk.Run.Env}, "readable": tk.Readable,
		"limits": tk.Limits, "metric": tk.Metric, "memory_keys": tk.Memory.Keys, "budget_seconds": tk.BudgetSeconds,
		"eval_allowance_seconds": tk.AllowanceSeconds, "hard_limit_seconds": tk.HardLimitSeconds, "created": cfg.Created,
	}
	b, err := json.MarshalIndent(v1, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testfs.WriteFile(t, filepath.Join(dir, experiment.ConfigFile), b, 0o644)

	out, err := runCLI(t, "run", "--repo", repo, "--tag", "old", "--agent", "sweep", "--max-experiments", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "resuming run old at experiment 1") || !strings.Contains(out, "stopped: max-experiments reached. 2 experiments") {
		t.Errorf("resume said:\n%s", out)
	}
	r, err := experiment.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Config.Task; got.Source != experiment.V1GPT || got.Metric.Name != "val_bpb" || got.HardLimit() != tk.HardLimit() {
		t.Errorf("the version 1 run.json read as %+v", got)
	}
	upgradeV1GPT(&r.Config.Task)
	if got := r.Config.Task; got.Source != "gpt" || got.FailLine != "FAIL" || got.Progress == "" || got.Prompt.What == "" || len(got.Requires) != 1 {
		t.Errorf("the built-in task's words were not filled in: %+v", got)
	}
}

// --slurm-args is split as a shell splits a command's arguments: quotes keep
// a comment with spaces in one argument; a quote left open is a usage error
// that says how to write it.
func TestSlurmArgsAreSplitAsAShellSplitsThem(t *testing.T) {
	f := setupFlags{Executor: runner.SlurmExecutor, SlurmArgs: `-p gpu --comment "night run" --gres=gpu:1 --job-name='a b'`}
	ex, err := f.executor()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-p", "gpu", "--comment", "night run", "--gres=gpu:1", "--job-name=a b"}
	if s, ok := ex.(*runner.Slurm); !ok || !slices.Equal(s.Args, want) {
		t.Errorf("sbatch gets %q, want %q", ex, want)
	}
	f.SlurmArgs = `--comment "night run`
	if _, err := f.executor(); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `--slurm-args "--comment \"night run"`) {
		t.Errorf("an open quote: %v", err)
	}
	if _, err := runCLI(t, "doctor", "--executor", "slurm", "--slurm-args", `--comment "night run`); err == nil || !strings.Contains(err.Error(), "--slurm-args") {
		t.Errorf("doctor with an open quote: %v", err)
	}
}
