package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"autoresearch/internal/experiment"
	"autoresearch/internal/report"
	"autoresearch/internal/runs"
)

// resultsOptions are the flags of the results command.
type resultsOptions struct {
	Tag    string
	File   string
	Follow bool
	Dir    string        // where to look for the repository; the working directory
	Poll   time.Duration // how often --follow reads the file
	Prices priceFlags
}

func newResultsCmd() *cobra.Command {
	opts := resultsOptions{Dir: ".", Poll: time.Second}
	cmd := &cobra.Command{
		Use:   "results [--tag T | --file results.tsv] [--follow]",
		Short: "Show a run's results as a table, the best row marked",
		Long: `Show a run's results.tsv as an aligned table: every experiment with its value,
its delta against the best before it, memory and status; the best row marked
with "*"; then the kept changes with their deltas.

Without --tag or --file it shows the latest run of the repository you are in
(.autoresearch/<tag>/results.tsv, the most recently modified). --file reads any
results.tsv in the original's format, one written by the Python tool included.
--follow keeps printing rows as they arrive, marking each new best, until
interrupted.

With prices, the LLM's cost follows: in all, per experiment and per kept
change. A run records the prices it was given (run --price-in, --price-out);
--price-in and --price-out here price the whole run anew, and
$AUTORESEARCH_PRICE_IN and $AUTORESEARCH_PRICE_OUT price the tokens recorded
without prices.`,
		Example: `  autoresearch results
  autoresearch results --tag nov26 --follow
  autoresearch results --file ../autoresearch-py/results.tsv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Prices.noteGiven(cmd)
			return runResults(cmd.Context(), opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Tag, "tag", "", "the run to show (default: the latest run)")
	f.StringVar(&opts.File, "file", "", "a results.tsv to show instead of a run's")
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep showing rows as they arrive")
	addPriceFlags(cmd, &opts.Prices, "of the LLM: price the whole run anew")
	return cmd
}

func runResults(ctx context.Context, opts resultsOptions, out io.Writer) error {
	if opts.Tag != "" && opts.File != "" {
		return usagef("--tag and --file name the same thing: give one of them")
	}
	path, err := runs.Resolve(opts.Dir, opts.Tag, opts.File)
	if err != nil {
		return err
	}
	lower := experiment.MetricOf(path, opts.Dir).LowerIsBetter
	if opts.Follow {
		return report.FollowMetric(ctx, path, out, opts.Poll, lower)
	}
	pricing, err := opts.Prices.pricing()
	if err != nil {
		return err
	}
	a, err := report.AnalyzeRun(path, lower)
	if err != nil {
		return err
	}
	if err := report.Table(out, a, path); err != nil {
		return err
	}
	usage, err := report.ReadUsage(filepath.Join(filepath.Dir(path), runs.ExperimentsFile))
	if err != nil {
		return err
	}
	if line := a.SpendLine(usage, pricing); line != "" {
		_, err = fmt.Fprintln(out, line)
	}
	return err
}
