package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/cost"
	"autoresearch/internal/experiment"
	"autoresearch/internal/report"
	"autoresearch/internal/runs"
)

// reportOptions are the flags of the report command.
type reportOptions struct {
	Tag, File string
	Output    string // the chart's path
	OutputSet bool   // -o was given
	HTML      bool   // write the HTML page instead of the chart and the summary
	Out       string // the page's path; default report.html in the run folder
	Watch     bool   // rewrite the page after every experiment
	Dir       string // where to look for the repository; the working directory
	Poll      time.Duration
	Prices    priceFlags
}

func newReportCmd() *cobra.Command {
	opts := reportOptions{Dir: ".", Poll: time.Second}
	cmd := &cobra.Command{
		Use:   "report [--tag T | --file results.tsv] [-o progress.png | --html [--out FILE] [--watch]]",
		Short: "Draw a run's progress chart and print a Markdown summary, or write it as one HTML page",
		Long: `Draw progress.png, the chart of a run: every experiment's value in order, the
kept ones in green and labelled with their descriptions, the running best as a
step line, discards in grey, crashes as crosses along the bottom edge and
discards far above the baseline as triangles along the top edge.

Then print a Markdown summary: experiments, keep rate, best value, total
improvement, the kept changes and the biggest wins, and, when the run's
experiments.jsonl is beside its results.tsv, the wall time and LLM tokens,
and with prices what they cost (in all, per experiment, per kept change).
Redirect it to keep it: autoresearch report > REPORT.md

--html writes one self-contained HTML page instead (report.html in the run
folder, or --out FILE) and prints its path: the chart with the noise band and
every point's description on hover, the sortable table of experiments, each
experiment's diff against its parent, measurements, training curve, phases
and log paths, the noise, the workers' timeline, the LLM usage and the task.
It loads nothing from the network. --watch rewrites it after every
experiment until interrupted: reload the browser tab to see the run go on.

Runs are found as for "autoresearch results", and priced as it prices them:
by the prices the run recorded, or --price-in and --price-out.`,
		Example: `  autoresearch report > REPORT.md
  autoresearch report --tag nov26 -o nov26.png > nov26.md
  autoresearch report --html
  autoresearch report --html --watch --out /srv/www/tonight.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.OutputSet = cmd.Flags().Changed("output")
			opts.Prices.noteGiven(cmd)
			return runReport(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Tag, "tag", "", "the run to report (default: the latest run)")
	f.StringVar(&opts.File, "file", "", "a results.tsv to report instead of a run's")
	f.StringVarP(&opts.Output, "output", "o", "progress.png", "where to write the chart (PNG)")
	f.BoolVar(&opts.HTML, "html", false, "write the run as one HTML page instead of the chart and the summary")
	f.StringVar(&opts.Out, "out", "", "where --html writes the page (default report.html in the run folder)")
	f.BoolVar(&opts.Watch, "watch", false, "with --html: rewrite the page after every experiment until interrupted")
	addPriceFlags(cmd, &opts.Prices, "of the LLM: price the whole run anew")
	return cmd
}

func runReport(ctx context.Context, opts reportOptions, out, errOut io.Writer) error {
	if opts.Tag != "" && opts.File != "" {
		return usagef("--tag and --file name the same thing: give one of them")
	}
	if err := checkHTMLFlags(opts); err != nil {
		return err
	}
	pricing, err := opts.Prices.pricing()
	if err != nil {
		return err
	}
	if opts.HTML {
		return runReportHTML(ctx, opts, pricing, out, errOut)
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
	return report.WriteMarkdown(out, a, usage, report.MarkdownOptions{Title: title, Image: opts.Output, Pricing: pricing})
}

// checkHTMLFlags refuses the combinations of --html, --out, --watch and -o
// that say two things at once.
func checkHTMLFlags(opts reportOptions) error {
	switch {
	case !opts.HTML && opts.Watch:
		return usagef("--watch rewrites the HTML page: give --html with it")
	case !opts.HTML && opts.Out != "":
		return usagef("--out names the HTML page: give --html with it, or name the chart with -o")
	case opts.HTML && opts.OutputSet:
		return usagef("-o names the PNG chart, which --html does not draw: name the page with --out")
	case opts.HTML && opts.Out != "" && !strings.EqualFold(filepath.Ext(opts.Out), ".html") && !strings.EqualFold(filepath.Ext(opts.Out), ".htm"):
		return usagef("--out %q: the page is HTML, give a path ending in .html", opts.Out)
	}
	return nil
}

// runReportHTML writes the page, once or, with --watch, after every
// experiment until ctx ends, and prints its path.
func runReportHTML(ctx context.Context, opts reportOptions, pricing cost.Pricing, out, errOut io.Writer) error {
	path, err := runs.Resolve(opts.Dir, opts.Tag, opts.File)
	if err != nil {
		return err
	}
	page := opts.Out
	if page == "" {
		page = filepath.Join(filepath.Dir(path), report.HTMLFile)
	}
	hopts := report.HTMLOptions{Out: page, Pricing: pricing}
	if tag := runTag(path); tag == "" {
		hopts.Title = "autoresearch: " + path
	}
	lower := experiment.MetricOf(path, opts.Dir).LowerIsBetter
	if !opts.Watch {
		if _, err := report.WriteHTMLFile(path, lower, hopts); err != nil {
			return htmlWriteError(err)
		}
		_, err := fmt.Fprintln(out, shownPath(page))
		return err
	}
	fmt.Fprintf(out, "%s\n", shownPath(page))
	err = report.WatchHTML(ctx, path, lower, hopts, opts.Poll, func(p *report.Page) {
		fmt.Fprintf(errOut, "%s wrote %s (%s)\n", time.Now().Format("15:04:05"), shownPath(page), report.Headline(p.Analysis))
	})
	return htmlWriteError(err)
}

func htmlWriteError(err error) error {
	var ae *atomicfile.Error
	if errors.As(err, &ae) {
		return fmt.Errorf("%w: choose another file with --out", err)
	}
	return err
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
