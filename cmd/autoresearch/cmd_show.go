package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"autoresearch/internal/audit"
	"autoresearch/internal/contract"
	"autoresearch/internal/experiment"
	"autoresearch/internal/numfmt"
	"autoresearch/internal/runs"
)

// showOptions are the flags of the show command.
type showOptions struct {
	Tag string
	Dir string // where to look for the repository; the working directory
}

func newShowCmd() *cobra.Command {
	opts := showOptions{Dir: "."}
	cmd := &cobra.Command{
		Use:   "show N [--tag T]",
		Short: "Show what experiment N of a run changed and what came of it",
		Long: `Show experiment N of a run (0 is the baseline): its description, status,
metric and memory, the crash and its reason, every figure of its summary, the
time of each phase, the LLM tokens it used, the paths of its logs and
transcripts, and then its change as a diff against the commit it started from.

Discarded and crashed experiments are shown as well as kept ones: every
experiment's commit stays in the run's clone under
refs/autoresearch/<tag>/<N>, so git gc never loses it. Your repository gets
only the kept commits, on branch autoresearch/<tag>.

Runs are found as for "autoresearch results": the latest run of the
repository you are in, or --tag T.`,
		Example: `  autoresearch show 3
  autoresearch show 0 --tag nov26
  autoresearch show 12 --tag nov26 | less`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("show takes one experiment number, got %d arguments", len(args))
			}
			if n, err := strconv.Atoi(args[0]); err != nil || n < 0 {
				return usagef("experiment %q is not a number: give one as results shows them, 0 for the baseline", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			n, _ := strconv.Atoi(args[0])
			return runShow(cmd.Context(), opts, n, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.Tag, "tag", "", "the run (default: the latest run)")
	return cmd
}

func runShow(_ context.Context, opts showOptions, n int, out io.Writer) error {
	path, err := runs.Resolve(opts.Dir, opts.Tag, "")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	s, err := experiment.Show(dir, n)
	if err != nil {
		return err
	}
	var b strings.Builder
	line := func(key, format string, args ...any) {
		fmt.Fprintf(&b, "  %-12s  %s\n", key, fmt.Sprintf(format, args...))
	}
	row, rec, metric := s.Row, s.Record, s.Config.Task.Metric
	fmt.Fprintf(&b, "experiment %d of run %s: %s\n", n, s.Config.Tag, row.Status)
	line("description", "%s", row.Description)
	direction := "higher is better"
	if metric.LowerIsBetter {
		direction = "lower is better"
	}
	if rec != nil {
		line(metric.Name, "%.6f (%s; best after it %.6f)", row.Value, direction, rec.Best)
		if len(rec.Measurements) > 1 {
			line("measured", "%s (the mean is the value)", floats(rec.Measurements))
		}
	} else {
		line(metric.Name, "%.6f (%s)", row.Value, direction)
	}
	line("memory", "%.1f GB", row.MemoryGB)
	switch {
	case s.Commit != "" && s.Parent != "":
		line("commit", "%s, from %s (%s in the run's clone)", short(s.Commit), short(s.Parent), s.Ref)
	case s.Commit != "":
		line("commit", "%s (%s in the run's clone)", short(s.Commit), s.Ref)
	default:
		line("commit", "none")
	}
	if rec != nil {
		if rec.Crash != "" || rec.Reason != "" {
			line("crash", "%s", strings.TrimPrefix(strings.Join([]string{rec.Crash, rec.Reason}, ": "), ": "))
		}
		if rec.FixAttempts > 0 {
			line("fixes", "%d", rec.FixAttempts)
		}
		if a, err := audit.Read(dir); err != nil {
			line("audit", "%v", err)
		} else if a != nil {
			for _, kv := range a.About(n) {
				line(kv[0], "%s", kv[1])
			}
		}
		if len(rec.Figures) > 0 {
			line("figures", "%s", keyValues(rec.Figures, "%.6g"))
		}
		if len(rec.Curve) > 0 {
			line("curve", "%s (smoothed training loss at each tenth of the budget: share loss @step)", contract.FormatCurve(rec.Curve))
		}
		if len(rec.Seconds) > 0 {
			line("seconds", "%s", keyValues(rec.Seconds, "%.1f"))
		}
		if rec.PromptTokens+rec.CompletionTokens > 0 {
			line("llm", "%s: %s prompt and %s completion tokens, %d tool calls", rec.Proposer,
				numfmt.Thousands(rec.PromptTokens), numfmt.Thousands(rec.CompletionTokens), rec.ToolCalls)
		}
		for _, p := range rec.Logs {
			line("log", "%s", shownPath(filepath.Join(dir, filepath.FromSlash(p))))
		}
		for _, p := range rec.Transcripts {
			line("transcript", "%s", shownPath(filepath.Join(dir, filepath.FromSlash(p))))
		}
	}
	if s.Patch != "" {
		fmt.Fprintf(&b, "\n%s", s.Patch)
	} else {
		fmt.Fprintf(&b, "\nno diff: %s\n", s.NoPatch)
	}
	_, err = io.WriteString(out, b.String())
	return err
}

// keyValues lists a map's entries sorted by key, each value in format.
func keyValues(m map[string]float64, format string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + fmt.Sprintf(format, m[k])
	}
	return strings.Join(parts, ", ")
}

func floats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.6f", x)
	}
	return strings.Join(parts, ", ")
}

func short(h string) string { return h[:min(7, len(h))] }

// shownPath is p relative to the working directory when it lies below it.
func shownPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
