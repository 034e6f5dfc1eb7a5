package gitops

import (
	"autoresearch/internal/testfs"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var epoch = time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)

// newUserRepo makes a repository with one commit on master holding files.
func newUserRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "user", Email: "user@example.org", When: epoch}
	if _, err := wt.Commit("initial", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	return dir
}

var project = map[string]string{
	"go.mod":           "module toy\n",
	"gpt/train.go":     "package main\n\nconst LR = 0.04\n",
	"harness/fixed.go": "package harness\n",
	"README.md":        "toy\n",
}

func clone(t *testing.T, user string) *Repo {
	t.Helper()
	r, err := Clone(user, filepath.Join(user, ".autoresearch", "t1", "worktree"), "autoresearch/t1")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	r.Now = func() time.Time { n++; return epoch.Add(time.Duration(n) * time.Minute) }
	return r
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCloneChecksOutUserHeadOnNewBranch(t *testing.T) {
	user := newUserRepo(t, project)
	base, err := UserHead(user)
	if err != nil {
		t.Fatal(err)
	}
	r := clone(t, user)
	if h, _ := r.Head(); h != base {
		t.Errorf("clone tip %s, want the user's HEAD %s", h, base)
	}
	if b, _ := r.Branch(); b != "autoresearch/t1" {
		t.Errorf("clone on branch %s", b)
	}
	for name, body := range project {
		if got := read(t, r.Dir(), name); got != body {
			t.Errorf("%s = %q, want %q", name, got, body)
		}
	}
	if err := r.Guard(base, []string{"gpt/train.go"}); err != nil {
		t.Errorf("fresh clone fails the guard: %v", err)
	}
	if _, err := Clone(user, filepath.Join(t.TempDir(), "again"), "autoresearch/t1"); err != nil {
		t.Errorf("a second clone before any push back failed: %v", err)
	}
	if err := r.PushBack(user); err != nil {
		t.Fatal(err)
	}
	if _, err := Clone(user, filepath.Join(t.TempDir(), "again2"), "autoresearch/t1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("clone onto an existing branch: %v", err)
	}
}

func TestGuardRejectsChangesOutsideEditablePaths(t *testing.T) {
	user := newUserRepo(t, project)
	base, _ := UserHead(user)
	r := clone(t, user)
	editable := []string{"gpt/train.go"}

	write(t, r.Dir(), "gpt/train.go", "package main\n\nconst LR = 0.02\n")
	if err := r.Guard(base, editable); err != nil {
		t.Fatalf("an edit of the editable file rejected: %v", err)
	}
	write(t, r.Dir(), "harness/fixed.go", "package harness\n\nvar Cheat = 1\n")
	write(t, r.Dir(), "gpt/extra.go", "package main\n")
	testfs.Remove(t, filepath.Join(r.Dir(), "README.md"))
	err := r.Guard(base, editable)
	var ge *GuardError
	if !errors.As(err, &ge) {
		t.Fatalf("guard error %v, want a GuardError", err)
	}
	if want := []string{"README.md", "gpt/extra.go", "harness/fixed.go"}; !reflect.DeepEqual(ge.Paths, want) {
		t.Errorf("guard names %v, want %v", ge.Paths, want)
	}
	if err := r.ResetHard(base); err != nil {
		t.Fatal(err)
	}
	if err := r.Guard(base, editable); err != nil {
		t.Errorf("after reset the guard still fails: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "gpt/extra.go")); !os.IsNotExist(err) {
		t.Errorf("reset left the untracked file: %v", err)
	}
	if got := read(t, r.Dir(), "gpt/train.go"); got != project["gpt/train.go"] {
		t.Errorf("reset left train.go as %q", got)
	}
	if got := read(t, r.Dir(), "README.md"); got != "toy\n" {
		t.Errorf("reset did not restore README.md: %q", got)
	}
}

func TestGuardRejectsCommittedChangeToLockedPath(t *testing.T) {
	user := newUserRepo(t, project)
	base, _ := UserHead(user)
	r := clone(t, user)
	write(t, r.Dir(), "harness/fixed.go", "package harness\n// changed\n")
	if _, err := r.Commit("sneak", base, []string{"harness/fixed.go"}); err != nil {
		t.Fatal(err)
	}
	var ge *GuardError
	if err := r.Guard(base, []string{"gpt/train.go"}); !errors.As(err, &ge) || ge.Paths[0] != "harness/fixed.go" {
		t.Errorf("a locked path changed in the tip passed the guard: %v", err)
	}
}

func TestCommitReplacesAFailedAttempt(t *testing.T) {
	user := newUserRepo(t, project)
	base, _ := UserHead(user)
	r := clone(t, user)
	write(t, r.Dir(), "gpt/train.go", "package main\n\nconst LR = oops\n")
	first, err := r.Commit("try", base, []string{"gpt/train.go"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, r.Dir(), "gpt/train.go", "package main\n\nconst LR = 0.08\n")
	second, err := r.Commit("try", base, []string{"gpt/train.go"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.repo.CommitObject(plumbing.NewHash(second))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ParentHashes) != 1 || c.ParentHashes[0].String() != base {
		t.Errorf("the fixed attempt's parents are %v, want only the base %s (not %s)", c.ParentHashes, base, first)
	}
	if h, _ := r.Head(); h != second {
		t.Errorf("tip %s, want %s", h, second)
	}
	d, err := r.Diff(base, second)
	if err != nil || d != (DiffStat{Files: 1, Additions: 1, Deletions: 1}) {
		t.Errorf("diff %+v, %v", d, err)
	}
	if got, err := r.FindKept(second[:7], base); err != nil || got != second {
		t.Errorf("FindKept(%s) = %s, %v", second[:7], got, err)
	}
	if got, err := r.FindKept(base[:7], base); err != nil || got != base {
		t.Errorf("FindKept(base) = %s, %v", got, err)
	}
	if _, err := r.FindKept(first[:7], base); err == nil {
		t.Error("FindKept found the replaced attempt")
	}
	if err := r.ResetHard(second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit("same", second, []string{"gpt/train.go"}); !errors.Is(err, ErrNoChange) {
		t.Errorf("commit of an unchanged tree: %v, want ErrNoChange", err)
	}
	if h, _ := r.Head(); h != second {
		t.Errorf("a refused empty commit moved the tip to %s", h)
	}
}

func TestPushBackLeavesTheUserCheckoutAlone(t *testing.T) {
	user := newUserRepo(t, project)
	base, _ := UserHead(user)
	write(t, user, "gpt/train.go", "package main\n\nconst LR = 1 // the user's uncommitted edit\n")
	r := clone(t, user)
	var tips []string
	for _, lr := range []string{"0.02", "0.01"} {
		write(t, r.Dir(), "gpt/train.go", "package main\n\nconst LR = "+lr+"\n")
		parent, _ := r.Head()
		h, err := r.Commit("LR "+lr, parent, []string{"gpt/train.go"})
		if err != nil {
			t.Fatal(err)
		}
		tips = append(tips, h)
		if err := r.PushBack(user); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := git.PlainOpen(user)
	ref, err := u.Reference(plumbing.NewBranchReferenceName("autoresearch/t1"), false)
	if err != nil || ref.Hash().String() != tips[1] {
		t.Fatalf("user's branch at %v (%v), want %s", ref, err, tips[1])
	}
	c, _ := u.CommitObject(ref.Hash())
	f, err := c.File("gpt/train.go")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.Contents(); !strings.Contains(s, "0.01") {
		t.Errorf("pushed train.go %q", s)
	}
	head, _ := u.Head()
	if head.Name() != "refs/heads/master" || head.Hash().String() != base {
		t.Errorf("user's HEAD moved to %s %s", head.Name(), head.Hash())
	}
	if got := read(t, user, "gpt/train.go"); !strings.Contains(got, "the user's uncommitted edit") {
		t.Errorf("user's working file changed: %q", got)
	}
	if _, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command("git", "-C", user, "fsck", "--no-dangling").CombinedOutput()
		if err != nil {
			t.Errorf("git fsck in the user's repository: %v\n%s", err, out)
		}
		out, _ = exec.Command("git", "-C", user, "log", "--format=%s", "autoresearch/t1").Output()
		if string(out) != "LR 0.01\nLR 0.02\ninitial\n" {
			t.Errorf("git log of the pushed branch:\n%s", out)
		}
	}

	// A branch moved by someone else is not overwritten.
	wt, _ := u.Worktree()
	if err := wt.Checkout(&git.CheckoutOptions{Branch: "refs/heads/autoresearch/t1", Force: true}); err != nil {
		t.Fatal(err)
	}
	write(t, r.Dir(), "gpt/train.go", "package main\n\nconst LR = 0.005\n")
	if _, err := r.Commit("LR 0.005", tips[1], []string{"gpt/train.go"}); err != nil {
		t.Fatal(err)
	}
	if err := r.PushBack(user); err == nil || !strings.Contains(err.Error(), "checked out") {
		t.Errorf("push into the checked-out branch: %v", err)
	}
}

func TestEnsureExcluded(t *testing.T) {
	user := newUserRepo(t, project)
	added, err := EnsureExcluded(user, ".autoresearch")
	if err != nil || !added {
		t.Fatalf("added %v, %v", added, err)
	}
	if got := read(t, user, ".git/info/exclude"); !strings.Contains(got, "/.autoresearch/") {
		t.Errorf("info/exclude is %q", got)
	}
	if added, err := EnsureExcluded(user, ".autoresearch"); err != nil || added {
		t.Errorf("second call added %v, %v", added, err)
	}
	covered := newUserRepo(t, map[string]string{".gitignore": "/bin/\n/.autoresearch/\n", "a.txt": "a"})
	if added, err := EnsureExcluded(covered, ".autoresearch"); err != nil || added {
		t.Errorf("covered by .gitignore, yet added %v, %v", added, err)
	}
	// The run's workspace inside the user's checkout is then invisible to git.
	clone(t, user)
	if _, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command("git", "-C", user, "status", "--porcelain", "--untracked-files=all").CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("git status in the user's checkout shows the run workspace (%v):\n%s", err, out)
		}
	}
}

func TestLinkedWorktreeUserRepo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs the git binary to make a linked worktree")
	}
	user := newUserRepo(t, project)
	linked := filepath.Join(t.TempDir(), "linked")
	if out, err := exec.Command("git", "-C", user, "worktree", "add", "-b", "side", linked).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if added, err := EnsureExcluded(linked, ".autoresearch"); err != nil || !added {
		t.Fatalf("added %v, %v", added, err)
	}
	if got := read(t, user, ".git/info/exclude"); !strings.Contains(got, "/.autoresearch/") {
		t.Errorf("the common info/exclude is %q", got)
	}
	r, err := Clone(linked, filepath.Join(linked, ".autoresearch", "x", "worktree"), "autoresearch/x")
	if err != nil {
		t.Fatal(err)
	}
	write(t, r.Dir(), "gpt/train.go", "package main\n\nconst LR = 0.5\n")
	base, _ := r.Head()
	if _, err := r.Commit("LR 0.5", base, []string{"gpt/train.go"}); err != nil {
		t.Fatal(err)
	}
	if err := r.PushBack(linked); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", user, "log", "-1", "--format=%s", "autoresearch/x").CombinedOutput()
	if err != nil || string(out) != "LR 0.5\n" {
		t.Errorf("branch in the main repository: %q, %v", out, err)
	}
	if out, _ := exec.Command("git", "-C", linked, "status", "--porcelain").Output(); len(out) != 0 {
		t.Errorf("the linked worktree is not clean:\n%s", out)
	}
}

func TestOutsideARepositoryTheErrorNamesTheFolder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, err := Root(".")
	if err == nil || !strings.HasPrefix(err.Error(), dir+" is not inside a git repository") {
		t.Errorf("Root(\".\") outside a repository: %v", err)
	}
}

// TestSetRefKeepsADiscardedCommitThroughGC: a discarded experiment's commit
// named by a reference survives git gc with its diff; one that nothing names
// does not (the reason for the reference).
func TestSetRefKeepsADiscardedCommitThroughGC(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git binary to run gc")
	}
	user := newUserRepo(t, project)
	r := clone(t, user)
	base, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	discard := func(lr string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(r.Dir(), "gpt", "train.go"), []byte("package main\n\nconst LR = "+lr+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := r.Commit("LR "+lr, base, []string{"gpt/train.go"})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.ResetHard(base); err != nil {
			t.Fatal(err)
		}
		return h
	}
	kept := discard("0.02")
	if err := r.SetRef("refs/autoresearch/t1/1", kept); err != nil {
		t.Fatal(err)
	}
	lost := discard("0.08")
	// The reflog would keep both; expire it as time would.
	for _, args := range [][]string{{"reflog", "expire", "--expire=now", "--all"}, {"gc", "--prune=now", "--quiet"}} {
		if out, err := exec.Command("git", append([]string{"-C", r.Dir()}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	r2, err := Open(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r2.Ref("refs/autoresearch/t1/1"); err != nil || got != kept {
		t.Fatalf("Ref = %s, %v; want %s", got, err, kept)
	}
	patch, err := r2.Patch(base, kept)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"diff --git a/gpt/train.go b/gpt/train.go", "-const LR = 0.04", "+const LR = 0.02"} {
		if !strings.Contains(patch, want) {
			t.Errorf("the patch lacks %q:\n%s", want, patch)
		}
	}
	if r2.HasCommit(lost) {
		t.Errorf("gc kept the unnamed commit %s: the test does not show what the reference is for", lost)
	}
	if p, err := r2.Patch(base, base); p != "" || err != nil {
		t.Errorf("Patch of a commit against itself = %q, %v", p, err)
	}
}
