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
	Source        string // where the task came from: its task file, or the built-in task's name (gpt)
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
// task fields: version 2 keeps them under "task", version 1 at the top (its
// "task" named the task file, empty for the built-in GPT task).
func ReadRunInfo(dir string) (RunInfo, error) {
	path := filepath.Join(dir, runs.ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return RunInfo{}, nil
	}
	if err != nil {
		return RunInfo{}, err
	}
	type metric struct {
		Name          string `json:"name"`
		LowerIsBetter bool   `json:"lower_is_better"`
	}
	var cfg struct {
		Version    int       `json:"version"`
		Tag        string    `json:"tag"`
		Created    time.Time `json:"created"`
		Branch     string    `json:"branch"`
		BaseCommit string    `json:"base_commit"`
		Task       json.RawMessage
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return RunInfo{}, fmt.Errorf("%s: %v", path, err)
	}
	info := RunInfo{Tag: cfg.Tag, Created: cfg.Created, Branch: cfg.Branch, BaseCommit: cfg.BaseCommit, Found: true}
	var t struct {
		Source        string   `json:"source"`
		Editable      []string `json:"editable"`
		Metric        metric   `json:"metric"`
		Profile       string   `json:"profile"`
		BudgetSeconds float64  `json:"budget_seconds"`
	}
	var device string
	if cfg.Version >= 2 {
		var d struct {
			Device struct {
				Name string `json:"name"`
			} `json:"device"`
		}
		if err := errors.Join(json.Unmarshal(cfg.Task, &t), json.Unmarshal(cfg.Task, &d)); err != nil {
			return RunInfo{}, fmt.Errorf("%s: %v", path, err)
		}
		device = d.Device.Name
	} else {
		var v1 struct {
			Task   string `json:"task"`
			Device string `json:"device"`
		}
		if err := errors.Join(json.Unmarshal(b, &t), json.Unmarshal(b, &v1)); err != nil {
			return RunInfo{}, fmt.Errorf("%s: %v", path, err)
		}
		t.Source, device = v1.Task, v1.Device
		if t.Source == "" {
			t.Source = "gpt"
		}
	}
	info.Metric, info.LowerIsBetter, info.Editable = t.Metric.Name, t.Metric.LowerIsBetter, t.Editable
	info.Source, info.Profile, info.Device = t.Source, t.Profile, device
	info.Budget = time.Duration(t.BudgetSeconds * float64(time.Second))
	return info, nil
}
