// Package agent holds the proposers: what decides the next change to try. A
// proposer edits the task's editable files in a clone of the run and
// describes the change in one line; the experiment loop then guards,
// commits, builds, runs and decides. Two proposers exist: the LLM agent (tool
// calling through an OpenAI-compatible API) and the sweep agent (offline:
// one constant at a time, deterministic from a seed). They know the task
// only through task.Task: its files, metric and budget, and the words its
// prompt uses.
package agent

import (
	"context"
	"errors"

	"autoresearch/internal/contract"
	"autoresearch/internal/results"
	"autoresearch/internal/task"
)

// Proposer decides and makes the next change.
type Proposer interface {
	// Name identifies the proposer in records, e.g. "sweep" or "llm:gpt-5".
	Name() string
	// Propose edits files in req.Worktree (only req.Task.Editable) and returns
	// a one-line description of the change.
	Propose(ctx context.Context, req Request) (Proposal, error)
	// Repair tries to fix the change that failed as f describes, editing the
	// same files in place. It returns an error wrapping ErrGaveUp to abandon
	// the idea.
	Repair(ctx context.Context, req Request, f Failure) (Proposal, error)
}

// ErrGaveUp is wrapped by Repair when the proposer abandons a failing idea.
var ErrGaveUp = errors.New("gave up")

// ErrAbandoned is wrapped by Propose when no usable proposal came out (for
// example the model never submitted). The loop records it and goes on.
var ErrAbandoned = errors.New("proposal abandoned")

// Request is everything a proposer may know when it proposes.
type Request struct {
	N        int    // the experiment's number (the baseline is 0)
	Program  string // the human's instructions (program.md)
	Worktree string // absolute path of the clone to edit
	// Task is what is researched: the editable paths (relative to Worktree),
	// the metric and its direction, the budget, the device, whether there is
	// a build, and the words the prompt uses for the program.
	Task task.Task
	// Noise is the metric's run-to-run spread (a standard deviation pooled
	// over NoiseRuns runs of the programs measured more than once, the
	// baseline's among them; 0 when the baseline was measured once) and
	// Threshold how much a change must beat the best by to be kept, at the
	// least; Margins how much the mean of its runs must beat it by after 2,
	// 3, ... runs (after 1 when a change is measured once).
	Noise     float64
	NoiseRuns int
	Threshold float64
	Margins   []float64
	Results   []results.Row // every row so far, oldest first
	Last      *Outcome      // the previous experiment's outcome; nil before the first
	Best      *Outcome      // the current best's (the last kept experiment's); nil before the baseline
	// InFlight describes the experiments other workers are measuring now:
	// a proposal must not repeat one.
	InFlight []string
	// Check builds the program in the worktree as it is now and returns the
	// compiler's output and whether it built. Proposers use it to catch
	// compile errors before a training run is spent.
	Check func(ctx context.Context) (output string, ok bool)
	// TranscriptPath is where the proposer saves its conversation, if it has
	// one (JSON lines); empty means do not save.
	TranscriptPath string
	// Note shows the user a line about the proposal while it is being made
	// (an LLM request being retried); nil shows nothing.
	Note func(format string, args ...any)
}

// Outcome is how an experiment ended, as the next proposal sees it.
type Outcome struct {
	Description string
	Status      results.Status
	Value       float64 // the metric; 0 for a crash
	Crash       string  // for a crash: build, runtime, timeout or guard
	LogTail     string  // the last lines of the training log (crashes)
	// How training went, when the program reported it: the summary's
	// figures (steps, tokens/s, MFU, memory...) and its training curve.
	Figures map[string]float64
	Curve   []contract.CurvePoint
	// LogSection is the section of the log the task names for the agent
	// (task.Prompt.Log); "" when none.
	LogSection string
}

// Failure describes a failed attempt for Repair.
type Failure struct {
	Kind    string // "build" (compiler output) or "runtime" (log tail)
	Output  string // the compiler's output or the last 50 lines of the log
	Attempt int    // 1 for the first repair of this idea
}

// Proposal is a proposer's answer.
type Proposal struct {
	Description      string
	PromptTokens     int // LLM tokens spent, when known
	CompletionTokens int
	ToolCalls        int
}
