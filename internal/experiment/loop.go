package experiment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"autoresearch/internal/agent"
	"autoresearch/internal/cost"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
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
	// at least; with the run's noise known, the margin of NoiseMultiplier
	// standard errors of the difference when that is more. Remeasure is the
	// most extra runs a candidate gets before the decision (see KeepRule).
	// RecheckEvery is how many experiments pass between re-checks of the
	// best (recheck.go); 0 never re-checks.
	MinDelta        float64
	NoiseMultiplier float64
	Remeasure       int
	RecheckEvery    int
	// Workers is how many experiments are in flight at once (at least one).
	Workers int
	// WorkerEnv holds the extra environment of each worker's runs (its GPU,
	// its share of the cores), worker 1 first; see WorkerEnv.
	WorkerEnv [][]string
	// WorkerProposers gives each worker its own proposer, worker 1 first,
	// for proposers that keep state between Propose and Repair (the LLM
	// agent); a worker without one uses Proposer.
	WorkerProposers []agent.Proposer
	// Prices are the LLM's, recorded with each experiment's tokens; the
	// run's spend is priced with them (and records without prices of their
	// own). MaxCost stops proposing once the run's whole spend reaches it,
	// in dollars, the experiments in flight finished; 0 means no limit.
	Prices  cost.Prices
	MaxCost float64
}

// KeepRule is the rule that decides the run's experiments under o.
func (r *Run) KeepRule(o Options) KeepRule {
	k := KeepRule{LowerIsBetter: r.Config.Task.Metric.LowerIsBetter, Multiplier: o.NoiseMultiplier,
		MinDelta: o.MinDelta, Remeasure: o.Remeasure}
	if r.Config.Noise == nil {
		return k // a baseline measured once: the original rule
	}
	return r.noise.Rule(k) // the pooled sigma as it stands
}

// StopReason says why Loop ended without an error.
type StopReason string

const (
	StopMaxExperiments StopReason = "max-experiments reached"
	StopUntil          StopReason = "until reached"
	StopExhausted      StopReason = "the proposer has no more ideas"
	StopMaxCost        StopReason = "max-cost reached"
)

// Loop runs experiments until ctx ends (it returns ctx's error, every worker
// rolled back), a limit of o is reached, the proposer runs out of ideas, or
// an error that no experiment can fix (the toolchain missing, the disk full,
// the proposer failing). It runs the baseline first when the run has none.
// One worker or many, and a local or a cluster executor, it is the same loop
// (pool.go): with one worker, an experiment's files are named by its number.
func (r *Run) Loop(ctx context.Context, o Options) (StopReason, error) {
	if o.Proposer == nil {
		return "", errors.New("no proposer")
	}
	status.SetWord(r.reporter(), r.Config.Task.Prompt.Verb)
	if len(r.rows) == 0 {
		// With workers, the baseline runs on a worker's share of the
		// machine, as every experiment will.
		var env []string
		if len(o.WorkerEnv) > 0 {
			env = o.WorkerEnv[0]
		}
		if err := r.baseline(ctx, env); err != nil {
			return "", err
		}
	} else {
		// A run stopped between recording a keep and publishing it.
		r.pushBack()
		if best, ok := r.Best(); ok {
			status.Resumed(r.reporter(), best)
		}
	}
	return r.pool(ctx, o)
}

// Baseline runs the program as it is and records it as experiment 0, the
// first keep, on the whole machine. With Config.BaselineRepeats above one it
// runs it that many times: run.json gets the values and their spread as
// Config.Noise, the row the mean (the estimate of the program's value that
// every later experiment is compared with; one run of it is as noisy as any
// experiment), and the record every value. A baseline that crashes is an
// error (nothing is recorded): there is nothing to compare experiments with.
func (r *Run) Baseline(ctx context.Context) error {
	status.SetWord(r.reporter(), r.Config.Task.Prompt.Verb)
	return r.baseline(ctx, nil)
}

// baseline is Baseline in worker 1's clone, with env added to its runs.
func (r *Run) baseline(ctx context.Context, env []string) error {
	if len(r.rows) > 0 {
		return nil
	}
	w, err := r.openWorker(1)
	if err != nil {
		return err
	}
	w.env, w.label = env, "0"
	if err := w.reset(r, r.Config.BaseCommit); err != nil {
		return err
	}
	rep := r.reporter()
	w.rep = rep
	rec := r.newRecord(0, "baseline", "")
	rep.Start(0)
	if err := r.timed(rec, "guard", func() error { return w.repo.Guard(r.Config.BaseCommit, nil) }); err != nil {
		return fmt.Errorf("the run's worktree differs from its base commit: %w", err)
	}
	rec.Commit = r.Config.BaseCommit
	if err := r.repo.SetRef(runs.ExperimentRef(r.Config.Tag, 0), rec.Commit); err != nil {
		return err
	}
	a, err := r.attempt(ctx, w, rec, "")
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
		rep.Logf("baseline: %s %.6f; run %d of %d", r.Config.Task.Metric.Name, a.values[len(a.values)-1], i, k)
		b, err := r.train(ctx, w, rec, fmt.Sprintf("-run%d", i))
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
		rep.Logf("baseline: %d runs, mean %s %.6f, sigma %.6f%s", k, r.Config.Task.Metric.Name, a.value, noise.Sigma, out)
	}
	row := results.Row{Commit: r.Config.BaseCommit, Value: a.value, MemoryGB: a.memory, Status: results.Keep, Description: "baseline"}
	r.best = a.value
	if err := r.record(row, rec, a); err != nil {
		return err
	}
	r.pushBack()
	return nil
}

// executor is the run's executor: the local one unless set.
func (r *Run) executor() runner.Executor {
	if r.Executor == nil {
		return runner.Local{}
	}
	return r.Executor
}
