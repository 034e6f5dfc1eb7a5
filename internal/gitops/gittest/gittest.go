// Package gittest makes git repositories for tests: a copy of a folder of
// test data, committed once, standing in for a user's project.
package gittest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Epoch is the time stamped on the commit CommitTree makes, so that its hash
// is the same in every run.
var Epoch = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

// CommitTree copies the folder src into a new folder named project under a
// temporary directory, makes it a git repository on branch master and
// commits everything in it. It returns the project folder.
func CommitTree(t testing.TB, src, message string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "project")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "user", Email: "user@example.org", When: Epoch}
	if _, err := wt.Commit(message, &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir
}
