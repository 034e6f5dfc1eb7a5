package experiment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/runs"
)

// Experiment is what a run recorded about one numbered experiment, for reading
// after the fact: kept, discarded or crashed alike.
type Experiment struct {
	Config Config
	Row    results.Row
	// Record is the experiment's line of experiments.jsonl; nil for a run
	// without one.
	Record *Record
	// Commit is the experiment's full commit, Parent the kept commit it
	// started from; empty when unknown (a change rejected before commit).
	Commit, Parent string
	// Ref names Commit in the run's clone.
	Ref string
	// Patch is the change against Parent as a unified diff; NoPatch says why
	// there is none.
	Patch, NoPatch string
}

// Show reads experiment n of the run in dir. It takes no lock: a run may be
// going on meanwhile.
func Show(dir string, n int) (*Experiment, error) {
	cfg, err := LoadConfig(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no run in %s (it has no %s): start one with \"autoresearch baseline\"", dir, ConfigFile)
	}
	if err != nil {
		return nil, err
	}
	f, err := results.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, err
	}
	if n < 0 || n >= len(f.Rows) {
		if len(f.Rows) == 0 {
			return nil, fmt.Errorf("run %s has recorded no experiment yet", cfg.Tag)
		}
		return nil, fmt.Errorf("run %s has no experiment %d: its experiments are 0 (the baseline) to %d", cfg.Tag, n, len(f.Rows)-1)
	}
	s := &Experiment{Config: *cfg, Row: f.Rows[n], Ref: runs.ExperimentRef(cfg.Tag, n)}
	recs, err := ReadRecords(filepath.Join(dir, RecordsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	// Abandoned and interrupted lines share n with the recorded experiment.
	for i := range recs {
		if recs[i].N == n && results.Status(recs[i].Status).Valid() {
			s.Record = &recs[i]
		}
	}
	if s.Record != nil {
		s.Commit, s.Parent = s.Record.Commit, s.Record.Parent
	}
	repo, err := gitops.Open(filepath.Join(dir, WorktreeDir))
	if err != nil {
		s.NoPatch = "the run's clone cannot be opened: " + err.Error()
		return s, nil
	}
	if ref, err := repo.Ref(s.Ref); err == nil && s.Record == nil {
		s.Commit = ref
	}
	switch {
	case n == 0:
		s.NoPatch = "the baseline is the repository's commit as it was: it changes nothing"
	case s.Record == nil:
		s.NoPatch = "experiments.jsonl has no record of it"
	case s.Commit == "":
		s.NoPatch = "the change was rejected before it was committed (" + s.Record.Reason + ")"
	case s.Parent == "":
		s.NoPatch = "experiments.jsonl does not say which commit it started from"
	case !repo.HasCommit(s.Commit) || !repo.HasCommit(s.Parent):
		s.NoPatch = "its commit is no longer in the run's clone (a discarded change of a run made before every experiment's commit was kept)"
	default:
		if s.Patch, err = repo.Patch(s.Parent, s.Commit); err != nil {
			return nil, err
		}
		if s.Patch == "" {
			s.NoPatch = "its commit changes nothing"
		}
	}
	return s, nil
}
