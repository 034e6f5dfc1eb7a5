package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"autoresearch/internal/experiment"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/status"
	"autoresearch/internal/task"
)

// A repository with an autoresearch.toml at its top is researched on that
// task; one without it on the built-in GPT task. These helpers are the
// commands' task-file side.

// loadTask reads the task file of the repository whose top folder is root:
// nil, nil when it has none.
func loadTask(root string) (*task.Task, error) {
	if !task.Exists(root) {
		return nil, nil
	}
	return task.Load(root)
}

// newTaskRun checks what a new run of the task needs (the task file and the
// editable files committed, the programs on PATH) and sets it up.
func newTaskRun(ctx context.Context, root string, t *task.Task, f setupFlags, rep status.Reporter) (*experiment.Run, error) {
	if f.profileGiven {
		return nil, usagef("--profile applies to the built-in GPT task; this repository's task is %s, whose program keeps its own budget: leave --profile out", task.File)
	}
	// The run works on a clone of HEAD: what is not committed is not there.
	for _, p := range append([]string{task.File}, t.Editable...) {
		committed, err := gitops.FileAtHead(root, p)
		if err != nil {
			return nil, fmt.Errorf("%s is not committed in %s: the run works on a clone of your HEAD, so commit it (and the files the task runs) first", p, root)
		}
		if cur, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p))); err == nil && !bytes.Equal(cur, committed) {
			rep.Logf("note: %s has uncommitted changes; the run starts from the committed version (commit first to include them)", p)
		}
	}
	for _, argv := range [][]string{t.Build, t.Run} {
		// A path ({bin}, ./run.sh) is the repository's own or the build's.
		if len(argv) > 0 && !strings.ContainsAny(argv[0], "/{") {
			p, err := exec.LookPath(argv[0])
			if err != nil {
				return nil, fmt.Errorf("%s runs %s, which is not on PATH: install it, or change %s", task.File, argv[0], task.File)
			}
			if home, err := os.UserHomeDir(); err == nil && f.Sandbox != string(sandbox.Off) && strings.HasPrefix(p, home+string(filepath.Separator)) {
				rep.Logf("note: %s is %s, in your home folder, where the sandbox lets the program read nothing: if the baseline fails with \"Permission denied\", put a system %s first on PATH or pass --sandbox off", argv[0], p, argv[0])
			}
		}
	}
	if err := f.validExecutor(); err != nil {
		return nil, err
	}
	cfg := t.Config(root, f.Tag, cmp.Or(f.EvalAllowance, taskEvalAllowance))
	r, err := setupRun(cfg, f, rep)
	if err != nil {
		return nil, err
	}
	rep.Logf("run %s: task %s, %s (%s), budget %gs, hard limit %s, in %s",
		f.Tag, task.File, cfg.Metric.Name, cfg.Metric.Direction(), cfg.BudgetSeconds, cfg.HardLimit(), r.Dir)
	return r, nil
}

// taskProgram is the program the task file names, relative to root; ok is
// false without a task file. A task file that does not load names none here:
// setting up the run reports why.
func taskProgram(root string) (program string, ok bool) {
	if !task.Exists(root) {
		return "", false
	}
	t, err := task.Load(root)
	if err != nil {
		return "", true
	}
	return t.Program, true
}

// lowerIsBetter is the direction of the metric of the results file at path:
// from the run.json beside it, else from the task file of the repository
// holding dir when that names the same metric, else lower is better (val_bpb,
// and the original's files).
func lowerIsBetter(path, dir string) bool {
	if cfg, err := experiment.LoadConfig(filepath.Dir(path)); err == nil {
		return cfg.Metric.LowerIsBetter
	}
	root, err := gitops.Root(dir)
	if err != nil {
		return true
	}
	t, err := loadTask(root)
	if err != nil || t == nil {
		return true
	}
	if f, err := results.ReadFile(path); err != nil || f.Metric != t.Metric.Name {
		return true
	}
	return t.Metric.LowerIsBetter
}
