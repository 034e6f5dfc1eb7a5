package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"autoresearch/internal/agent"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/status"
)

// Options steer the loop.
type Options struct {
	Proposer agent.Proposer
	Program  string // the human's instructions, passed to the proposer
	// MaxExperiments stops the loop after that many experiments of this call
	// (the baseline not counted); 0 means no limit.
	MaxExperiments int
	// Until stops the loop before starting an experiment after this time;
	// zero means no limit.
	Until time.Time
	// FixAttempts is how often a build or runtime crash goes back to the
	// proposer's Repair.
	FixAttempts int
	// MinDelta is how much an experiment must beat the best by to be kept,
	// at least; with the run's noise known, NoiseMultiplier × sigma when
	// that is more. Remeasure is the most extra runs a candidate that beats
	// the best gets before the decision (see KeepRule).
	MinDelta        float64
	NoiseMultiplier float64
	Remeasure       int
	// Workers is how many experiments are in flight at once; more than one
	// (or an executor with jobs) runs the loop of workers.go.
	Workers int
	// WorkerEnv holds the extra environment of each worker's training runs
	// (its GPU, its share of the cores), worker 1 first.
	WorkerEnv [][]string
	// WorkerProposers gives each worker its own proposer, worker 1 first,
	// for proposers that keep state between Propose and Repair (the LLM
	// agent); a worker without one uses Proposer.
	WorkerProposers []agent.Proposer
}

// KeepRule is the rule that decides the run's experiments under o.
func (r *Run) KeepRule(o Options) KeepRule {
	k := KeepRule{LowerIsBetter: r.Config.Metric.LowerIsBetter, Multiplier: o.NoiseMultiplier,
		MinDelta: o.MinDelta, Remeasure: o.Remeasure}
	if r.Config.Noise != nil {
		k.Sigma = r.Config.Noise.Sigma
	}
	return k
}

// StopReason says why Loop ended without an error.
type StopReason string

const (
	StopMaxExperiments StopReason = "max-experiments reached"
	StopUntil          StopReason = "until reached"
	StopExhausted      StopReason = "the proposer has no more ideas"
)

// Loop runs experiments until ctx ends (it returns ctx's error, with the
// worktree rolled back to the last kept commit), a limit of o is reached, the
// proposer runs out of ideas, or an error that no experiment can fix (the
// toolchain missing, the disk full, the proposer failing). It runs the
// baseline first when the run has none.
func (r *Run) Loop(ctx context.Context, o Options) (StopReason, error) {
	if o.Proposer == nil {
		return "", errors.New("no proposer")
	}
	if len(r.rows) == 0 {
		// With workers, the baseline runs on a worker's share of the
		// machine, as every experiment will.
		if len(o.WorkerEnv) > 0 {
			r.mainEnv = o.WorkerEnv[0]
		}
		err := r.Baseline(ctx)
		r.mainEnv = nil
		if err != nil {
			return "", err
		}
	} else {
		// A run stopped between recording a keep and publishing it.
		r.pushBack()
		if best, ok := r.Best(); ok {
			status.Resumed(r.reporter(), best)
		}
	}
	if o.Workers > 1 || r.executor().Name() != runner.LocalExecutor {
		return r.parallel(ctx, o)
	}
	done, abandoned := 0, 0
	for {
		switch {
		case o.MaxExperiments > 0 && done >= o.MaxExperiments:
			return StopMaxExperiments, nil
		case !o.Until.IsZero() && !time.Now().Before(o.Until):
			return StopUntil, nil
		case ctx.Err() != nil:
			return "", ctx.Err()
		}
		counted, err := r.experiment(ctx, o)
		if errors.Is(err, agent.ErrExhausted) {
			r.Reporter.Logf("%v", err)
			return StopExhausted, nil
		}
		if err != nil {
			return "", err
		}
		if counted {
			done, abandoned = done+1, 0
			continue
		}
		if abandoned++; abandoned >= maxAbandonments {
			return "", fmt.Errorf("the proposer %s abandoned %d proposals in a row, the last with %q: see %s",
				o.Proposer.Name(), abandoned, r.abandonedWhy, r.path(RecordsFile))
		}
	}
}

// Baseline runs the program as it is and records it as experiment 0, the
// first keep. With Config.BaselineRepeats above one it runs it that many
// times: run.json gets the values and their spread as Config.Noise, the row
// the mean (the estimate of the program's value that every later experiment
// is compared with; one run of it is as noisy as any experiment), and the
// record every value. A baseline that crashes is an error (nothing is
// recorded): there is nothing to compare experiments with.
func (r *Run) Baseline(ctx context.Context) error {
	if len(r.rows) > 0 {
		return nil
	}
	rep := r.reporter()
	rec := r.newRecord(0, "baseline", "")
	rep.Start(0)
	if err := r.timed(rec, "guard", func() error { return r.repo.Guard(r.Config.BaseCommit, nil) }); err != nil {
		return fmt.Errorf("the run's worktree differs from its base commit: %w", err)
	}
	rec.Commit = r.Config.BaseCommit
	if err := r.repo.SetRef(runs.ExperimentRef(r.Config.Tag, 0), rec.Commit); err != nil {
		return err
	}
	a, err := r.attempt(ctx, rec, "")
	if err != nil {
		if ctx.Err() != nil {
			r.interrupted(rec)
		}
		return err
	}
	if a.crash != "" {
		return fmt.Errorf("the baseline crashed (%s: %s); nothing was recorded. The last lines of %s:\n%s\nFix the program in your repository and commit it, then set up run %s again: a run without a baseline starts afresh",
			a.crash, a.reason, r.path(a.log), a.output, r.Config.Tag)
	}
	k := max(r.Config.BaselineRepeats, 1)
	for i := 2; i <= k; i++ {
		rep.Logf("baseline: %s %.6f; run %d of %d", r.Config.Metric.Name, a.values[len(a.values)-1], i, k)
		b, err := r.train(ctx, rec, fmt.Sprintf("-run%d", i))
		if err != nil {
			if ctx.Err() != nil {
				r.interrupted(rec)
			}
			return err
		}
		if b.crash != "" {
			return fmt.Errorf("run %d of the baseline crashed (%s: %s) though run 1 did not; nothing was recorded. The last lines of %s:\n%s\nRemove %s and set up again (with --repeat 1 to measure it once)",
				i, b.crash, b.reason, r.path(b.log), b.output, r.Dir)
		}
		a.values = append(a.values, b.value)
		a.memory = max(a.memory, b.memory)
	}
	a.value = mean(a.values)
	if noise := NewNoise(a.values); noise != nil {
		r.Config.Noise = noise
		a.value = noise.Mean
		if err := r.Config.save(r.path(ConfigFile)); err != nil {
			return err
		}
		out := ""
		if len(noise.Outliers) > 0 {
			out = fmt.Sprintf(" (left out as outliers: %v)", noise.Outliers)
		}
		rep.Logf("baseline: %d runs, mean %s %.6f, sigma %.6f%s", k, r.Config.Metric.Name, a.value, noise.Sigma, out)
	}
	row := results.Row{Commit: r.Config.BaseCommit, Value: a.value, MemoryGB: a.memory, Status: results.Keep, Description: "baseline"}
	r.best = a.value
	if err := r.record(row, rec, a); err != nil {
		return err
	}
	r.pushBack()
	return nil
}

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

// experiment runs one experiment. It reports whether a numbered experiment
// was recorded (false for an abandoned proposal).
func (r *Run) experiment(ctx context.Context, o Options) (bool, error) {
	n := len(r.rows)
	rep := r.reporter()
	rec := r.newRecord(n, "", o.Proposer.Name())
	rep.Start(n)
	rep.Phase(status.Proposing)
	req := r.request(n, o, fmt.Sprintf("%s/%d.jsonl", TranscriptsDir, n))
	var prop agent.Proposal
	err := r.timed(rec, "propose", func() (err error) { prop, err = o.Proposer.Propose(ctx, req); return })
	r.noteProposal(rec, prop, req.TranscriptPath)
	if err != nil {
		if rerr := r.rollback(); rerr != nil {
			return false, rerr
		}
		switch {
		case ctx.Err() != nil:
			r.interrupted(rec)
			return false, ctx.Err()
		case errors.Is(err, agent.ErrAbandoned):
			return false, r.abandon(rec, err.Error())
		case errors.Is(err, agent.ErrExhausted):
			return false, err
		}
		return false, fmt.Errorf("the proposer %s failed: %w", o.Proposer.Name(), err)
	}
	rec.Description = results.CleanDescription(prop.Description)

	var a *attemptResult
	for fix := 0; ; fix++ {
		if fix > 0 {
			rep.Phase(status.Repairing)
			req.TranscriptPath = r.path(fmt.Sprintf("%s/%d-fix%d.jsonl", TranscriptsDir, n, fix))
			req.Last = r.outcomeOf(rec, a)
			f := agent.Failure{Kind: string(a.crash), Output: a.output, Attempt: fix}
			var rp agent.Proposal
			err := r.timed(rec, "repair", func() (err error) { rp, err = o.Proposer.Repair(ctx, req, f); return })
			r.noteProposal(rec, rp, req.TranscriptPath)
			if err != nil {
				if ctx.Err() != nil {
					r.rollback()
					r.interrupted(rec)
					return false, ctx.Err()
				}
				a.reason += "; no fix: " + err.Error()
				break
			}
			rec.FixAttempts = fix
			// The fixed change is what runs now: its description says
			// what results.tsv and the commit record.
			if strings.TrimSpace(rp.Description) != "" {
				rec.Description = results.CleanDescription(rp.Description)
			}
		}
		var gerr error
		r.timed(rec, "guard", func() error { gerr = r.repo.Guard(r.Config.BaseCommit, r.Config.Editable); return nil })
		var ge *gitops.GuardError
		if errors.As(gerr, &ge) {
			a = &attemptResult{crash: "guard", reason: "rejected, never built: " + ge.Error()}
			rec.Commit = ""
			rep.Logf("experiment %d %s", n, a.reason)
			break
		} else if gerr != nil {
			return false, gerr
		}
		var h string
		err := r.timed(rec, "commit", func() (err error) {
			h, err = r.repo.Commit(rec.Description+fmt.Sprintf("\n\nautoresearch experiment %d\n", n), r.kept, r.Config.Editable)
			return
		})
		if errors.Is(err, gitops.ErrNoChange) {
			if fix == 0 {
				return false, r.abandon(rec, "it changed nothing")
			}
			a.reason += "; the fix changed nothing"
			break
		}
		if err != nil {
			return false, err
		}
		rec.Commit = h
		if err := r.repo.SetRef(runs.ExperimentRef(r.Config.Tag, n), h); err != nil {
			return false, err
		}
		suffix := ""
		if fix > 0 {
			suffix = fmt.Sprintf("-fix%d", fix)
		}
		a, err = r.attempt(ctx, rec, suffix)
		if err != nil {
			if rerr := r.rollback(); rerr != nil {
				return false, rerr
			}
			if ctx.Err() != nil {
				r.interrupted(rec)
			}
			return false, err
		}
		if a.crash == "" || a.crash == runner.Timeout || fix >= o.FixAttempts {
			break
		}
	}
	if err := r.remeasure(ctx, rec, a, r.KeepRule(o)); err != nil {
		if rerr := r.rollback(); rerr != nil {
			return false, rerr
		}
		if ctx.Err() != nil {
			r.interrupted(rec)
		}
		return false, err
	}
	return true, r.decide(rec, a, o)
}

// remeasure runs a change that ran as often as the keep rule asks for (see
// KeepRule) and leaves its mean in a.value. A run that fails on the way ends
// the measurement; the change is then discarded with the reason.
func (r *Run) remeasure(ctx context.Context, rec *Record, a *attemptResult, rule KeepRule) error {
	return r.remeasureIn(ctx, r.mainSpace(rec.N), rec, a, rule, func() float64 { return r.best })
}

// remeasureIn is remeasure in workspace w, against the best as best says.
func (r *Run) remeasureIn(ctx context.Context, w *workspace, rec *Record, a *attemptResult, rule KeepRule, best func() float64) error {
	if a.crash != "" {
		return nil
	}
	for {
		v, m := rule.Judge(best(), a.values)
		a.value = m
		if v != VerdictRemeasure {
			return nil
		}
		n := len(a.values) + 1
		w.rep.Logf("experiment %s: %s %.6f against the best %.6f (threshold %.6f): measuring again, run %d of at most %d",
			w.label, r.Config.Metric.Name, m, best(), rule.Threshold(), n, 1+rule.Remeasure)
		b, err := r.trainIn(ctx, w, rec, fmt.Sprintf("%s-run%d", a.suffix, n))
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

// decide keeps, discards or records the crash, then records the experiment.
func (r *Run) decide(rec *Record, a *attemptResult, o Options) error {
	t := time.Now()
	row := results.Row{Commit: rec.Commit, Description: rec.Description}
	if rec.Commit == "" {
		row.Commit = noCommit
	} else if d, err := r.repo.Diff(rec.Parent, rec.Commit); err == nil {
		rec.Diff = d
	}
	keep := false
	rule := r.KeepRule(o)
	rec.Threshold, rec.Sigma = rule.Threshold(), rule.Sigma
	switch {
	case a.crash != "":
		row.Status = results.Crash
	default:
		// The verdict on all the runs remeasure made; one it cut short by
		// a failed run reads "remeasure" here and is discarded.
		v, m := rule.Judge(r.best, a.values)
		row.Status, row.Value, row.MemoryGB = results.Discard, m, a.memory
		if v == VerdictKeep {
			row.Status, keep = results.Keep, true
		}
		a.value = m
	}
	if keep {
		r.kept, r.best = rec.Commit, a.value
	} else if err := r.rollback(); err != nil {
		return err
	}
	rec.Seconds["decide"] += time.Since(t).Seconds()
	if err := r.record(row, rec, a); err != nil {
		return err
	}
	if keep {
		r.pushBack()
	}
	return nil
}

// record appends the row to results.tsv and the record to experiments.jsonl.
func (r *Run) record(row results.Row, rec *Record, a *attemptResult) error {
	t := time.Now()
	rec.Status, rec.Value, rec.MemoryGB, rec.Best = string(row.Status), row.Value, row.MemoryGB, r.best
	if a != nil {
		rec.Crash, rec.Reason = string(a.crash), a.reason
		if a.crash == "" {
			rec.Measurements = a.values
		}
		if a.res != nil {
			rec.Figures, rec.Source, rec.Curve = a.res.Figures, a.res.Source, a.res.Curve
		}
	}
	if err := results.Append(r.path(ResultsFile), row); err != nil {
		return err
	}
	r.rows = append(r.rows, row)
	r.last = r.outcomeOf(rec, a)
	if row.Status == results.Keep {
		r.bestOutcome = r.last
	}
	rec.End = time.Now()
	rec.Seconds["record"] += time.Since(t).Seconds()
	if err := appendRecord(r.path(RecordsFile), *rec); err != nil {
		return err
	}
	r.reporter().Done(row, r.best)
	return nil
}

// attempt builds the committed change and runs it once.
func (r *Run) attempt(ctx context.Context, rec *Record, suffix string) (*attemptResult, error) {
	return r.attemptIn(ctx, r.mainSpace(rec.N), rec, suffix)
}

// attemptIn builds the change committed in workspace w and runs it once; a
// job to follow again (w.attach) is followed without a build.
func (r *Run) attemptIn(ctx context.Context, w *workspace, rec *Record, suffix string) (*attemptResult, error) {
	rep := w.rep
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
		return a, r.run(ctx, w, rec, a, logf, vars)
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
	if len(r.Config.Build.Argv) > 0 {
		rep.Phase(status.Building)
		var out string
		err = r.timed(rec, "build", func() (err error) {
			out, err = runner.Build(ctx, w.worktree, runner.Expand(r.Config.Build.Argv, vars), runner.Expand(r.Config.Build.Env, vars))
			return
		})
		logf.WriteString(out)
		var be *runner.BuildError
		if errors.As(err, &be) {
			a.crash, a.reason, a.output = runner.BuildCrash, "compile error", be.Output
			if r.Config.Task != "" {
				a.reason = "the build failed"
			}
			return a, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return a, r.run(ctx, w, rec, a, logf, vars)
}

// train runs the program built last once more, logging under suffix: a
// repeated measurement of the same change.
func (r *Run) train(ctx context.Context, rec *Record, suffix string) (*attemptResult, error) {
	return r.trainIn(ctx, r.mainSpace(rec.N), rec, suffix)
}

// trainIn is train in workspace w.
func (r *Run) trainIn(ctx context.Context, w *workspace, rec *Record, suffix string) (*attemptResult, error) {
	a := &attemptResult{log: r.logName(w.label, suffix), suffix: suffix}
	rec.Logs = append(rec.Logs, a.log)
	logf, err := os.Create(r.path(a.log))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	return a, r.run(ctx, w, rec, a, logf, w.vars())
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

// run runs the program built in workspace w into a, its output to logf.
func (r *Run) run(ctx context.Context, w *workspace, rec *Record, a *attemptResult, logf *os.File, vars map[string]string) error {
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
	res, err := r.executor().Run(ctx, runner.Spec{
		Dir:             w.worktree,
		Command:         runner.Expand(r.Config.Run.Argv, vars),
		Env:             append(runner.Expand(r.Config.Run.Env, vars), w.env...),
		ResultPath:      r.path(strings.TrimSuffix(a.log, ".log") + ".json"),
		Output:          logf,
		HardLimit:       r.Config.HardLimit(),
		Progress:        progress,
		ProgressPattern: r.progressPattern(),
		Phase:           phase,
		Metric:          r.Config.Metric.Name,
		Patterns:        r.Config.Patterns(),
		Sandbox:         r.policy(),
		Scratch:         w.scratch,
		Name:            "autoresearch-" + r.Config.Tag + "-" + strings.TrimSuffix(strings.TrimPrefix(a.log, LogsDir+"/"), ".log"),
		Job:             func(id string) { w.submitted(rec, id) },
		Attach:          w.takeAttach(),
	})
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
		a.value = res.Metric(r.Config.Metric.Name)
		a.values = []float64{a.value}
		for _, k := range r.Config.MemoryKeys {
			if mb := res.Figures[k]; mb > 0 {
				a.memory = mb / 1024
				break
			}
		}
	}
	return nil
}

func (r *Run) vars(bin string) map[string]string {
	return map[string]string{runner.BinVar: bin, runner.WorktreeVar: r.Worktree()}
}

func (r *Run) progressPattern() *regexp.Regexp {
	if r.Config.ProgressPattern == "" {
		return nil
	}
	re, err := regexp.Compile(r.Config.ProgressPattern)
	if err != nil {
		r.reporter().Logf("run.json progress_pattern: %v (using the default)", err)
		return nil
	}
	return re
}

// request is what the proposer may know for experiment n.
func (r *Run) request(n int, o Options, transcript string) agent.Request {
	device := r.Config.Device
	if r.Config.DeviceDetail != "" {
		device += " (" + r.Config.DeviceDetail + ")"
	}
	noise, runs := 0.0, 0
	if nz := r.Config.Noise; nz != nil {
		noise, runs = nz.Sigma, len(nz.Values)
	}
	return agent.Request{
		N:              n,
		Program:        o.Program,
		Worktree:       r.Worktree(),
		EditablePaths:  append([]string(nil), r.Config.Editable...),
		Task:           r.Config.Task,
		HasBuild:       len(r.Config.Build.Argv) > 0,
		Metric:         r.Config.Metric.Name,
		LowerIsBetter:  r.Config.Metric.LowerIsBetter,
		Profile:        r.Config.Profile,
		Device:         device,
		Budget:         r.Config.BudgetSeconds,
		Noise:          noise,
		NoiseRuns:      runs,
		Threshold:      r.KeepRule(o).Threshold(),
		Results:        r.Rows(),
		Last:           r.last,
		Best:           r.bestOutcome,
		Check:          r.checker(),
		TranscriptPath: r.path(transcript),
		Note: func(format string, args ...any) {
			r.reporter().Logf("experiment %d: %s", n, fmt.Sprintf(format, args...))
		},
	}
}

// checker is the check of a proposal: nil for a task without a build.
func (r *Run) checker() func(context.Context) (string, bool) {
	if len(r.Config.Build.Argv) == 0 {
		return nil
	}
	return r.check
}

// check builds the worktree as it is now, for proposers that want to see
// compile errors (and imports the sandbox refuses) before submitting.
func (r *Run) check(ctx context.Context) (string, bool) {
	if err := r.checkImports(r.mainSpace(len(r.rows))); err != nil {
		return err.Error(), false
	}
	vars := r.vars(filepath.Join(r.Dir, binDir, "check"))
	out, err := runner.Build(ctx, r.Worktree(), runner.Expand(r.Config.Build.Argv, vars), runner.Expand(r.Config.Build.Env, vars))
	if err != nil && out == "" {
		out = err.Error()
	}
	return out, err == nil
}

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
	}
	return o
}

func (r *Run) newRecord(n int, desc, proposer string) *Record {
	return &Record{N: n, Parent: r.kept, Description: desc, Metric: r.Config.Metric.Name,
		Proposer: proposer, Start: time.Now(), Seconds: map[string]float64{}}
}

func (r *Run) noteProposal(rec *Record, p agent.Proposal, transcript string) {
	rec.PromptTokens += p.PromptTokens
	rec.CompletionTokens += p.CompletionTokens
	rec.ToolCalls += p.ToolCalls
	if _, err := os.Stat(transcript); err == nil {
		rel, _ := filepath.Rel(r.Dir, transcript)
		rec.Transcripts = append(rec.Transcripts, filepath.ToSlash(rel))
	}
}

// timed runs f and adds its duration to the record's phase.
func (r *Run) timed(rec *Record, phase string, f func() error) error {
	t := time.Now()
	err := f()
	rec.Seconds[phase] += time.Since(t).Seconds()
	return err
}

// rollback makes the worktree the last kept commit again. The reset removes
// untracked files, the links of shared paths too: they are made again.
func (r *Run) rollback() error {
	if err := r.repo.ResetHard(r.kept); err != nil {
		return fmt.Errorf("rolling the worktree back to %s: %w", short(r.kept), err)
	}
	return linkShared(r.Config.Repo, r.repo.Dir(), r.Config.Shared)
}

// abandon records a proposal that led to no experiment.
func (r *Run) abandon(rec *Record, reason string) error {
	if err := r.rollback(); err != nil {
		return err
	}
	if !strings.Contains(reason, agent.ErrAbandoned.Error()) {
		reason = fmt.Sprintf("%v: %s", agent.ErrAbandoned, reason)
	}
	rec.Status, rec.Reason, rec.End, rec.Commit = "abandoned", reason, time.Now(), ""
	r.abandonedWhy = reason
	r.reporter().Logf("experiment %d: %s", rec.N, reason)
	return appendRecord(r.path(RecordsFile), *rec)
}

// interrupted notes an experiment cut short by a stop; it has no row.
func (r *Run) interrupted(rec *Record) {
	rec.Status, rec.End = "interrupted", time.Now()
	if err := appendRecord(r.path(RecordsFile), *rec); err != nil {
		r.reporter().Logf("recording the interruption: %v", err)
	}
	r.reporter().Logf("experiment %d interrupted: rolled back to %s", rec.N, short(r.kept))
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
