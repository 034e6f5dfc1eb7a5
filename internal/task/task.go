package task

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"autoresearch/internal/contract"
	"autoresearch/internal/sandbox"
)

// Task is what a run researches: everything the loop, the runner, the
// sandbox and the agents need to know about the program, and all they may
// know. It is stored in run.json; task files and the built-in GPT task both
// produce one.
type Task struct {
	// Source says where the task came from: File for a task file, or the
	// name of a built-in task ("gpt").
	Source string `json:"source"`
	// Profile is a built-in task's profile (smoke, cpu, gpu), for the reader.
	Profile string `json:"profile,omitempty"`
	// Editable lists the slash-separated paths the proposer may change;
	// everything else is locked.
	Editable []string `json:"editable"`
	// Shared lists untracked, git-ignored paths of the user's repository
	// that each clone needs (a vendor folder on a machine without network):
	// each is linked into the clone, never copied or committed.
	Shared []string `json:"shared,omitempty"`
	// Build and Run are commands in the clone. The placeholders {bin} and
	// {worktree} are replaced before each use. A task may have no build (an
	// empty Build.Argv): its program runs as it is.
	Build Command `json:"build"`
	Run   Command `json:"run"`
	// Device is where the program computes; it decides which device files
	// the sandbox opens and how workers split the machine.
	Device Device `json:"device"`
	// BudgetSeconds is the time the program keeps itself to (given to it in
	// contract.EnvBudget); HardLimitSeconds is when it is killed as a
	// timeout, AllowanceSeconds the share of that for start-up and
	// evaluation.
	BudgetSeconds    float64 `json:"budget_seconds"`
	AllowanceSeconds float64 `json:"allowance_seconds"`
	HardLimitSeconds float64 `json:"hard_limit_seconds"`
	// Limits are the program's resource limits in the sandbox, and Readable
	// what it reads outside the clone (the data home): in the sandbox it may
	// read these and nothing else of the user's.
	Limits   sandbox.Limits `json:"limits"`
	Readable []string       `json:"readable,omitempty"`
	// Allowed are the paths outside the repository the program may read or
	// execute besides Readable, each with why: the Python interpreter its
	// run command starts and that interpreter's installation (AllowPython),
	// found at setup.
	Allowed []AllowedPath `json:"allowed,omitempty"`
	// Metric is the figure to improve; Memory says where the peak memory is.
	Metric Metric `json:"metric"`
	Memory Memory `json:"memory"`
	// Progress is a regular expression whose first group is the share of the
	// budget spent, in percent (contract.ProgressPattern for the GPT); empty
	// shows no progress.
	Progress string `json:"progress,omitempty"`
	// Warmup names the lines that start and end untimed warm-up steps.
	Warmup Warmup `json:"warmup"`
	// FailLine is a line by which the program says it gave up (a NaN loss):
	// the run is a crash even when it exits 0. Empty for none.
	FailLine string `json:"fail_line,omitempty"`
	// Prompt holds the words the agent's prompt uses for this task.
	Prompt Prompt `json:"prompt"`
	// Program is the agent's instructions, relative to the repository; empty
	// for none.
	Program string `json:"program,omitempty"`
	// Requires lists what must exist before a run starts (prepared data).
	Requires []Require `json:"requires,omitempty"`
}

// Command is a program and the settings it gets beyond the basics.
type Command struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env,omitempty"` // KEY=VALUE, sorted by key
}

// Device is where a program computes.
type Device struct {
	Name   string `json:"name"`             // cpu or cuda
	Detail string `json:"detail,omitempty"` // the hardware, when known (a GPU's name)
}

// The devices a task can name.
const (
	CPU  = "cpu"
	CUDA = "cuda"
)

// String is the device with its detail, as the agent and the reader see it.
func (d Device) String() string {
	if d.Detail != "" {
		return d.Name + " (" + d.Detail + ")"
	}
	return d.Name
}

// Metric is the figure experiments try to improve.
type Metric struct {
	Name          string `json:"name"`
	LowerIsBetter bool   `json:"lower_is_better"`
	// Pattern is a regular expression whose first group is the metric; the
	// last log line that matches counts. Empty: the metric comes from the
	// result file or the summary block.
	Pattern string `json:"pattern,omitempty"`
}

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

// Memory says where a run's peak memory, in MB, is: the first non-zero of
// the figures Keys, or the first group of the last log line Pattern matches
// (then figure MemoryFigure).
type Memory struct {
	Keys    []string `json:"keys,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
}

// MemoryFigure names the figure Memory.Pattern reads.
const MemoryFigure = "memory_mb"

// Warmup names the lines a program prints when its untimed warm-up steps
// start and when its budget starts counting (prefixes); empty for none.
type Warmup struct {
	Start string `json:"start,omitempty"`
	Done  string `json:"done,omitempty"`
}

// Prompt is how the agent's prompt speaks of the task.
type Prompt struct {
	// What names the program under research, e.g. "the GPT training
	// program gpt/train.go (profile smoke)".
	What string `json:"what"`
	// Locked says what the agent must not edit besides the task's
	// evaluation, e.g. "harness/, internal/, go.mod and go.sum".
	Locked string `json:"locked"`
	// Rules are further lines of the protocol, e.g. which dependencies the
	// program may use.
	Rules []string `json:"rules,omitempty"`
	// Budget says what the budget counts, e.g. "wall-clock time".
	Budget string `json:"budget,omitempty"`
	// Figures are the reported figures the agent sees for the last
	// experiment and the best (steps, throughput, memory), in this order.
	Figures []string `json:"figures,omitempty"`
	// Log is a section of the log the agent sees for the current best.
	Log Section `json:"log"`
	// Verb is the word for a run of the program, as the live status shows
	// it: "training" for the GPT, "running" by default.
	Verb string `json:"verb,omitempty"`
}

// DefaultVerb is a task file's word for a run of its program when it names
// none.
const DefaultVerb = "running"

// Section is the part of a log from the first line matching Start up to the
// next line matching End (not included), shown under Title.
type Section struct {
	Title string `json:"title,omitempty"`
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Require is a file that must exist before a run starts; Missing says what
// to do when it does not.
type Require struct {
	Path    string `json:"path"`
	Missing string `json:"missing"`
}

// Check reports the first requirement that is not met.
func (t *Task) Check() error {
	for _, r := range t.Requires {
		if _, err := os.Stat(r.Path); err != nil {
			return errors.New(r.Missing)
		}
	}
	return nil
}

// Budget is the time the program keeps itself to.
func (t *Task) Budget() time.Duration { return seconds(t.BudgetSeconds) }

// HardLimit is the wall-clock time after which a run is killed.
func (t *Task) HardLimit() time.Duration { return seconds(t.HardLimitSeconds) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// DefaultHardLimit is a task's hard limit when it sets none: two budgets
// and the allowance.
func DefaultHardLimit(budget, allowance time.Duration) time.Duration { return 2*budget + allowance }

// Finish completes a task after its source filled it in: the budget joins
// the run's environment (contract.EnvBudget), each environment is sorted by
// key, and a missing hard limit gets the default. Both sources call it, so
// that the same task has one form.
func (t *Task) Finish() {
	if t.HardLimitSeconds <= 0 {
		t.HardLimitSeconds = DefaultHardLimit(t.Budget(), seconds(t.AllowanceSeconds)).Seconds()
	}
	env := append(t.Run.Env, contract.EnvBudget+"="+strconv.FormatFloat(t.BudgetSeconds, 'f', -1, 64),
		// Python must not write __pycache__ into the clone: the program
		// leaves the worktree as the commit has it.
		"PYTHONDONTWRITEBYTECODE=1")
	t.Run.Env = sortEnv(env)
	t.Build.Env = sortEnv(t.Build.Env)
	if t.Device.Name == "" {
		t.Device.Name = CPU
	}
}

// sortEnv sorts KEY=VALUE settings by key; a later setting of a key wins.
func sortEnv(env []string) []string {
	last := map[string]string{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		last[k] = kv
	}
	if len(last) == 0 {
		return nil
	}
	out := make([]string, 0, len(last))
	for _, kv := range last {
		out = append(out, kv)
	}
	slices.SortFunc(out, func(a, b string) int {
		ka, _, _ := strings.Cut(a, "=")
		kb, _, _ := strings.Cut(b, "=")
		return strings.Compare(ka, kb)
	})
	return out
}

// Validate says what makes the task unusable, if anything.
func (t *Task) Validate() error {
	var missing []string
	if len(t.Editable) == 0 {
		missing = append(missing, "editable")
	}
	if len(t.Run.Argv) == 0 {
		missing = append(missing, "run.argv")
	}
	if t.Metric.Name == "" {
		missing = append(missing, "metric.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the task lacks %v", missing)
	}
	for key, p := range map[string]string{"metric.pattern": t.Metric.Pattern, "memory.pattern": t.Memory.Pattern, "progress": t.Progress} {
		if _, err := PatternOf(p); err != nil {
			return fmt.Errorf("%s of the task: %v", key, err)
		}
	}
	for key, p := range map[string]string{"prompt.log.start": t.Prompt.Log.Start, "prompt.log.end": t.Prompt.Log.End} {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("%s of the task: %v", key, err)
		}
	}
	if t.HardLimit() <= 0 {
		return errors.New("the task has no hard limit: set its budget or hard limit")
	}
	if t.Device.Name != CPU && t.Device.Name != CUDA {
		return fmt.Errorf("the task's device %q is none of cpu and cuda", t.Device.Name)
	}
	for _, p := range append(append([]string(nil), t.Editable...), t.Shared...) {
		if !cleanPath(p) {
			return fmt.Errorf("path %q of the task must be a clean slash-separated path inside the repository", p)
		}
	}
	return nil
}

// PatternOf compiles a pattern whose first group is a number; empty gives nil.
func PatternOf(p string) (*regexp.Regexp, error) {
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
// the metric's and the memory's, when set; nil when neither is.
func (t *Task) Patterns() map[string]*regexp.Regexp {
	pats := map[string]*regexp.Regexp{}
	if re, _ := PatternOf(t.Metric.Pattern); re != nil {
		pats[t.Metric.Name] = re
	}
	if re, _ := PatternOf(t.Memory.Pattern); re != nil {
		pats[MemoryFigure] = re
	}
	if len(pats) == 0 {
		return nil
	}
	return pats
}

// MemoryKeys are the figures that hold the peak memory in MB, in order.
func (t *Task) MemoryKeys() []string {
	if t.Memory.Pattern != "" {
		return append(append([]string(nil), t.Memory.Keys...), MemoryFigure)
	}
	return t.Memory.Keys
}

// LogSection returns the task's section of a log (see Section); "" when the
// task names none or the log lacks it.
func (t *Task) LogSection(log string) string {
	s := t.Prompt.Log
	if s.Start == "" {
		return ""
	}
	start, err := regexp.Compile(s.Start)
	if err != nil {
		return ""
	}
	var end *regexp.Regexp
	if s.End != "" {
		if end, err = regexp.Compile(s.End); err != nil {
			return ""
		}
	}
	var out []string
	in := false
	for _, line := range strings.Split(log, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case !in && start.MatchString(line):
			in = true
		case in && end != nil && end.MatchString(line):
			return strings.Join(out, "\n")
		}
		if in {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func cleanPath(p string) bool {
	return p != "" && !filepath.IsAbs(p) && p == filepath.ToSlash(filepath.Clean(p)) && p != "." && !strings.HasPrefix(p, "../") && p != ".."
}
