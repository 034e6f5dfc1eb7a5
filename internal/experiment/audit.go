package experiment

import (
	"context"
	"fmt"
	"time"

	"autoresearch/internal/audit"
	"autoresearch/internal/results"
)

// AuditOptions say how to audit a run.
type AuditOptions struct {
	// Runs is how many fresh runs each program gets (audit.DefaultRuns when
	// 0); Each audits every kept commit, not only the baseline and the
	// final best.
	Runs int
	Each bool
	// Workers is how many runs are measured at once (at least one), and
	// WorkerEnv each one's share of the machine, as the loop's Options.
	Workers   int
	WorkerEnv [][]string
}

// Audit re-measures the run's baseline and final best (with Each, every
// kept commit) o.Runs times each, interleaved (see audit.Audit.Plan),
// through a Measurer named "audit" (workers/audit/<i>/, logs/audit-*.log),
// and records every run in audit.json, rewritten after each, so a stop
// keeps what was measured. An audit that was cut short and is asked for
// again with the same options goes on where it stopped; any other replaces
// the run's audit. The branch, the worktree and the run's records are left
// as they are. It returns the audit as far as it got, with ctx's error
// when ctx ended.
func (r *Run) Audit(ctx context.Context, o AuditOptions) (*audit.Audit, error) {
	if o.Runs <= 0 {
		o.Runs = audit.DefaultRuns
	}
	o.Workers = max(o.Workers, 1)
	progs, err := r.keptPrograms()
	if err != nil {
		return nil, err
	}
	if len(progs) < 2 {
		return nil, fmt.Errorf("run %s has kept no change beyond its baseline: there is no gain to audit", r.Config.Tag)
	}
	if !o.Each {
		progs = []audit.Program{progs[0], progs[len(progs)-1]}
	}
	a := &audit.Audit{Version: audit.Version, Tag: r.Config.Tag, Metric: r.Config.Task.Metric.Name,
		LowerIsBetter: r.Config.Task.Metric.LowerIsBetter, Runs: o.Runs, Each: o.Each,
		Executor: r.executor().Name(), Device: r.Config.Task.Device.Name,
		Started: time.Now().UTC().Truncate(time.Second), RunSeconds: r.wallSeconds(), Programs: progs}
	rep := r.reporter()
	old, err := audit.Read(r.Dir)
	if err != nil {
		return nil, err
	}
	switch {
	case old != nil && !old.Complete && old.Same(a):
		a = old
		rep.Logf("audit: going on with the audit of %s, %d of %d runs measured", a.Started.Local().Format("2006-01-02 15:04"), a.Measured(), a.Planned())
	case old != nil:
		rep.Logf("audit: replacing the audit of %s (audit.json)", old.Started.Local().Format("2006-01-02 15:04"))
	}
	a.Workers = o.Workers
	m, err := r.NewMeasurer("audit", o.Workers, o.WorkerEnv)
	if err != nil {
		return nil, err
	}
	plan := a.Plan()
	jobs := make([]MeasureJob, len(plan))
	index := map[string]audit.Job{}
	for i, j := range plan {
		p := a.Programs[j.Program]
		jobs[i] = MeasureJob{Commit: p.Commit, Label: fmt.Sprintf("audit-%d-%d", p.N, j.Index)}
		index[jobs[i].Label] = j
	}
	start, prior, wrote := time.Now(), a.Seconds, false
	write := func() error {
		a.Updated, a.Seconds = time.Now().UTC(), prior+time.Since(start).Seconds()
		wrote = true
		return a.Write(r.Dir)
	}
	err = m.Run(ctx, jobs, func(ms Measurement) error {
		j := index[ms.Label]
		p := &a.Programs[j.Program]
		p.Fresh = append(p.Fresh, audit.Run{Value: ms.Value, Crash: string(ms.Crash), Reason: ms.Reason, Log: ms.Log,
			Worker: ms.Slot, Start: ms.Start.UTC(), Seconds: ms.Seconds, Figures: ms.Figures})
		what := fmt.Sprintf("audit: #%d run %d of %d", p.N, len(p.Fresh), a.Runs)
		if ms.Crash != "" {
			rep.Logf("%s crashed (%s: %s), see %s", what, ms.Crash, ms.Reason, r.path(ms.Log))
		} else {
			rep.Logf("%s: %s %.6f (logged %.6f)", what, a.Metric, ms.Value, p.Logged)
		}
		return write()
	})
	if err != nil {
		if wrote {
			if werr := write(); werr != nil {
				rep.Logf("audit: %v", werr)
			}
		}
		return a, err
	}
	a.Complete = true
	return a, write()
}

// keptPrograms lists the run's kept commits, the baseline first, with
// what the run logged for each.
func (r *Run) keptPrograms() ([]audit.Program, error) {
	recs, err := ReadRecords(r.path(RecordsFile))
	if err != nil {
		return nil, err
	}
	byN := map[int]Record{}
	for _, rec := range recs {
		if rec.Status == string(results.Keep) {
			byN[rec.N] = rec
		}
	}
	var progs []audit.Program
	for n, row := range r.rows {
		if row.Status != results.Keep {
			continue
		}
		p := audit.Program{N: n, Description: row.Description, Logged: row.Value}
		rec, ok := byN[n]
		switch {
		case ok && rec.Commit != "":
			p.Commit, p.LoggedRuns = rec.Commit, rec.Measurements
		case n == 0:
			p.Commit = r.Config.BaseCommit
		default:
			if p.Commit, err = r.repo.FindKept(row.Commit, r.Config.BaseCommit); err != nil {
				return nil, fmt.Errorf("kept experiment %d: %w", n, err)
			}
		}
		progs = append(progs, p)
	}
	return progs, nil
}

// Workers is how many workers the run's experiments ran on: the highest
// worker its records name, at least one.
func (r *Run) Workers() int {
	n := 1
	recs, _ := ReadRecords(r.path(RecordsFile))
	for _, rec := range recs {
		n = max(n, rec.Worker)
	}
	return n
}

// wallSeconds is the run's wall time so far: from its first experiment's
// start to its last one's end, as experiments.jsonl records them.
func (r *Run) wallSeconds() float64 {
	recs, err := ReadRecords(r.path(RecordsFile))
	if err != nil {
		return 0
	}
	var first, last time.Time
	for _, rec := range recs {
		if !rec.Start.IsZero() && (first.IsZero() || rec.Start.Before(first)) {
			first = rec.Start
		}
		if rec.End.After(last) {
			last = rec.End
		}
	}
	if first.IsZero() || !last.After(first) {
		return 0
	}
	return last.Sub(first).Seconds()
}
