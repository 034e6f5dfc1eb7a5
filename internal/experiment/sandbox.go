package experiment

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"autoresearch/harness"
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
	read := append([]string(nil), r.Config.Readable...)
	if len(read) == 0 {
		// A run set up before run.json listed them reads its data home.
		for _, kv := range r.Config.Run.Env {
			if v, ok := strings.CutPrefix(kv, harness.EnvHome+"="); ok {
				read = append(read, v)
			}
		}
	}
	return runner.SandboxPolicy(mode, r.Config.Device, read, r.Config.Limits)
}

// checkImports checks the editable Go files' imports in workspace w against
// the base commit's and the sandbox's allowlist; a refusal is a
// *sandbox.ImportError.
func (r *Run) checkImports(w *workspace) error {
	for _, p := range r.Config.Editable {
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

// checkUnchanged checks after a run that the program left workspace w's
// worktree as commit has it. A change is a runtime crash with that reason,
// and the worktree is restored.
func (r *Run) checkUnchanged(w *workspace, res *runner.Result, commit string) error {
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
	return linkShared(r.Config.Repo, w.repo.Dir(), r.Config.Shared)
}
