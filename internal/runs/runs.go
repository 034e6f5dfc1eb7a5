package runs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"autoresearch/internal/gitops"
)

// The names of a run's folder and files, defined here only:
// <repo>/.autoresearch/<tag>/ holds run.json, results.tsv, experiments.jsonl,
// the run's clone in worktree/, and logs/ and transcripts/. Package
// experiment, which writes them, uses these names.
const (
	Dir             = ".autoresearch"
	ResultsFile     = "results.tsv"
	ExperimentsFile = "experiments.jsonl"
	ConfigFile      = "run.json"
	WorktreeDir     = "worktree"
	LogsDir         = "logs"
	TranscriptsDir  = "transcripts"
	WorkersDir      = "workers"       // the workers' clones and binaries: workers/<i>/
	FlightsFile     = "inflight.json" // what each worker is doing now
	AuditFile       = "audit.json"    // fresh runs of the baseline and the kept commits (autoresearch audit)
)

// RunDir is the folder of the run called tag in the repository whose top
// folder is root.
func RunDir(root, tag string) string { return filepath.Join(root, Dir, tag) }

// ExperimentRef is the reference that keeps experiment n's commit of the run
// called tag reachable in the run's clone, kept or not: git gc never loses a
// discarded diff, and "autoresearch show" finds it there.
func ExperimentRef(tag string, n int) string { return fmt.Sprintf("refs/autoresearch/%s/%d", tag, n) }

// ResultsPath is the results file of the run called tag under root.
func ResultsPath(root, tag string) string { return filepath.Join(RunDir(root, tag), ResultsFile) }

// CheckTag refuses tags that are not a plain folder name.
func CheckTag(tag string) error {
	if tag == "" || tag == "." || tag == ".." || strings.ContainsAny(tag, `/\`) {
		return fmt.Errorf("tag %q is not a run name: use a plain name such as nov26", tag)
	}
	return nil
}

// Run is one run found under a repository.
type Run struct {
	Tag      string
	Results  string    // path of its results.tsv
	Modified time.Time // when results.tsv last changed
}

// List returns the runs under root that have a results.tsv, most recently
// modified first.
func List(root string) ([]Run, error) {
	entries, err := os.ReadDir(filepath.Join(root, Dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Run
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := ResultsPath(root, e.Name())
		st, err := os.Stat(path)
		if err != nil {
			continue
		}
		out = append(out, Run{Tag: e.Name(), Results: path, Modified: st.ModTime()})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Modified.Equal(out[j].Modified) {
			return out[i].Modified.After(out[j].Modified)
		}
		return out[i].Tag < out[j].Tag
	})
	return out, nil
}

// Resolve turns the --tag and --file flags into the path of a results file:
// file as given, else the run called tag in the repository holding dir, else
// that repository's latest run.
func Resolve(dir, tag, file string) (string, error) {
	if file != "" && tag != "" {
		return "", errors.New("--tag and --file name the same thing: give one of them")
	}
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			return "", fmt.Errorf("results file %s: %w", file, unwrapPathError(err))
		}
		return file, nil
	}
	if tag != "" {
		if err := CheckTag(tag); err != nil {
			return "", err
		}
	}
	root, err := gitops.Root(dir)
	if errors.Is(err, gitops.ErrNotRepository) {
		abs, _ := filepath.Abs(dir)
		return "", fmt.Errorf("%s is %w: run this in your project's checkout, or pass --file results.tsv", abs, gitops.ErrNotRepository)
	}
	if err != nil {
		return "", err
	}
	// Inside a run's own clone (.autoresearch/<tag>/worktree), the runs are
	// those of the repository around it, and that run is the default.
	if user, own, ok := InsideRun(root); ok {
		root = user
		if tag == "" {
			tag = own
		}
	}
	all, err := List(root)
	if err != nil {
		return "", err
	}
	if tag == "" {
		if len(all) == 0 {
			return "", fmt.Errorf("no runs in %s: start one with \"autoresearch baseline\", or pass --file results.tsv", filepath.Join(root, Dir))
		}
		return all[0].Results, nil
	}
	path := ResultsPath(root, tag)
	if _, err := os.Stat(path); err != nil {
		tags := make([]string, len(all))
		for i, r := range all {
			tags[i] = r.Tag
		}
		known := "there are no runs yet"
		if len(tags) > 0 {
			known = "runs: " + strings.Join(tags, ", ")
		}
		return "", fmt.Errorf("no run %q in %s (%s)", tag, filepath.Join(root, Dir), known)
	}
	return path, nil
}

// InsideRun reports whether root is the clone of a run,
// <user>/.autoresearch/<tag>/worktree, and returns user and tag.
func InsideRun(root string) (user, tag string, ok bool) {
	runDir := filepath.Dir(root)
	if filepath.Base(root) != WorktreeDir || filepath.Base(filepath.Dir(runDir)) != Dir {
		return "", "", false
	}
	return filepath.Dir(filepath.Dir(runDir)), filepath.Base(runDir), true
}

// RepoRoot returns the top folder of the user's repository holding dir. In a
// run's clone (<repo>/.autoresearch/<tag>/worktree) that is the repository
// the run belongs to, and tag is the run's.
func RepoRoot(dir string) (root, tag string, err error) {
	root, err = gitops.Root(dir)
	if err != nil {
		return "", "", err
	}
	if user, tag, ok := InsideRun(root); ok {
		return user, tag, nil
	}
	return root, "", nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
