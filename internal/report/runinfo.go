package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"autoresearch/internal/runs"
)

// RunInfo is what the report shows of a run's run.json: the task and where
// it ran. The zero value stands for a results file without a run.json.
type RunInfo struct {
	Tag           string
	Metric        string
	LowerIsBetter bool
	Editable      []string
	Task          string // the task file, relative to the repository; "" for the built-in GPT task
	Profile       string
	Device        string
	Budget        time.Duration
	Created       time.Time
	Branch        string
	BaseCommit    string
	Found         bool // run.json was there
}

// ReadRunInfo reads the run.json of the run folder dir; a folder without one
// gives the zero RunInfo. This is the report's only reader of run.json's
// task fields, so that a change of its layout is mended here.
func ReadRunInfo(dir string) (RunInfo, error) {
	path := filepath.Join(dir, runs.ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return RunInfo{}, nil
	}
	if err != nil {
		return RunInfo{}, err
	}
	var cfg struct {
		Tag    string `json:"tag"`
		Metric struct {
			Name          string `json:"name"`
			LowerIsBetter bool   `json:"lower_is_better"`
		} `json:"metric"`
		Editable      []string  `json:"editable"`
		Task          string    `json:"task"`
		Profile       string    `json:"profile"`
		Device        string    `json:"device"`
		BudgetSeconds float64   `json:"budget_seconds"`
		Created       time.Time `json:"created"`
		Branch        string    `json:"branch"`
		BaseCommit    string    `json:"base_commit"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return RunInfo{}, fmt.Errorf("%s: %v", path, err)
	}
	return RunInfo{
		Tag: cfg.Tag, Metric: cfg.Metric.Name, LowerIsBetter: cfg.Metric.LowerIsBetter,
		Editable: cfg.Editable, Task: cfg.Task, Profile: cfg.Profile, Device: cfg.Device,
		Budget:  time.Duration(cfg.BudgetSeconds * float64(time.Second)),
		Created: cfg.Created, Branch: cfg.Branch, BaseCommit: cfg.BaseCommit, Found: true,
	}, nil
}
