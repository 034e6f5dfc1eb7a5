package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"autoresearch/internal/audit"
	"autoresearch/internal/experiment"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/status"
)

// auditOptions are the flags of the audit command.
type auditOptions struct {
	Tag     string
	Runs    int
	Each    bool
	Workers int    // 0: as many as the run's experiments had
	GPUs    string // --gpus, as run's
	Sandbox string
	Dir     string // where to look for the repository; the working directory
}

func newAuditCmd() *cobra.Command {
	o := auditOptions{Dir: "."}
	cmd := &cobra.Command{
		Use:   "audit [--tag T] [--runs R] [--each]",
		Short: "Measure a run's baseline and best again, fresh, and say how much of the logged gain holds",
		Long: `audit measures the run's baseline and its final best again, --runs times each
(default 5), interleaved so that a drift of the machine hits both alike, on the
run's own task, device and executor, through the same sandbox, with as many at
once as the run had workers (--workers to choose). Nothing of the run changes:
no commit, no row; every fresh value goes to audit.json in the run folder, each
run's log to logs/audit-<N>-<k>.log.

It prints one table: the logged and the fresh value of the baseline and the
best, the logged and the fresh gain, and the fraction of the logged gain that
held, with its 95 % interval (Welch's t-interval of the fresh gain, over the
logged gain). With --each it measures every kept commit and adds a row per
kept change: its logged delta, its fresh delta against the kept commit before
it with that delta's standard error, and whether it held, that is whether the
fresh delta is better by at least one standard error; the changes that did not
are named. results, report and show N include the audit.

Ctrl-C keeps what was measured; audit again with the same options measures the
rest. Runs are found as for "autoresearch results". "run --audit" audits by
itself when a run ends by --until or --max-experiments.`,
		Example: `  autoresearch audit
  autoresearch audit --tag nov26 --each
  autoresearch audit --tag nov26 --runs 10 --workers 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Tag, "tag", "", "the run to audit (default: the latest run)")
	f.IntVar(&o.Runs, "runs", audit.DefaultRuns, "fresh runs of each program")
	f.BoolVar(&o.Each, "each", false, "measure every kept commit, and judge each kept change against the one before it")
	f.IntVar(&o.Workers, "workers", 0, "runs measured at once, each with its share of the machine (default: as many as the run's experiments had)")
	f.StringVar(&o.GPUs, "gpus", "", "with device cuda, the GPUs the workers get, one each (default: all nvidia-smi lists)")
	addSandboxFlag(cmd, &o.Sandbox)
	return cmd
}

func runAudit(ctx context.Context, o auditOptions, out io.Writer) error {
	if o.Runs < 2 {
		return usagef("--runs %d: give 2 or more, a standard error needs two runs of each", o.Runs)
	}
	if o.Workers < 0 {
		return usagef("--workers cannot be negative")
	}
	mode, warning, err := sandboxMode(o.Sandbox)
	if err != nil {
		return err
	}
	path, err := runs.Resolve(o.Dir, o.Tag, "")
	if err != nil {
		return err
	}
	rep := status.New(out)
	defer status.Finish(rep)
	if warning != "" {
		rep.Logf("%s", warning)
	}
	r, err := openRun(filepath.Dir(path), setupFlags{}, rep)
	if err != nil {
		return err
	}
	defer r.Close()
	r.Sandbox = mode
	ao := experiment.AuditOptions{Runs: o.Runs, Each: o.Each, Workers: o.Workers}
	if ao.Workers == 0 {
		ao.Workers = r.Workers()
	}
	if r.Executor == nil || r.Executor.Name() == runner.LocalExecutor {
		if ao.WorkerEnv, err = runner.Shares(ctx, r.Config.Task.Device.Name, ao.Workers, o.GPUs); err != nil {
			return usagef("--workers: %v", err)
		}
	}
	return auditRun(ctx, r, ao, rep, out)
}

// auditRun audits the open run r and prints the table, also of an audit
// stopped by ctx (what it measured).
func auditRun(ctx context.Context, r *experiment.Run, o experiment.AuditOptions, rep status.Reporter, out io.Writer) error {
	a, err := r.Audit(ctx, o)
	status.Finish(rep)
	if a != nil && a.Measured() > 0 {
		io.WriteString(out, "\n")
		if werr := audit.WriteTable(out, a); werr != nil && err == nil {
			err = werr
		}
	}
	if errors.Is(err, context.Canceled) {
		if a == nil || a.Measured() == 0 {
			return interruptedf("audit interrupted before its first run finished; nothing was recorded")
		}
		return interruptedf("audit stopped, what it measured kept in %s: %s", audit.Path(r.Dir), a.State())
	}
	return err
}

// keptChanges counts the kept rows after the baseline.
func keptChanges(rows []results.Row) int {
	n := -1
	for _, row := range rows {
		if row.Status == results.Keep {
			n++
		}
	}
	return max(n, 0)
}
