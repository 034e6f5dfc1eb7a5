package experiment

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"autoresearch/internal/contract"
	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
	"autoresearch/internal/sandbox"
)

// policy is how the program's runs are confined: the run's mode, the
// readable paths and limits of run.json, the device's needs.
func (r *Run) policy() *sandbox.Policy {
	mode := r.Sandbox
	if mode == "" {
		mode = sandbox.Auto
	}
	t := r.Config.Task
	if len(t.Readable) == 0 {
		// A run set up before run.json listed them reads its data home.
		for _, kv := range t.Run.Env {
			if v, ok := strings.CutPrefix(kv, contract.EnvHome+"="); ok {
				t.Readable = append(t.Readable, v)
			}
		}
	}
	return runner.TaskPolicy(mode, &t)
}

// checkImports checks the editable Go files' imports in worker w's clone
// against the base commit's and the sandbox's allowlist; a refusal is a
// *sandbox.ImportError.
func (r *Run) checkImports(w *worker) error {
	for _, p := range r.Config.Task.Editable {
		if path.Ext(p) != ".go" {
			continue
		}
		base, err := w.repo.FileAt(r.Config.BaseCommit, p)
		if err != nil {
			return err
		}
		cur, err := os.ReadFile(filepath.Join(w.worktree, filepath.FromSlash(p)))
		if err != nil {
			continue // a deleted file: the build says so
		}
		if err := sandbox.CheckImports(p, base, cur); err != nil {
			return err
		}
	}
	return nil
}

// checkUnchanged checks after a run that the program left worker w's clone
// as commit has it. A change is a runtime crash with that reason, and the
// clone is restored.
func (r *Run) checkUnchanged(w *worker, res *runner.Result, commit string) error {
	err := w.repo.Guard(commit, nil)
	var ge *gitops.GuardError
	if !errors.As(err, &ge) {
		return err
	}
	res.Crash = runner.RuntimeCrash
	res.Reason = "the program changed files outside its scratch folder: " + strings.Join(ge.Paths, ", ")
	if err := w.repo.ResetHard(commit); err != nil {
		return fmt.Errorf("restoring the worktree after the program changed it: %w", err)
	}
	return linkShared(r.Config.Repo, w.repo.Dir(), r.Config.Task.Shared)
}
