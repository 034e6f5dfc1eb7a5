package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"autoresearch/internal/agent"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
)

// request is what the proposer may know for a proposal asked under number n.
func (r *Run) request(n int, o Options, transcript string) agent.Request {
	rule := r.KeepRule(o)
	noise, runs := 0.0, 0
	var margins []float64
	if r.Config.Noise != nil && rule.Sigma > 0 {
		noise, runs = rule.Sigma, r.noise.Pool.Runs()
		for n := min(2, 1+rule.Remeasure); n <= 1+rule.Remeasure; n++ {
			margins = append(margins, rule.Margin(n))
		}
	}
	return agent.Request{
		N:              n,
		Program:        o.Program,
		Worktree:       r.Worktree(),
		Task:           r.Config.Task,
		Noise:          noise,
		NoiseRuns:      runs,
		Threshold:      rule.Margin(1 + rule.Remeasure),
		Margins:        margins,
		Results:        r.Rows(),
		Last:           r.last,
		Best:           r.bestOutcome,
		TranscriptPath: r.path(transcript),
		Note: func(format string, args ...any) {
			r.reporter().Logf("experiment %d: %s", n, fmt.Sprintf(format, args...))
		},
	}
}

// checker is the check of a proposal in worker w's clone: the task's build
// of the clone as it is now, for proposers that want to see compile errors
// (and imports the sandbox refuses) before submitting; nil for a task
// without a build.
func (r *Run) checker(w *worker) func(context.Context) (string, bool) {
	t := &r.Config.Task
	if len(t.Build.Argv) == 0 {
		return nil
	}
	return func(ctx context.Context) (string, bool) {
		if err := r.checkImports(w); err != nil {
			return err.Error(), false
		}
		vars := map[string]string{runner.BinVar: filepath.Join(w.bin, "check"), runner.WorktreeVar: w.worktree}
		out, err := runner.Build(ctx, w.worktree, runner.Expand(t.Build.Argv, vars), runner.Expand(t.Build.Env, vars))
		if err != nil && out == "" {
			out = err.Error()
		}
		return out, err == nil
	}
}

// outcomeOf is how an experiment ended, as the next proposal sees it.
func (r *Run) outcomeOf(rec *Record, a *attemptResult) *agent.Outcome {
	o := &agent.Outcome{Description: rec.Description, Status: results.Status(rec.Status)}
	if a == nil {
		return o
	}
	if a.crash != "" {
		o.Status, o.Crash, o.LogTail = results.Crash, string(a.crash), a.output
	} else {
		o.Value = a.value
		if a.res != nil {
			o.Figures, o.Curve = a.res.Figures, a.res.Curve
		}
		o.LogSection = r.logSection(a.log)
	}
	return o
}

// logSection is the task's section of the log at rel (relative to the run
// folder) for the agent; "" when the task names none.
func (r *Run) logSection(rel string) string {
	if r.Config.Task.Prompt.Log.Start == "" || rel == "" {
		return ""
	}
	b, err := os.ReadFile(r.path(rel))
	if err != nil {
		return ""
	}
	return r.Config.Task.LogSection(string(b))
}

// noteProposal adds a proposal's usage and transcript to the record.
func (r *Run) noteProposal(rec *Record, p agent.Proposal, transcript string) {
	rec.PromptTokens += p.PromptTokens
	rec.CompletionTokens += p.CompletionTokens
	rec.ToolCalls += p.ToolCalls
	if _, err := os.Stat(transcript); err == nil {
		rel, _ := filepath.Rel(r.Dir, transcript)
		rec.Transcripts = append(rec.Transcripts, filepath.ToSlash(rel))
	}
}
