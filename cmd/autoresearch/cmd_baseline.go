package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"autoresearch/internal/experiment"
	"autoresearch/internal/status"
)

func newBaselineCmd() *cobra.Command {
	var o setupFlags
	cmd := &cobra.Command{
		Use:   "baseline [--tag T] [--profile P] [--device D] [--repo DIR]",
		Short: "Set up a research run and record the unmodified program as its baseline",
		Long: `baseline sets up a research run in .autoresearch/<tag>/ of your repository: a clone
of your HEAD on a new branch autoresearch/<tag>, results.tsv, experiments.jsonl,
logs/ and run.json. It then builds and runs gpt/train.go unmodified and records it
as the baseline, the first keep. Your checkout is not modified; kept commits
appear in your repository as branch autoresearch/<tag>.

The baseline is trained --repeat times (by default 8 when the budget is a
minute or less, as on smoke, and 5 otherwise): results.tsv records the mean,
run.json the values and their standard deviation as "noise", and "run" keeps
only changes that beat the best by --noise-multiplier standard errors of the
difference, with this noise as the first estimate of it.
--repeat 1 measures it once and keeps every strict improvement, as the
original does.

In a repository with an autoresearch.toml at its top (autoresearch init writes
one), the run is that task's: its editable files, its build and run commands,
its budget (passed to the program as $AUTORESEARCH_BUDGET_SECONDS) and its
metric; --profile does not apply.`,
		Example: `  autoresearch baseline --profile smoke --tag nov26
  autoresearch baseline --profile cpu --device cpu --tag nov26-cpu
  autoresearch baseline --repo ../my-gpt --tag nov26
  autoresearch baseline --profile cpu --repeat 3 --tag nov26`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.noteSetupFlags(cmd)
			return runBaseline(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	addSetupFlags(cmd, &o)
	return cmd
}

func runBaseline(ctx context.Context, o setupFlags, out io.Writer) error {
	mode, warning, err := sandboxMode(o.Sandbox)
	if err != nil {
		return err
	}
	rep := status.New(out)
	defer status.Finish(rep)
	if warning != "" {
		rep.Logf("%s", warning)
	}
	cfg, ex, err := newConfig(ctx, o, rep)
	if err != nil {
		return err
	}
	r, err := setUp(cfg, ex, rep)
	if err != nil {
		return err
	}
	defer r.Close()
	r.Sandbox = mode
	if err := r.Baseline(ctx); err != nil {
		if ctx.Err() != nil {
			return interruptedf("baseline interrupted; nothing was recorded: continue with \"autoresearch run --tag %s\", which runs the baseline first", o.Tag)
		}
		return err
	}
	best, _ := r.Best()
	status.Finish(rep)
	noise := ""
	if n := r.Config.Noise; n != nil {
		noise = fmt.Sprintf(" (mean of %d runs, sigma %.6f)", len(n.Values), n.Sigma)
	}
	fmt.Fprintf(out, "baseline %s %.6f%s recorded in %s\nnext: autoresearch run --tag %s\n",
		r.Config.Task.Metric.Name, best, noise, r.Dir+"/"+experiment.ResultsFile, o.Tag)
	return nil
}
