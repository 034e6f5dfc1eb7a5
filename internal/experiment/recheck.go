package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"autoresearch/internal/status"
)

// Re-checking the best. Every Options.RecheckEvery experiments the
// coordinator measures the current best once more, fresh, through a
// Measurer of its own (workers/recheck/1/, logs/recheck-<n>.log), on the
// share of the machine of the worker whose turn it is. The run joins the
// best's runs (its estimate, and the pooled sigma through its spread).
//
// A run further than DriftLimit standard errors from the best's estimate
// says the machine is not what it was (a neighbour's load, a GPU's clocks):
// the log and the live line say so, and the best is measured afresh, as
// often as the baseline was. Those runs alone become the best's estimate and
// restart the pooled sigma: what was measured before the change measured
// another machine.
//
// Each re-check is a line of experiments.jsonl with status recheck (no row
// of results.tsv: it is no experiment), numbered like the experiment that
// follows it.

const statusRecheck = "recheck"

// recheckIfDue re-checks the best when RecheckEvery experiments have been
// recorded since the last re-check, on worker w's share of the machine (w is
// idle). Only a run whose noise is known (a baseline measured more than
// once) is re-checked. A stop during the re-check records nothing.
func (p *pool) recheckIfDue(ctx context.Context, w *worker) error {
	r := p.r
	if p.o.RecheckEvery <= 0 || r.Config.Noise == nil || len(r.rows)-r.noise.checkedAt < p.o.RecheckEvery {
		return nil
	}
	if p.measurer == nil {
		m, err := r.NewMeasurer("recheck", 1, nil)
		if err != nil {
			return err
		}
		p.measurer = m
	}
	p.measurer.slots[0].env = w.env
	err := r.recheck(ctx, p.measurer, p.o)
	if ctx.Err() != nil {
		return nil
	}
	p.publish()
	return err
}

// recheck measures the best once through m and takes the run in; past
// DriftLimit, it measures the best afresh.
func (r *Run) recheck(ctx context.Context, m *Measurer, o Options) error {
	rep, metric := r.reporter(), r.Config.Task.Metric.Name
	n, commit := len(r.rows), r.kept
	before := r.KeepRule(o)
	rec := &Record{N: n, Status: statusRecheck, Commit: commit, Parent: commit, Metric: metric,
		Description: fmt.Sprintf("re-check of the best (experiment %d)", r.noise.bestN),
		Best:        r.best, Start: time.Now(), Seconds: map[string]float64{}}
	rep.Logf("re-checking the best (experiment %d, %s %.6f over %s): one more run", r.noise.bestN, metric, r.best, nRuns(before.BestRuns))
	status.Note(rep, "re-checking the best")
	ms, err := r.measureBest(ctx, m, rec, n, 1, 1)
	if err != nil {
		return err
	}
	if ms[0].Crash != "" {
		rec.Crash, rec.Reason = string(ms[0].Crash), ms[0].Reason
		rep.Logf("re-check of the best: the run failed (%s: %s), see %s; the best stays %.6f", ms[0].Crash, ms[0].Reason, ms[0].Log, r.best)
		status.Note(rep, "")
		return r.appendRecheck(rec)
	}
	v := ms[0].Value
	rec.Value, rec.Measurements = v, []float64{v}
	rec.SE, rec.Drift = before.SE(1), r.noise.Drift(before, v)
	if math.Abs(rec.Drift) <= DriftLimit {
		r.learn(*rec)
		r.best = r.noise.Best()
		after := r.KeepRule(o)
		rec.Best, rec.Sigma, rec.SigmaDF, rec.BestRuns = r.best, after.Sigma, after.DF, after.BestRuns
		rep.Logf("re-check of the best: %s %.6f, %.1f standard errors from its estimate: steady. The best is now %.6f over %s, sigma %.6f",
			metric, v, rec.Drift, r.best, nRuns(after.BestRuns), after.Sigma)
		status.Note(rep, "")
		status.Resumed(rep, r.best)
		return r.appendRecheck(rec)
	}
	// The machine changed: measure the best afresh, as the baseline was.
	dir := "above"
	if rec.Drift < 0 {
		dir = "below"
	}
	k := 1
	if nz := r.Config.Noise; nz != nil {
		k = max(len(nz.Values), 2)
	}
	rep.Logf("re-check of the best: %s %.6f, %.1f standard errors %s its estimate %.6f (sigma %.6f): the machine has changed. Measuring the best %d more times to re-estimate it and sigma",
		metric, v, math.Abs(rec.Drift), dir, r.best, before.Sigma, k-1)
	status.Note(rep, fmt.Sprintf("best drifted %+.1f SE: re-measuring", rec.Drift))
	more, err := r.measureBest(ctx, m, rec, n, 2, k)
	if err != nil {
		return err
	}
	values := append([]float64{v}, Values(more)...)
	if len(values) < 2 {
		// Nothing to re-estimate from: the one run counts as any re-check's.
		r.learn(*rec)
		r.best = r.noise.Best()
		rep.Logf("re-check of the best: the runs to re-estimate it failed (see logs/recheck-%d-run2.log); the best is now %.6f", n, r.best)
		status.Note(rep, "")
		status.Resumed(rep, r.best)
		return r.appendRecheck(rec)
	}
	rec.Measurements, rec.Rebaselined = values, true
	oldBest := r.best
	r.learn(*rec)
	r.best = r.noise.Best()
	after := r.KeepRule(o)
	rec.Best, rec.Sigma, rec.SigmaDF, rec.BestRuns = r.best, after.Sigma, after.DF, after.BestRuns
	rep.Logf("re-check of the best: re-estimated over %s: the best %.6f (was %.6f), sigma %.6f (was %.6f)",
		nRuns(len(values)), r.best, oldBest, after.Sigma, before.Sigma)
	status.Note(rep, fmt.Sprintf("best drifted %+.1f SE at %s: re-estimated", rec.Drift, time.Now().Format("15:04")))
	status.Resumed(rep, r.best)
	return r.appendRecheck(rec)
}

// measureBest runs the best (rec.Commit) for runs from to last of re-check
// n: logs/recheck-<n>.log, then logs/recheck-<n>-run<i>.log.
func (r *Run) measureBest(ctx context.Context, m *Measurer, rec *Record, n, from, last int) ([]Measurement, error) {
	var jobs []MeasureJob
	for i := from; i <= last; i++ {
		label := fmt.Sprintf("recheck-%d", n)
		if i > 1 {
			label += fmt.Sprintf("-run%d", i)
		}
		jobs = append(jobs, MeasureJob{Commit: rec.Commit, Label: label})
	}
	var out []Measurement
	err := m.Run(ctx, jobs, func(ms Measurement) error {
		out = append(out, ms)
		rec.Logs = append(rec.Logs, ms.Log)
		rec.Seconds["run"] += ms.Seconds
		return nil
	})
	if err == nil && len(out) == 0 && len(jobs) > 0 {
		err = errors.New("the re-check measured nothing")
	}
	return out, err
}

func (r *Run) appendRecheck(rec *Record) error {
	rec.End = time.Now()
	return appendRecord(r.path(RecordsFile), *rec)
}

func nRuns(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}

// Unwrap is the reporter the pool's wraps, for status.Note.
func (pr poolReporter) Unwrap() status.Reporter { return pr.Reporter }
