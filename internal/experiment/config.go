package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/task"
)

// ConfigVersion is the run.json format this package writes. Version 1 (the
// task's fields at the top level, the GPT task implied by an empty "task")
// is read and upgraded (see upgradeV1).
const ConfigVersion = 2

// Config is a run's configuration, stored as run.json: the task researched
// and how this run of it is set up. It is fixed at setup: results are
// comparable only within one configuration.
type Config struct {
	Version int    `json:"version"`
	Tag     string `json:"tag"`
	// Repo is the user's repository (its top folder) and Branch the run's
	// branch there and in the worktree.
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	// BaseCommit is the user's HEAD at setup: every path but the editable
	// ones must stay as it is there.
	BaseCommit string    `json:"base_commit"`
	Created    time.Time `json:"created"`
	// Executor runs the program: local (empty) or slurm, with ExecutorArgs
	// passed to it (sbatch's arguments). Chosen at setup; run may override it.
	Executor     string   `json:"executor,omitempty"`
	ExecutorArgs []string `json:"executor_args,omitempty"`
	// BaselineRepeats is how often the baseline is measured (0 or 1: once);
	// Noise is what those runs measured, set once the baseline is recorded.
	BaselineRepeats int    `json:"baseline_repeats,omitempty"`
	Noise           *Noise `json:"noise,omitempty"`
	// Task is what is researched.
	Task task.Task `json:"task"`
}

// HardLimit is the wall-clock time after which a run of the program is killed.
func (c *Config) HardLimit() time.Duration { return c.Task.HardLimit() }

func (c *Config) validate() error {
	if c.Tag == "" {
		return errors.New("run configuration lacks its tag")
	}
	return c.Task.Validate()
}

// LoadConfig reads the run.json of the run folder dir.
func LoadConfig(dir string) (*Config, error) { return loadConfig(filepath.Join(dir, ConfigFile)) }

func loadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s is damaged: %v", path, err)
	}
	var c Config
	switch v.Version {
	case 1:
		if c, err = upgradeV1(b); err != nil {
			return nil, fmt.Errorf("%s is damaged: %v", path, err)
		}
	case ConfigVersion:
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("%s is damaged: %v", path, err)
		}
	default:
		return nil, fmt.Errorf("%s has format version %d; this autoresearch reads versions 1 and %d: use the autoresearch that set the run up to continue it", path, v.Version, ConfigVersion)
	}
	return &c, c.validate()
}

// configV1 is run.json as version 1 wrote it: the task's fields at the top,
// Task naming the task file ("" for the built-in GPT).
type configV1 struct {
	Tag                  string         `json:"tag"`
	Repo                 string         `json:"repo"`
	Branch               string         `json:"branch"`
	BaseCommit           string         `json:"base_commit"`
	Profile              string         `json:"profile"`
	Device               string         `json:"device"`
	DeviceDetail         string         `json:"device_detail"`
	Task                 string         `json:"task"`
	Editable             []string       `json:"editable"`
	Shared               []string       `json:"shared"`
	Build                task.Command   `json:"build"`
	Run                  task.Command   `json:"run"`
	Readable             []string       `json:"readable"`
	Limits               sandbox.Limits `json:"limits"`
	Metric               task.Metric    `json:"metric"`
	MemoryKeys           []string       `json:"memory_keys"`
	MemoryPattern        string         `json:"memory_pattern"`
	ProgressPattern      string         `json:"progress_pattern"`
	Executor             string         `json:"executor"`
	ExecutorArgs         []string       `json:"executor_args"`
	BudgetSeconds        float64        `json:"budget_seconds"`
	EvalAllowanceSeconds float64        `json:"eval_allowance_seconds"`
	HardLimitSeconds     float64        `json:"hard_limit_seconds"`
	Created              time.Time      `json:"created"`
	BaselineRepeats      int            `json:"baseline_repeats"`
	Noise                *Noise         `json:"noise"`
}

// V1GPT is Task.Source of a run that version 1 set up on the built-in GPT
// task: what it measures and runs is in run.json, but not the words the
// agent's prompt uses, its progress, warm-up and fail lines and its data
// check, which the commands fill in from the built-in task when they open it.
const V1GPT = "gpt (version 1)"

// upgradeV1 reads a version 1 run.json as a version 2 configuration.
func upgradeV1(b []byte) (Config, error) {
	var o configV1
	if err := json.Unmarshal(b, &o); err != nil {
		return Config{}, err
	}
	t := task.Task{Source: o.Task, Profile: o.Profile, Editable: o.Editable, Shared: o.Shared,
		Build: o.Build, Run: o.Run, Device: task.Device{Name: o.Device, Detail: o.DeviceDetail},
		BudgetSeconds: o.BudgetSeconds, AllowanceSeconds: o.EvalAllowanceSeconds, HardLimitSeconds: o.HardLimitSeconds,
		Limits: o.Limits, Readable: o.Readable, Metric: o.Metric, Progress: o.ProgressPattern,
		Memory: task.Memory{Keys: o.MemoryKeys, Pattern: o.MemoryPattern}}
	if t.Memory.Pattern != "" {
		t.Memory.Keys = nil // version 1 listed the pattern's figure among the keys
	}
	if t.Source == "" {
		t.Source = V1GPT
	}
	if t.Device.Name == "" {
		t.Device.Name = task.CPU
	}
	if t.HardLimitSeconds <= 0 {
		t.HardLimitSeconds = task.DefaultHardLimit(t.Budget(), time.Duration(t.AllowanceSeconds*float64(time.Second))).Seconds()
	}
	return Config{Version: ConfigVersion, Tag: o.Tag, Repo: o.Repo, Branch: o.Branch, BaseCommit: o.BaseCommit,
		Created: o.Created, Executor: o.Executor, ExecutorArgs: o.ExecutorArgs, BaselineRepeats: o.BaselineRepeats,
		Noise: o.Noise, Task: t}, nil
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

// MetricOf is the metric of the results file at path: from the run.json
// beside it, else from the task file of the repository holding dir when
// that names the same metric, else val_bpb's (lower is better), as the
// original's files have it.
func MetricOf(path, dir string) task.Metric {
	if cfg, err := LoadConfig(filepath.Dir(path)); err == nil {
		return cfg.Task.Metric
	}
	fallback := task.Metric{Name: results.DefaultMetric, LowerIsBetter: true}
	root, err := gitops.Root(dir)
	if err != nil || !task.Exists(root) {
		return fallback
	}
	t, err := task.Load(root, task.Options{})
	if err != nil {
		return fallback
	}
	if f, err := results.ReadFile(path); err != nil || f.Metric != t.Metric.Name {
		return fallback
	}
	return t.Metric
}
