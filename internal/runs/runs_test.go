package runs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
)

// newRepo makes a repository folder with runs whose results.tsv files were
// modified at the given times.
func newRepo(t *testing.T, runs map[string]time.Time) string {
	t.Helper()
	root := t.TempDir()
	if _, err := git.PlainInit(root, false); err != nil {
		t.Fatal(err)
	}
	for tag, mod := range runs {
		path := ResultsPath(root, tag)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolve(t *testing.T) {
	now := time.Now()
	root := newRepo(t, map[string]time.Time{"nov25": now.Add(-time.Hour), "nov26": now, "old": now.Add(-48 * time.Hour)})
	sub := filepath.Join(root, "gpt", "deep")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// A run folder without results.tsv is no run.
	if err := os.MkdirAll(filepath.Join(root, Dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	if got, err := Resolve(sub, "", ""); err != nil || got != ResultsPath(root, "nov26") {
		t.Errorf("latest: %q, %v; want the nov26 run", got, err)
	}
	if got, err := Resolve(sub, "nov25", ""); err != nil || got != ResultsPath(root, "nov25") {
		t.Errorf("tag nov25: %q, %v", got, err)
	}
	_, err := Resolve(sub, "dec01", "")
	if err == nil || !strings.Contains(err.Error(), `no run "dec01"`) || !strings.Contains(err.Error(), "runs: nov26, nov25, old") {
		t.Errorf("unknown tag: %v", err)
	}
	if _, err := Resolve(sub, "../x", ""); err == nil || !strings.Contains(err.Error(), "not a run name") {
		t.Errorf("tag with a slash: %v", err)
	}
	file := filepath.Join(t.TempDir(), "r.tsv")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve(t.TempDir(), "", file); err != nil || got != file {
		t.Errorf("--file outside a repository: %q, %v", got, err)
	}
	if _, err := Resolve(sub, "", file+".missing"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing --file: %v", err)
	}
	if _, err := Resolve(sub, "nov25", file); err == nil || !strings.Contains(err.Error(), "give one of them") {
		t.Errorf("--tag with --file: %v", err)
	}
}

func TestResolveWithoutRuns(t *testing.T) {
	root := newRepo(t, nil)
	if _, err := Resolve(root, "", ""); err == nil || !strings.Contains(err.Error(), `autoresearch baseline`) {
		t.Errorf("no runs: %v", err)
	}
	if _, err := Resolve(root, "nov26", ""); err == nil || !strings.Contains(err.Error(), "no runs yet") {
		t.Errorf("tag without runs: %v", err)
	}
	outside := t.TempDir()
	if _, err := Resolve(outside, "", ""); err == nil || !strings.Contains(err.Error(), outside+" is not inside a git repository") || !strings.Contains(err.Error(), "--file") {
		t.Errorf("outside a repository: %v", err)
	}
}

// In a run's own clone, the run is the default and the other runs are found
// beside it.
func TestResolveInsideARunsClone(t *testing.T) {
	now := time.Now()
	root := newRepo(t, map[string]time.Time{"nov25": now.Add(-time.Hour), "nov26": now})
	clone := filepath.Join(root, Dir, "nov25", "worktree")
	if _, err := git.PlainInit(clone, false); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(clone, "gpt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve(filepath.Join(clone, "gpt"), "", ""); err != nil || got != ResultsPath(root, "nov25") {
		t.Errorf("inside nov25's clone: %q, %v", got, err)
	}
	if got, err := Resolve(clone, "nov26", ""); err != nil || got != ResultsPath(root, "nov26") {
		t.Errorf("--tag nov26 inside nov25's clone: %q, %v", got, err)
	}
}
