package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mvdan.cc/sh/v3/shell"

	"autoresearch/harness"
	"autoresearch/internal/experiment"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/status"
	"autoresearch/internal/task"
	"autoresearch/internal/task/gpttask"
	"autoresearch/programs"
)

// The commands' wiring of a run: which task (the repository's task file, or
// the built-in GPT task), which executor, which sandbox. The logic lives in
// the packages; these functions only choose and connect.

// defaultTag names a run after today's date, like nov26.
func defaultTag() string { return strings.ToLower(time.Now().Format("Jan2")) }

// setupFlags are the flags that shape a new run.
type setupFlags struct {
	Tag           string
	Profile       string
	profileGiven  bool // --profile was on the command line
	Device        string
	Repo          string
	EvalAllowance time.Duration
	Repeat        int    // baseline runs; 0: experiment.DefaultRepeats of the budget
	Sandbox       string // --sandbox: how each run of the program is confined
	// Executor and SlurmArgs say where the program runs (--executor,
	// --slurm-args); executorGiven, whether the command line said so.
	Executor      string
	SlurmArgs     string
	executorGiven bool
}

// lookupProfile finds a command's profile. The usage error names where an
// unknown name came from: --profile, or $AUTORESEARCH_PROFILE behind its
// default when the flag was not given. An empty name is the default profile.
func lookupProfile(name string, flagGiven bool) (harness.Profile, error) {
	if name == "" {
		name = defaultProfile()
	}
	p, err := harness.LookupProfile(name)
	if err != nil && !flagGiven && os.Getenv(harness.EnvProfile) != "" {
		return p, usagef("$%s: %v, or unset it", harness.EnvProfile, err)
	}
	if err != nil {
		return p, usagef("--profile: %v", err)
	}
	return p, nil
}

func defaultProfile() string {
	if p := os.Getenv(harness.EnvProfile); p != "" {
		return p
	}
	return harness.DefaultProfile
}

// taskOf is the task of the repository whose top folder is root: its task
// file's, or the built-in GPT task under f's profile and device (its data
// prepared, its device resolved).
func taskOf(ctx context.Context, root string, f setupFlags) (task.Task, error) {
	if task.Exists(root) {
		if f.profileGiven {
			return task.Task{}, usagef("--profile applies to the built-in GPT task; this repository's task is %s, whose program keeps its own budget: leave --profile out", task.File)
		}
		t, err := task.Load(root, task.Options{Allowance: f.EvalAllowance})
		if err != nil {
			return task.Task{}, err
		}
		return *t, nil
	}
	p, err := lookupProfile(f.Profile, f.profileGiven)
	if err != nil {
		return task.Task{}, err
	}
	if err := runner.ValidDevice(f.Device); err != nil {
		return task.Task{}, usagef("--device: %v", err)
	}
	home, err := filepath.Abs(harness.Home()) // the program runs in another folder
	if err != nil {
		return task.Task{}, err
	}
	if _, err := harness.ReadMeta(home, p); err != nil {
		return task.Task{}, err
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(gpttask.TrainFile))); err != nil {
		return task.Task{}, fmt.Errorf("%s has no %s and no %s: run autoresearch in the project that holds the training program, or write a task file with \"autoresearch init\"", root, gpttask.TrainFile, task.File)
	}
	device, detail, err := resolveDevice(ctx, f)
	if err != nil {
		return task.Task{}, err
	}
	return gpttask.New(gpttask.Options{Profile: p, Home: home, Device: device, Detail: detail, Allowance: f.EvalAllowance}), nil
}

// resolveDevice is runner.ResolveDevice, except that a cluster's GPUs are
// on its nodes, not here: with the slurm executor, --device cuda is taken
// as said.
func resolveDevice(ctx context.Context, f setupFlags) (device, detail string, err error) {
	if f.Executor == runner.SlurmExecutor && f.Device == runner.CUDA {
		return runner.CUDA, "the Slurm nodes' GPUs", nil
	}
	return runner.ResolveDevice(ctx, f.Device)
}

// sandboxMode reads --sandbox and finds the protections this machine lacks;
// in strict mode a missing one is an error, before anything is set up.
func sandboxMode(flag string) (sandbox.Mode, string, error) {
	m, err := sandbox.ParseMode(flag)
	if err != nil {
		return "", "", usagef("--sandbox: %v", err)
	}
	missing, err := sandbox.Check(m)
	return m, sandbox.Warning(m, missing), err
}

// executor is the executor --executor and --slurm-args name.
func (f *setupFlags) executor() (runner.Executor, error) {
	args, err := slurmArgs(f.SlurmArgs)
	if err != nil {
		return nil, err
	}
	ex, err := runner.NewExecutor(f.Executor, args)
	if err != nil {
		return nil, usagef("--executor: %v", err)
	}
	return ex, nil
}

// slurmArgs splits --slurm-args as a shell splits a command's arguments:
// quotes keep spaces (--comment "night run"), $NAME is the variable.
func slurmArgs(s string) ([]string, error) {
	args, err := shell.Fields(s, nil)
	if err != nil {
		return nil, usagef("--slurm-args %q: %v: write it as sbatch's arguments on a shell's command line, e.g. --slurm-args '-p gpu --comment \"night run\"'", s, err)
	}
	return args, nil
}

// newConfig checks what a new run of the repository's task needs and
// returns its configuration and executor.
func newConfig(ctx context.Context, f setupFlags, rep status.Reporter) (experiment.Config, runner.Executor, error) {
	root, _, err := runs.RepoRoot(f.Repo)
	if err != nil {
		return experiment.Config{}, nil, err
	}
	if err := experiment.CheckTag(f.Tag); err != nil {
		return experiment.Config{}, nil, usagef("--tag: %v", err)
	}
	if f.Repeat < 0 {
		return experiment.Config{}, nil, usagef("--repeat %d: give the number of baseline runs, 1 or more (0: the default of the budget)", f.Repeat)
	}
	ex, err := f.executor()
	if err != nil {
		return experiment.Config{}, nil, err
	}
	t, err := taskOf(ctx, root, f)
	if err != nil {
		return experiment.Config{}, nil, err
	}
	allowPython(ctx, root, &t, rep.Logf)
	if err := t.CheckRepo(root, f.Sandbox != string(sandbox.Off), rep.Logf); err != nil {
		return experiment.Config{}, nil, err
	}
	cfg := experiment.Config{Tag: f.Tag, Repo: root, Task: t, BaselineRepeats: f.Repeat}
	if f.Repeat == 0 {
		cfg.BaselineRepeats = experiment.DefaultRepeats(t.BudgetSeconds)
	}
	if f.Executor != runner.LocalExecutor {
		cfg.Executor = f.Executor
		if cfg.ExecutorArgs, err = slurmArgs(f.SlurmArgs); err != nil {
			return experiment.Config{}, nil, err
		}
	}
	return cfg, ex, nil
}

// allowPython lets the task's runs use the Python interpreter its run
// command starts (task.AllowPython), asked in the run's environment plus
// pyenv's choice of version, and says what the sandbox allows. An
// interpreter that cannot be asked leaves the task as it is, with a note.
func allowPython(ctx context.Context, root string, t *task.Task, note func(string, ...any)) {
	var extra []string
	for _, k := range []string{"PYENV_VERSION", "PYENV_ROOT"} {
		if v := os.Getenv(k); v != "" {
			extra = append(extra, k+"="+v)
		}
	}
	py, err := t.AllowPython(ctx, root, runner.RunEnv(append(extra, t.Run.Env...)...), nil)
	switch {
	case err != nil:
		note("note: %v; the run starts %s as it is", err, t.Run.Argv[0])
	case py:
		for _, a := range t.Allowed {
			note("sandbox: the program may %s %s: %s", allowedVerb(a), a.Path, a.Why)
		}
	}
}

func allowedVerb(a task.AllowedPath) string {
	if a.Exec {
		return "execute"
	}
	return "read"
}

// setUp sets up a run of cfg, its baseline not yet run.
func setUp(cfg experiment.Config, ex runner.Executor, rep status.Reporter) (*experiment.Run, error) {
	r, err := experiment.Setup(cfg, rep)
	if err != nil {
		return nil, err
	}
	r.Executor = ex
	t := cfg.Task
	what := "task " + t.Source
	if t.Profile != "" {
		what = "profile " + t.Profile
	}
	rep.Logf("run %s: %s, %s (%s), device %s, budget %gs, hard limit %s, in %s",
		cfg.Tag, what, t.Metric.Name, t.Metric.Direction(), t.Device.Name, t.BudgetSeconds, t.HardLimit(), r.Dir)
	return r, nil
}

// openRun opens the existing run in dir: its task checked (prepared data),
// a run of version 1 given the built-in task's words, and the executor the
// command line names, else run.json's.
func openRun(dir string, f setupFlags, rep status.Reporter) (*experiment.Run, error) {
	r, err := experiment.Open(dir, rep)
	if err != nil {
		return nil, err
	}
	if r.Config.Task.Source == experiment.V1GPT {
		upgradeV1GPT(&r.Config.Task)
	}
	if err := r.Config.Task.Check(); err != nil {
		r.Close()
		return nil, err
	}
	name, args := r.Config.Executor, r.Config.ExecutorArgs
	if f.executorGiven {
		if args, err = slurmArgs(f.SlurmArgs); err != nil {
			r.Close()
			return nil, err
		}
		name = f.Executor
	}
	if r.Executor, err = runner.NewExecutor(name, args); err != nil {
		r.Close()
		return nil, usagef("--executor: %v", err)
	}
	return r, nil
}

// upgradeV1GPT gives a GPT run set up by version 1 what its run.json lacks:
// the built-in task's prompt words, its lines and its data check.
func upgradeV1GPT(t *task.Task) {
	p, err := harness.LookupProfile(t.Profile)
	if err != nil {
		return
	}
	home := harness.Home()
	for _, kv := range t.Run.Env {
		if v, ok := strings.CutPrefix(kv, harness.EnvHome+"="); ok {
			home = v
		}
	}
	builtin := gpttask.New(gpttask.Options{Profile: p, Home: home, Device: t.Device.Name, Detail: t.Device.Detail})
	t.Source, t.Progress, t.Warmup, t.FailLine = builtin.Source, builtin.Progress, builtin.Warmup, builtin.FailLine
	t.Prompt, t.Program, t.Requires = builtin.Prompt, builtin.Program, builtin.Requires
	if len(t.Readable) == 0 {
		t.Readable = builtin.Readable
	}
}

// programText is the agent's instructions: the file --program names (given,
// relative to root), else the task's program; the built-in GPT task's
// program is built into the binary too, for a repository without
// programs/. "" with no error when the task names none.
func programText(root string, t task.Task, flag string, given bool) (string, error) {
	path := t.Program
	if given {
		path = flag
	}
	if path == "" {
		return "", nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return string(b), nil
	case !given && t.Source == gpttask.Source && errors.Is(err, os.ErrNotExist):
		return programs.Default, nil
	}
	return "", fmt.Errorf("reading the research program: %w (pass --program FILE)", err)
}
