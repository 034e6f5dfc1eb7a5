package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
	"autoresearch/internal/sandbox"
)

// ConfigVersion is the run.json format this package writes.
const ConfigVersion = 1

// Config is a run's configuration, stored as run.json. It is fixed at setup:
// results are comparable only within one configuration.
type Config struct {
	Version int    `json:"version"`
	Tag     string `json:"tag"`
	// Repo is the user's repository (its top folder) and Branch the run's
	// branch there and in the worktree.
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	// BaseCommit is the user's HEAD at setup: every path but the editable
	// ones must stay as it is there.
	BaseCommit string `json:"base_commit"`
	// Profile and Device say where the program ran (for the reader; the
	// program learns them from Run.Env).
	Profile      string `json:"profile"`
	Device       string `json:"device"`
	DeviceDetail string `json:"device_detail,omitempty"`
	// Task is the task file the configuration came from (autoresearch.toml,
	// relative to Repo); empty for the built-in GPT task.
	Task string `json:"task,omitempty"`
	// Editable lists the slash-separated paths the proposer may change.
	Editable []string `json:"editable"`
	// Shared lists untracked, git-ignored paths of the user's repository that
	// the build needs (a vendor folder on a machine without network): each is
	// linked into the worktree, never copied or committed.
	Shared []string `json:"shared,omitempty"`
	// Build and Run are commands in the worktree. The placeholders {bin}
	// and {worktree} are replaced before each use. A task may have no build
	// (an empty Build.Argv): its program runs as it is.
	Build Command `json:"build"`
	Run   Command `json:"run"`
	// Readable lists what the program reads outside the worktree (the data
	// home): in the sandbox it may read these and nothing else of the user's.
	Readable []string `json:"readable,omitempty"`
	// Limits are the program's resource limits in the sandbox.
	Limits sandbox.Limits `json:"limits"`
	// Metric names the figure to improve and its direction.
	Metric Metric `json:"metric"`
	// MemoryKeys are figures in MB; the first non-zero one becomes
	// results.tsv's memory_gb.
	MemoryKeys []string `json:"memory_keys"`
	// MemoryPattern is a regular expression whose first group, on the last
	// log line it matches, is the memory in MB (figure MemoryFigure).
	MemoryPattern string `json:"memory_pattern,omitempty"`
	// ProgressPattern is a regular expression whose first group is the
	// training progress in percent; empty means the trainer's step line.
	ProgressPattern string `json:"progress_pattern,omitempty"`
	// BudgetSeconds is the training time the program gives itself; the run is
	// killed at HardLimitSeconds, by default runner.HardLimit of the budget,
	// the allowance and the device.
	// Executor runs the training program: local (empty) or slurm, with
	// ExecutorArgs passed to it (sbatch's arguments). Chosen at setup; run
	// may override it.
	Executor             string    `json:"executor,omitempty"`
	ExecutorArgs         []string  `json:"executor_args,omitempty"`
	BudgetSeconds        float64   `json:"budget_seconds"`
	EvalAllowanceSeconds float64   `json:"eval_allowance_seconds"`
	HardLimitSeconds     float64   `json:"hard_limit_seconds"`
	Created              time.Time `json:"created"`
	// BaselineRepeats is how often the baseline is measured (0 or 1: once);
	// Noise is what those runs measured, set once the baseline is recorded.
	BaselineRepeats int    `json:"baseline_repeats,omitempty"`
	Noise           *Noise `json:"noise,omitempty"`
}

// Command is a program and the settings it gets beyond the basics.
type Command struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env,omitempty"` // KEY=VALUE
}

// Metric is the figure experiments try to improve.
type Metric struct {
	Name          string `json:"name"`
	LowerIsBetter bool   `json:"lower_is_better"`
	// Pattern is a regular expression whose first group is the metric; the
	// last log line that matches counts. Empty: the metric comes from the
	// summary block or the JSON file.
	Pattern string `json:"pattern,omitempty"`
}

// MemoryFigure names the figure MemoryPattern reads.
const MemoryFigure = "memory_mb"

// Direction is "lower is better" or "higher is better".
func (m Metric) Direction() string {
	if m.LowerIsBetter {
		return "lower is better"
	}
	return "higher is better"
}

// Better reports whether v beats best by more than delta.
func (m Metric) Better(v, best, delta float64) bool {
	if m.LowerIsBetter {
		return v < best-delta
	}
	return v > best+delta
}

// HardLimit is the wall-clock time after which a run is killed.
func (c *Config) HardLimit() time.Duration {
	if c.HardLimitSeconds > 0 {
		return seconds(c.HardLimitSeconds)
	}
	return runner.HardLimit(seconds(c.BudgetSeconds), seconds(c.EvalAllowanceSeconds), c.Device)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (c *Config) validate() error {
	var missing []string
	if c.Tag == "" {
		missing = append(missing, "tag")
	}
	if len(c.Editable) == 0 {
		missing = append(missing, "editable")
	}
	if len(c.Run.Argv) == 0 {
		missing = append(missing, "run.argv")
	}
	if c.Metric.Name == "" {
		missing = append(missing, "metric.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("run configuration lacks %v", missing)
	}
	for key, p := range map[string]string{"metric.pattern": c.Metric.Pattern, "memory_pattern": c.MemoryPattern} {
		if _, err := patternOf(p); err != nil {
			return fmt.Errorf("%s of run.json: %v", key, err)
		}
	}
	if c.HardLimit() <= 0 {
		return errors.New("run configuration has no hard limit: set budget_seconds or hard_limit_seconds")
	}
	for _, p := range append(append([]string(nil), c.Editable...), c.Shared...) {
		if filepath.IsAbs(p) || p != filepath.ToSlash(filepath.Clean(p)) || p == "." || len(p) > 1 && p[:2] == ".." {
			return fmt.Errorf("path %q of run.json must be a clean slash-separated path inside the repository", p)
		}
	}
	return nil
}

// patternOf compiles a pattern of run.json: a regular expression with a
// group for the number. Empty gives nil.
func patternOf(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("%s has no group: put the number in parentheses", p)
	}
	return re, nil
}

// Patterns returns the figures the runner reads from the log by pattern:
// the metric's and the memory's, when set.
func (c *Config) Patterns() map[string]*regexp.Regexp {
	pats := map[string]*regexp.Regexp{}
	if re, _ := patternOf(c.Metric.Pattern); re != nil {
		pats[c.Metric.Name] = re
	}
	if re, _ := patternOf(c.MemoryPattern); re != nil {
		pats[MemoryFigure] = re
	}
	if len(pats) == 0 {
		return nil
	}
	return pats
}

// LoadConfig reads the run.json of the run folder dir.
func LoadConfig(dir string) (*Config, error) { return loadConfig(filepath.Join(dir, ConfigFile)) }

func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s is damaged: %v", path, err)
	}
	if c.Version != ConfigVersion {
		return nil, fmt.Errorf("%s has format version %d; this autoresearch reads version %d", path, c.Version, ConfigVersion)
	}
	return &c, c.validate()
}

func (c *Config) save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// linkShared links each of the user's shared paths that exists into the
// worktree, replacing a stale link. A path missing in the repository is
// skipped (the build then reports what it lacks), and so is one the clone
// holds itself because it is tracked.
func linkShared(repo, worktree string, paths []string) error {
	for _, p := range paths {
		src := filepath.Join(repo, filepath.FromSlash(p))
		if _, err := os.Stat(src); err != nil {
			continue
		}
		dst := filepath.Join(worktree, filepath.FromSlash(p))
		if fi, err := os.Lstat(dst); err == nil && fi.Mode()&os.ModeSymlink == 0 {
			continue // the repository tracks it: the clone has its own
		}
		if cur, err := os.Readlink(dst); err == nil && cur == src {
			continue
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("linking %s into the worktree: %w", p, err)
		}
		if err := os.Symlink(src, dst); err != nil {
			return fmt.Errorf("linking %s into the worktree: %w", p, err)
		}
		if _, err := gitops.EnsureExcludedFile(worktree, p); err != nil {
			return fmt.Errorf("excluding %s from the worktree's git status: %w", p, err)
		}
	}
	return nil
}
