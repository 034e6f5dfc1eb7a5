package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/experiment"
	"autoresearch/internal/report"
	"autoresearch/internal/runs"
)

// reportOptions are the flags of the report command.
type reportOptions struct {
	Tag, File string
	Output    string // the chart's path
	Dir       string // where to look for the repository; the working directory
}

func newReportCmd() *cobra.Command {
	opts := reportOptions{Dir: "."}
	cmd := &cobra.Command{
		Use:   "report [--tag T | --file results.tsv] [-o progress.png]",
		Short: "Draw a run's progress chart and print a Markdown summary",
		Long: `Draw progress.png, the chart of a run: every experiment's value in order, the
kept ones in green and labelled with their descriptions, the running best as a
step line, discards in grey, crashes as crosses along the bottom edge and
discards far above the baseline as triangles along the top edge.

Then print a Markdown summary: experiments, keep rate, best value, total
improvement, the kept changes and the biggest wins, and, when the run's
experiments.jsonl is beside its results.tsv, the wall time and LLM tokens.
Redirect it to keep it: autoresearch report > REPORT.md

Runs are found as for "autoresearch results".`,
		Example: `  autoresearch report > REPORT.md
  autoresearch report --tag nov26 -o nov26.png > nov26.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Tag, "tag", "", "the run to report (default: the latest run)")
	f.StringVar(&opts.File, "file", "", "a results.tsv to report instead of a run's")
	f.StringVarP(&opts.Output, "output", "o", "progress.png", "where to write the chart (PNG)")
	return cmd
}

func runReport(_ context.Context, opts reportOptions, out, errOut io.Writer) error {
	if opts.Tag != "" && opts.File != "" {
		return usagef("--tag and --file name the same thing: give one of them")
	}
	if opts.Output == "" || !strings.EqualFold(filepath.Ext(opts.Output), ".png") {
		return usagef("-o %q: the chart is a PNG, give a path ending in .png", opts.Output)
	}
	path, err := runs.Resolve(opts.Dir, opts.Tag, opts.File)
	if err != nil {
		return err
	}
	a, err := report.AnalyzeRun(path, experiment.MetricOf(path, opts.Dir).LowerIsBetter)
	if err != nil {
		return err
	}
	usage, err := report.ReadUsage(filepath.Join(filepath.Dir(path), runs.ExperimentsFile))
	if err != nil {
		return err
	}
	var png bytes.Buffer
	if err := report.WritePNG(&png, a, report.ChartOptions{}); err != nil {
		return fmt.Errorf("drawing the chart: %w", err)
	}
	if err := atomicfile.Write(opts.Output, png.Bytes(), 0o644); err != nil {
		return fmt.Errorf("%w: choose another file with -o", err)
	}
	fmt.Fprintf(errOut, "wrote %s\n", opts.Output)
	title := "autoresearch: " + path
	if tag := runTag(path); tag != "" {
		title = "autoresearch run " + tag
	}
	return report.WriteMarkdown(out, a, usage, report.MarkdownOptions{Title: title, Image: opts.Output})
}

// runTag is the tag of a run's results path (.autoresearch/<tag>/results.tsv),
// or "" for a file elsewhere.
func runTag(path string) string {
	dir := filepath.Dir(path)
	if filepath.Base(path) == runs.ResultsFile && filepath.Base(filepath.Dir(dir)) == runs.Dir {
		return filepath.Base(dir)
	}
	return ""
}
