package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"autoresearch/internal/runner"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/status"
)

// attemptResult is one build and run of a change.
type attemptResult struct {
	crash  runner.Crash
	reason string
	output string // compiler output or the log's last lines
	log    string // relative to the run folder
	suffix string // of the attempt's log name: "" or "-fixN"
	value  float64
	values []float64 // every measurement of the change; value is their mean
	memory float64
	res    *runner.Result
}

// attempt builds the change committed in worker w's clone and runs it once;
// a job to follow again (w.attach) is followed without a build.
func (r *Run) attempt(ctx context.Context, w *worker, rec *Record, suffix string) (*attemptResult, error) {
	a := &attemptResult{log: r.logName(w.label, suffix), suffix: suffix}
	if w.attach != "" {
		// The job followed again writes where it was told to.
		a.log = fmt.Sprintf("%s/%s%s.log", LogsDir, w.label, suffix)
	}
	rec.Logs = append(rec.Logs, a.log)
	logf, err := os.Create(r.path(a.log))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	vars := w.vars()
	if w.attach != "" {
		return a, r.execute(ctx, w, rec, a, logf, vars)
	}
	if err := r.checkImports(w); err != nil {
		var ie *sandbox.ImportError
		if !errors.As(err, &ie) {
			return nil, err
		}
		logf.WriteString(ie.Error() + "\n")
		a.crash, a.reason, a.output = runner.BuildCrash, "import not allowed: "+strings.Join(ie.Imports, ", "), ie.Error()
		return a, nil
	}
	t := &r.Config.Task
	if len(t.Build.Argv) > 0 {
		w.rep.Phase(status.Building)
		var out string
		err = r.timed(rec, "build", func() (err error) {
			out, err = runner.Build(ctx, w.worktree, runner.Expand(t.Build.Argv, vars), runner.Expand(t.Build.Env, vars))
			return
		})
		logf.WriteString(out)
		var be *runner.BuildError
		if errors.As(err, &be) {
			a.crash, a.reason, a.output = runner.BuildCrash, "the build failed", be.Output
			return a, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return a, r.execute(ctx, w, rec, a, logf, vars)
}

// train runs the program built last in worker w's clone once more, logging
// under suffix: a repeated measurement of the same change.
func (r *Run) train(ctx context.Context, w *worker, rec *Record, suffix string) (*attemptResult, error) {
	a := &attemptResult{log: r.logName(w.label, suffix), suffix: suffix}
	rec.Logs = append(rec.Logs, a.log)
	logf, err := os.Create(r.path(a.log))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	return a, r.execute(ctx, w, rec, a, logf, w.vars())
}

// logName is the log of the attempt with suffix ("", "-fix1", "-run2") of
// the experiment labelled label (its number, or a worker's label), relative
// to the run folder: logs/<label><suffix>.log, or, when an attempt of the
// same label cut short by a stop left that file,
// logs/<label><suffix>-take<k>.log with the first free k from 2, so both
// stay.
func (r *Run) logName(label, suffix string) string {
	name := fmt.Sprintf("%s/%s%s.log", LogsDir, label, suffix)
	for k := 2; ; k++ {
		if _, err := os.Lstat(r.path(name)); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s/%s%s-take%d.log", LogsDir, label, suffix, k)
	}
}

// execute runs the program built in worker w's clone into a, its output to
// logf, through the run's executor and sandbox.
func (r *Run) execute(ctx context.Context, w *worker, rec *Record, a *attemptResult, logf *os.File, vars map[string]string) error {
	t := &r.Config.Task
	rep := w.rep
	rep.Phase(status.Training)
	evaluating, warming := false, false
	phase := func(p string) {
		warming = p == runner.PhaseWarmup
		if warming {
			rep.Phase(status.WarmingUp)
		} else {
			rep.Phase(status.Training)
		}
	}
	progress := func(f float64) {
		if warming {
			return // the warm-up steps' progress lines say 0 %
		}
		rep.Progress(f)
		if f >= 1 && !evaluating {
			evaluating = true
			rep.Phase(status.Evaluating)
		}
	}
	spec := runner.TaskSpec(t, vars)
	spec.Dir, spec.Env = w.worktree, append(spec.Env, w.env...)
	spec.ResultPath, spec.Output = r.path(strings.TrimSuffix(a.log, ".log")+".json"), logf
	spec.Progress, spec.Phase = progress, phase
	spec.Sandbox, spec.Scratch = r.policy(), w.scratch
	spec.Name = "autoresearch-" + r.Config.Tag + "-" + strings.TrimSuffix(strings.TrimPrefix(a.log, LogsDir+"/"), ".log")
	spec.Job = func(id string) { w.submitted(rec, id) }
	spec.Attach = w.takeAttach()
	res, err := r.executor().Run(ctx, spec)
	if err == nil {
		err = r.checkUnchanged(w, res, rec.Commit)
	}
	if res != nil {
		rec.Seconds["run"] += res.Wall.Seconds()
		rec.Seconds["startup"] += res.FirstOutput.Seconds()
		if res.Job != "" {
			rec.Job = res.Job
			rec.Seconds["queue"] += res.Queued.Seconds()
			rec.Seconds["collect"] += res.Collected.Seconds()
		}
	}
	if err != nil {
		return err
	}
	a.res, a.crash, a.reason, a.output = res, res.Crash, res.Reason, res.Tail
	if a.crash == "" {
		a.value = res.Metric(t.Metric.Name)
		a.values = []float64{a.value}
		for _, k := range t.MemoryKeys() {
			if mb := res.Figures[k]; mb > 0 {
				a.memory = mb / 1024
				break
			}
		}
	}
	return nil
}

// remeasure runs a change as often as the keep rule asks for (see KeepRule),
// against the rule and the best as now says at each step, and leaves its
// mean in a.value. A run that fails on the way ends the measurement; the
// change is then discarded with the reason.
func (r *Run) remeasure(ctx context.Context, w *worker, rec *Record, a *attemptResult, now func() (KeepRule, float64)) error {
	if a.crash != "" {
		return nil
	}
	for {
		rule, best := now()
		v, m := rule.Judge(best, a.values)
		a.value = m
		if v != VerdictRemeasure {
			return nil
		}
		n := len(a.values) + 1
		w.logf("%s %.6f against the best %.6f: measuring again, run %d of at most %d (a keep needs the mean %.6f better than the best after it)",
			r.Config.Task.Metric.Name, m, best, n, 1+rule.Remeasure, rule.Margin(n))
		b, err := r.train(ctx, w, rec, fmt.Sprintf("%s-run%d", a.suffix, n))
		if err != nil {
			return err
		}
		if b.crash != "" {
			a.reason = fmt.Sprintf("discarded: run %d of the change failed (%s: %s), see %s", n, b.crash, b.reason, b.log)
			a.output = b.output
			return nil
		}
		a.values = append(a.values, b.value)
		a.memory = max(a.memory, b.memory)
	}
}
