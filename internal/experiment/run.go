package experiment

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"autoresearch/internal/agent"
	"autoresearch/internal/cost"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/status"
)

// The run folder's layout, below <repo>/.autoresearch/<tag>/.
const (
	RunsDir         = runs.Dir
	ConfigFile      = runs.ConfigFile
	ResultsFile     = runs.ResultsFile
	RecordsFile     = runs.ExperimentsFile
	WorktreeDir     = runs.WorktreeDir
	LogsDir         = runs.LogsDir
	TranscriptsDir  = runs.TranscriptsDir
	binDir          = "bin"
	scratchDir      = "scratch" // the program's own folder, emptied before each run
	lockFile        = "lock"
	noCommit        = "0000000" // results.tsv's commit for a change rejected before commit
	maxAbandonments = 5
)

// Dir is the run folder of tag in the repository whose top folder is root.
func Dir(root, tag string) string { return runs.RunDir(root, tag) }

// Exists reports whether a finished setup of a run lives in dir.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CheckTag says why tag cannot name a run and its branch, if it cannot.
func CheckTag(tag string) error {
	if !tagRE.MatchString(tag) || strings.Contains(tag, "..") || strings.HasSuffix(tag, ".lock") || strings.HasSuffix(tag, ".") {
		return fmt.Errorf("tag %q cannot name a branch: use letters, digits, '.', '_' and '-', like nov26", tag)
	}
	return nil
}

// Run is an open research run. It holds the run's lock until Close.
type Run struct {
	Dir    string
	Config Config
	// Reporter shows progress; status.Nop{} when nil.
	Reporter status.Reporter
	// Sandbox is how each run of the program is confined; empty means
	// sandbox.Auto.
	Sandbox sandbox.Mode
	// Executor runs the program; runner.Local when nil.
	Executor runner.Executor

	repo *gitops.Repo
	lock *lock
	rows []results.Row
	best float64 // NaN before the baseline
	kept string  // full hash of the last kept commit; the base before the baseline
	last *agent.Outcome
	// bestOutcome is the last kept experiment's outcome, for proposers.
	bestOutcome *agent.Outcome
	// abandonedWhy is the reason of the last abandoned proposal.
	abandonedWhy string
	// spend is what the LLM cost the run, as the last Loop left it.
	spend cost.Spend
	// noise is the pooled sigma and the best's runs (sigma.go).
	noise noiseState
}

// Spend is what the LLM cost the run, at Options.Prices, as the last Loop
// left it.
func (r *Run) Spend() cost.Spend { return r.spend }

// Setup makes a new run for cfg: the run folder in the user's repository
// (cfg.Repo), a clone of its HEAD on branch autoresearch/<tag>, an empty
// results.tsv and experiments.jsonl, logs/, transcripts/ and run.json. The
// user's checkout is not modified beyond an exclude line for .autoresearch/
// when its ignore rules miss it. The returned run holds the lock.
func Setup(cfg Config, rep status.Reporter) (*Run, error) {
	if err := CheckTag(cfg.Tag); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	root, err := gitops.Root(cfg.Repo)
	if err != nil {
		return nil, err
	}
	cfg.Repo, cfg.Branch, cfg.Version = root, "autoresearch/"+cfg.Tag, ConfigVersion
	if cfg.Created.IsZero() {
		cfg.Created = time.Now().UTC().Truncate(time.Second)
	}
	dir := Dir(root, cfg.Tag)
	if Exists(dir) && HasBaseline(dir) {
		return nil, fmt.Errorf("run %s already exists in %s: continue it with \"autoresearch run --tag %s\" or choose another --tag", cfg.Tag, dir, cfg.Tag)
	}
	if ok, err := gitops.BranchExists(root, cfg.Branch); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("branch %s already exists in %s: choose another --tag", cfg.Branch, root)
	}
	if rep == nil {
		rep = status.Nop{}
	}
	if added, err := gitops.EnsureExcluded(root, RunsDir); err != nil {
		return nil, fmt.Errorf("excluding %s/ from git: %w", RunsDir, err)
	} else if added {
		rep.Logf("added /%s/ to the repository's .git/info/exclude", RunsDir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Reporter: rep, best: math.NaN()}
	if r.lock, err = acquire(filepath.Join(dir, lockFile), cfg.Tag); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
			r.Close()
		}
	}()
	if Exists(dir) && !HasBaseline(dir) {
		// Nobody holds it and it never recorded a baseline (the baseline
		// crashed or was stopped): set it up again from the current HEAD.
		rep.Logf("run %s never recorded a baseline; setting it up again (its old logs are removed)", cfg.Tag)
	} else if Exists(dir) {
		// Another process finished setting up this tag meanwhile.
		ok = true
		r.Close()
		return nil, fmt.Errorf("run %s already exists in %s: continue it with \"autoresearch run --tag %s\" or choose another --tag", cfg.Tag, dir, cfg.Tag)
	}
	// Anything else here is what a setup that died half-way left: start over.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name() != lockFile {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
	}
	if r.repo, err = gitops.Clone(root, filepath.Join(dir, WorktreeDir), cfg.Branch); err != nil {
		return nil, err
	}
	if cfg.BaseCommit, err = r.repo.Head(); err != nil {
		return nil, err
	}
	if err := linkShared(root, r.repo.Dir(), cfg.Task.Shared); err != nil {
		return nil, err
	}
	for _, d := range []string{LogsDir, TranscriptsDir} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := results.Create(filepath.Join(dir, ResultsFile), cfg.Task.Metric.Name); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, RecordsFile), nil, 0o644); err != nil {
		return nil, err
	}
	// run.json last: its presence means the setup is complete.
	if err := cfg.save(filepath.Join(dir, ConfigFile)); err != nil {
		return nil, err
	}
	r.Config, r.kept = cfg, cfg.BaseCommit
	ok = true
	return r, nil
}

// HasBaseline reports whether the run in dir has recorded its baseline (a
// row of results.tsv); one without is set up afresh by Setup.
func HasBaseline(dir string) bool {
	f, err := results.ReadFile(filepath.Join(dir, ResultsFile))
	return err != nil || len(f.Rows) > 0
}

// Open opens the run in dir, takes its lock and resumes it: the worktree is
// reset to the last kept commit (rolling back an experiment that was cut
// short) and numbering and the best continue from results.tsv.
func Open(dir string, rep status.Reporter) (*Run, error) {
	if rep == nil {
		rep = status.Nop{}
	}
	cfg, err := loadConfig(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no run in %s (it has no %s): start one with \"autoresearch baseline\"", dir, ConfigFile)
	}
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Config: *cfg, Reporter: rep, best: math.NaN()}
	if r.lock, err = acquire(filepath.Join(dir, lockFile), cfg.Tag); err != nil {
		return nil, err
	}
	if r.lock.stale != 0 {
		rep.Logf("run %s: process %d ended without releasing the run; taking it over", cfg.Tag, r.lock.stale)
	}
	if err := r.resume(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Run) resume() error {
	var err error
	if r.repo, err = gitops.Open(filepath.Join(r.Dir, WorktreeDir)); err != nil {
		return err
	}
	for _, f := range []string{ResultsFile, RecordsFile} {
		if cut, err := cutTornLine(filepath.Join(r.Dir, f)); err != nil {
			return err
		} else if cut {
			r.Reporter.Logf("%s ended in a torn line (an interrupted write): removed it", f)
		}
	}
	rf, err := results.ReadFile(filepath.Join(r.Dir, ResultsFile))
	if err != nil {
		return fmt.Errorf("reading the run's results: %w", err)
	}
	r.rows = rf.Rows
	r.kept = r.Config.BaseCommit
	lastKeep := ""
	for _, row := range r.rows {
		if row.Status == results.Keep {
			r.best, lastKeep = row.Value, row.Commit
		}
	}
	if lastKeep != "" {
		if r.kept, err = r.repo.FindKept(lastKeep, r.Config.BaseCommit); err != nil {
			return fmt.Errorf("the last kept commit of results.tsv: %w", err)
		}
	}
	if n := len(r.rows); n > 0 {
		last := r.rows[n-1]
		r.last = &agent.Outcome{Description: last.Description, Status: last.Status, Value: last.Value}
	}
	// How the last experiment's and the best's training went is in
	// experiments.jsonl; without it (an older run) proposers go without.
	recs, _ := ReadRecords(r.path(RecordsFile))
	r.relearn(recs)
	if recs != nil {
		for _, rec := range recs {
			o := rec.outcome()
			if rec.N == len(r.rows)-1 && rec.Status == string(r.last.Status) {
				r.last = o
			}
			if rec.Status == string(results.Keep) {
				if len(rec.Logs) > 0 {
					o.LogSection = r.logSection(rec.Logs[0])
				}
				r.bestOutcome = o
			}
		}
	}
	head, err := r.repo.Head()
	if err != nil {
		return err
	}
	if head != r.kept || r.repo.Guard(r.kept, nil) != nil {
		r.Reporter.Logf("run %s: rolling back an unfinished experiment %d to the last kept commit %s", r.Config.Tag, len(r.rows), short(r.kept))
	}
	return r.rollback()
}

// Close releases the run's lock.
func (r *Run) Close() error {
	err := r.lock.release()
	r.lock = nil
	return err
}

// Rows returns the results so far, oldest first.
func (r *Run) Rows() []results.Row { return append([]results.Row(nil), r.rows...) }

// Best returns the metric of the last kept experiment; false before the baseline.
func (r *Run) Best() (float64, bool) { return r.best, !math.IsNaN(r.best) }

// Kept returns the full hash of the last kept commit.
func (r *Run) Kept() string { return r.kept }

// Worktree returns the folder of the run's clone.
func (r *Run) Worktree() string { return r.repo.Dir() }

// SetClock sets the time stamped on the run's commits (for reproducible
// hashes in tests).
func (r *Run) SetClock(now func() time.Time) { r.repo.Now = now }

func (r *Run) path(rel string) string { return filepath.Join(r.Dir, filepath.FromSlash(rel)) }

func short(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}

// rollback makes the run's worktree the last kept commit again. The reset
// removes untracked files, the links of shared paths too: they are made again.
func (r *Run) rollback() error {
	if err := r.repo.ResetHard(r.kept); err != nil {
		return fmt.Errorf("rolling the worktree back to %s: %w", short(r.kept), err)
	}
	return linkShared(r.Config.Repo, r.repo.Dir(), r.Config.Task.Shared)
}

// pushBack publishes the branch to the user's repository; a failure is
// reported and retried at the next keep, never fatal.
func (r *Run) pushBack() {
	if err := r.repo.PushBack(r.Config.Repo); err != nil {
		r.reporter().Logf("could not update %s in your repository: %v", r.Config.Branch, strings.TrimSpace(err.Error()))
	}
}

func (r *Run) reporter() status.Reporter {
	if r.Reporter == nil {
		return status.Nop{}
	}
	return r.Reporter
}
