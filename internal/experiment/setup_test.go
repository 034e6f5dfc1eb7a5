package experiment

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"

	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/testfs"
)

func TestSetupMakesTheWorkspace(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	base, _ := gitops.UserHead(user)
	r, err := Setup(toyConfig(filepath.Join(user, "gpt"), "nov26"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Dir != filepath.Join(user, ".autoresearch", "nov26") {
		t.Errorf("run folder %s", r.Dir)
	}
	for _, name := range []string{"worktree/gpt/train.go", "worktree/harness/harness.go", "logs", "transcripts", "run.json", "experiments.jsonl", "lock"} {
		if _, err := os.Stat(filepath.Join(r.Dir, name)); err != nil {
			t.Errorf("the workspace lacks %s", name)
		}
	}
	if b := testfs.ReadFile(t, filepath.Join(r.Dir, ResultsFile)); string(b) != results.Header("val_bpb")+"\n" {
		t.Errorf("results.tsv is %q", b)
	}
	var cfg struct {
		Version    int
		BaseCommit string `json:"base_commit"`
		Task       map[string]any
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Version != ConfigVersion || cfg.BaseCommit != base || cfg.Task["profile"] != "smoke" || cfg.Task["hard_limit_seconds"] != 7.0 {
		t.Errorf("run.json %s", b)
	}
	if r.Config.Branch != "autoresearch/nov26" || r.Config.Repo != user || r.Config.HardLimit().Seconds() != 7 {
		t.Errorf("config %+v, hard limit %s", r.Config, r.Config.HardLimit())
	}
	if ok, _ := gitops.BranchExists(user, "autoresearch/nov26"); ok {
		t.Error("the branch reached the user's repository before the baseline")
	}
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := gitops.BranchExists(user, "autoresearch/nov26"); !ok {
		t.Error("the baseline did not publish the branch")
	}
	u, _ := git.PlainOpen(user)
	if h, _ := u.Head(); h.Name() != "refs/heads/master" || h.Hash().String() != base {
		t.Errorf("the user's HEAD moved: %s", h)
	}
	if _, err := exec.LookPath("git"); err == nil {
		out, err := exec.Command("git", "-C", user, "status", "--porcelain", "--untracked-files=all").CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("the user's checkout is not clean (%v):\n%s", err, out)
		}
	}

	_, err = Setup(toyConfig(user, "nov26"), nil)
	if err == nil || !strings.Contains(err.Error(), `continue it with "autoresearch run --tag nov26"`) {
		t.Errorf("setup of an existing tag: %v", err)
	}
	os.RemoveAll(filepath.Join(user, ".autoresearch", "nov26"))
	_, err = Setup(toyConfig(user, "nov26"), nil)
	if err == nil || !strings.Contains(err.Error(), "branch autoresearch/nov26 already exists") {
		t.Errorf("setup onto an existing branch: %v", err)
	}
}

func TestSetupRejectsBadInput(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	for _, c := range []struct {
		edit func(*Config)
		msg  string
	}{
		{func(c *Config) { c.Tag = "a b" }, "cannot name a branch"},
		{func(c *Config) { c.Tag = "x..y" }, "cannot name a branch"},
		{func(c *Config) { c.Task.Editable = []string{"../outside.go"} }, "inside the repository"},
		{func(c *Config) { c.Task.Metric.Name = "" }, "lacks [metric.name]"},
		{func(c *Config) { c.Repo = t.TempDir() }, "not inside a git repository"},
	} {
		cfg := toyConfig(user, "t1")
		c.edit(&cfg)
		if _, err := Setup(cfg, nil); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("error %v, want %q", err, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(user, ".autoresearch", "t1")); !os.IsNotExist(err) {
		t.Errorf("a refused setup left a folder: %v", err)
	}
}

func TestOpenWithoutARun(t *testing.T) {
	t.Parallel()
	_, err := Open(t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), `start one with "autoresearch baseline"`) {
		t.Errorf("error %v", err)
	}
}

func TestSetupStartsOverAfterAHalfFinishedSetup(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	dir := filepath.Join(user, ".autoresearch", "t1")
	if err := os.MkdirAll(filepath.Join(dir, "worktree", "gpt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "worktree", "gpt", "train.go"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Setup(toyConfig(user, "t1"), nil)
	if err != nil {
		t.Fatalf("setup over a half-finished one: %v", err)
	}
	defer r.Close()
	if b := testfs.ReadFile(t, filepath.Join(dir, "worktree", "gpt", "train.go")); !strings.Contains(string(b), "package main") {
		t.Errorf("train.go is %q", b)
	}
	if _, err := Setup(toyConfig(user, "t1"), nil); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("setup while the run is open: %v", err)
	}
	if !Exists(dir) {
		t.Error("a refused setup removed the open run")
	}
}

func TestSetupLinksSharedPathsWithoutTrippingTheGuard(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	// An ignored vendor folder, as on a machine that builds offline.
	if err := os.MkdirAll(filepath.Join(user, "vendor"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(user, "vendor", "modules.txt"), []byte("# vendored\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// go-git makes no .git/info: the exclude file is the first thing in it.
	if err := os.MkdirAll(filepath.Join(user, ".git", "info"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(user, ".git", "info", "exclude"), []byte("/vendor/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := toyConfig(user, "t1")
	cfg.Task.Shared = []string{"vendor", "absent"}
	r, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(r.Worktree(), "vendor")
	if dst, err := os.Readlink(link); err != nil || dst != filepath.Join(user, "vendor") {
		t.Fatalf("worktree/vendor links to %q (%v), want the user's vendor folder", dst, err)
	}
	if _, err := os.Lstat(filepath.Join(r.Worktree(), "absent")); !os.IsNotExist(err) {
		t.Errorf("a shared path missing in the repository was linked: %v", err)
	}
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatalf("the baseline with a linked vendor folder: %v", err)
	}
	if rows := r.Rows(); len(rows) != 1 || rows[0].Status != results.Keep {
		t.Fatalf("rows %+v, want the baseline kept (the link must not count as a change)", rows)
	}
	r.Close()
	testfs.Remove(t, link)
	r, err = Open(r.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := os.Readlink(link); err != nil {
		t.Errorf("resume did not restore the link: %v", err)
	}
	// A discard resets the worktree, which removes untracked files.
	if err := r.rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Readlink(link); err != nil {
		t.Errorf("a rollback lost the link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(user, "vendor", "modules.txt")); err != nil {
		t.Errorf("the user's vendor folder was harmed: %v", err)
	}
}
