package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/runs"
)

// A Go task whose build stamps version-control information (go build's
// default), so that a build in the run's clone depends on Go and git as a
// new user has them.
const freshMain = `package main

import "fmt"

const (
	Width = 4
)

func main() { fmt.Printf("score: %d\n", Width*Width) }
`

const freshTask = `editable = ["main.go"]
build = ["go", "build", "-o", "{bin}", "."]
run = ["{bin}"]
budget = "1s"

[metric]
name = "score"
pattern = '^score:\s*([0-9]+)'
direction = "lower"
`

// goEnv is one setting of the machine's Go, read before a test changes the
// environment that decides it.
func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// TestSetupAsAFreshUser sets up and runs a task the way a new user's machine
// does it: an empty home folder (no git identity, no Go environment file),
// GOFLAGS empty and GOTOOLCHAIN at its default. The Go build in the run's
// clone, the experiments' commits and the push back to the repository all
// work, and every commit the run makes carries the project's own author.
func TestSetupAsAFreshUser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program three times")
	}
	// The build cache and the module cache stay the machine's, named
	// explicitly, as CI does: only their location depends on the home folder.
	gocache, modcache := goEnv(t, "GOCACHE"), goEnv(t, "GOMODCACHE")
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "GIT_CONFIG_NOSYSTEM": "1",
		"GOENV": "off", "GOFLAGS": "", "GOCACHE": gocache, "GOMODCACHE": modcache,
	} {
		t.Setenv(k, v)
	}
	// GOTOOLCHAIN unset: the Go installation's own default (its go.env).
	for _, k := range []string{"GOTOOLCHAIN", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	if out, err := exec.Command("git", "config", "user.name").Output(); err == nil {
		t.Fatalf("the test's git still has an identity: %q", out)
	}

	src := t.TempDir()
	for name, content := range map[string]string{
		"main.go": freshMain, "go.mod": "module fresh\n\ngo 1.26\n", "autoresearch.toml": freshTask,
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := gittest.CommitTree(t, src, "a Go task")
	out, err := runCLI(t, "baseline", "--repo", repo, "--tag", "fresh", "--repeat", "1")
	if err != nil {
		t.Fatalf("baseline: %v\n%s", err, out)
	}
	out, err = runCLI(t, "run", "--repo", repo, "--tag", "fresh", "--agent", "sweep", "--seed", "3", "--max-experiments", "2")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	f, err := results.ReadFile(runs.ResultsPath(repo, "fresh"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) != 3 {
		t.Fatalf("results.tsv has %d rows, want the baseline and 2 experiments:\n%s", len(f.Rows), out)
	}
	for _, row := range f.Rows[1:] {
		if row.Status == results.Crash {
			t.Errorf("experiment %q crashed as a fresh user:\n%s", row.Description, out)
		}
	}

	// Every experiment's commit (kept or not) and the published branch.
	clone, err := git.PlainOpen(filepath.Join(runs.RunDir(repo, "fresh"), runs.WorktreeDir))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(f.Rows); n++ {
		ref, err := clone.Reference(plumbing.ReferenceName(runs.ExperimentRef("fresh", n)), true)
		if err != nil {
			t.Fatalf("experiment %d: %v", n, err)
		}
		c, err := clone.CommitObject(ref.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if c.Author.Name != "autoresearch" || c.Committer.Name != "autoresearch" {
			t.Errorf("experiment %d's commit is by %s / %s, want the project's own author", n, c.Author, c.Committer)
		}
	}
	user, err := git.PlainOpen(repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.Reference(plumbing.NewBranchReferenceName("autoresearch/fresh"), true); err != nil {
		t.Errorf("the run's branch is not in the user's repository: %v", err)
	}
}
