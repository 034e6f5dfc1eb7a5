package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"autoresearch/internal/cost"
	"autoresearch/internal/numfmt"
	"autoresearch/internal/results"
)

// MarkdownOptions says what the summary calls the run and where its chart is.
type MarkdownOptions struct {
	Title string // the heading; default "autoresearch run"
	Image string // path of the chart for an image link; none when empty
	// Pricing prices the LLM tokens; without prices the summary shows the
	// tokens only.
	Pricing cost.Pricing
}

// topWins is how many of the biggest improvements the summary lists.
const topWins = 5

// WriteMarkdown writes a Markdown summary of the run: the counts, keep rate,
// best value and total improvement, the wall time, LLM tokens and their cost
// when u knows them (u may be nil), the kept changes and the biggest wins.
func WriteMarkdown(w io.Writer, a *Analysis, u *Usage, opts MarkdownOptions) error {
	ew := &errWriter{w: w}
	title := opts.Title
	if title == "" {
		title = "autoresearch run"
	}
	fmt.Fprintf(ew, "# %s\n\n", mdEscape(title))
	if opts.Image != "" {
		fmt.Fprintf(ew, "![progress](%s)\n\n", opts.Image)
	}
	fmt.Fprintf(ew, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(ew, "| %s | %s |\n", k, v) }
	row("metric", fmt.Sprintf("%s (%s)", mdEscape(a.Metric), a.Direction()))
	row("experiments", fmt.Sprintf("%d: %d kept, %d discarded, %d crashed", len(a.Rows), a.Keeps, a.Discards, a.Crashes))
	if rate := a.KeepRate(); !math.IsNaN(rate) {
		row("keep rate", fmt.Sprintf("%.1f %% (%d of %d kept or discarded)", 100*rate, a.Keeps, a.Keeps+a.Discards))
	}
	if a.Baseline >= 0 && a.Measured(a.Rows[a.Baseline]) {
		row("baseline", fmt.Sprintf("%.6f", a.Rows[a.Baseline].Value))
	}
	if a.Best >= 0 {
		r := a.Rows[a.Best]
		row("best", fmt.Sprintf("%.6f (#%d `%s`: %s)", r.Value, a.Best, r.Commit, mdEscape(r.Description)))
	}
	if abs, frac := a.Improvement(); !math.IsNaN(abs) {
		row("total improvement", fmt.Sprintf("%.6f (%.2f %%)", abs, 100*frac))
	}
	if a.Noise != nil {
		row("noise", strings.TrimPrefix(a.Noise.Line(), "noise: "))
	}
	if a.Audit != nil {
		row("audit", mdEscape(a.Audit.Headline())+" (below)")
	}
	if a.Workers != nil {
		row("workers", mdEscape(strings.Join(a.Workers.Lines(time.Now()), "; ")))
	}
	if u != nil {
		if wall := u.Wall(); wall > 0 {
			per := ""
			if n := len(a.Rows); n > 0 {
				per = fmt.Sprintf(", %.1f experiments per hour", float64(n)/wall.Hours())
			}
			row("wall time", duration(wall)+per)
		}
		if u.HasTokens {
			row("LLM tokens", fmt.Sprintf("%s (%s prompt, %s completion)",
				numfmt.Thousands(u.PromptTokens+u.CompletionTokens), numfmt.Thousands(u.PromptTokens), numfmt.Thousands(u.CompletionTokens)))
		}
		if c, ok := u.Cost(opts.Pricing); ok {
			row("LLM cost", a.Spend(c).String())
		}
	}

	if len(a.Kept) > 0 {
		fmt.Fprintf(ew, "\n## Kept changes\n\nEach delta is against the best before it.\n\n")
		fmt.Fprintf(ew, "| # | commit | %s | delta | description |\n|---:|---|---:|---:|---|\n", a.Metric)
		for _, i := range a.Kept {
			r := a.Rows[i]
			value, delta := "-", "-"
			if a.Measured(r) {
				value = fmt.Sprintf("%.6f", r.Value)
			}
			switch {
			case i == a.Baseline && a.Measured(r):
				delta = "baseline"
			case !math.IsNaN(a.Delta[i]):
				delta = fmt.Sprintf("%+.6f", a.Delta[i]) + a.Noise.inSigmas(a.Delta[i])
			}
			fmt.Fprintf(ew, "| %d | `%s` | %s | %s | %s |\n", i, r.Commit, value, delta, mdEscape(r.Description))
		}
	}

	if wins := biggestWins(a); len(wins) > 0 {
		fmt.Fprintf(ew, "\n## Biggest wins\n\n")
		for n, i := range wins {
			fmt.Fprintf(ew, "%d. %+.6f — %s (#%d)\n", n+1, a.Delta[i], mdEscape(a.Rows[i].Description), i)
		}
	}
	auditMarkdown(ew, a)
	return ew.err
}

// biggestWins are the kept rows that improved the best the most, largest first.
func biggestWins(a *Analysis) []int {
	var wins []int
	for _, i := range a.Kept {
		if i != a.Baseline && a.setsBest(i) {
			wins = append(wins, i)
		}
	}
	sort.SliceStable(wins, func(x, y int) bool { return a.gain(wins[x]) > a.gain(wins[y]) })
	return wins[:min(len(wins), topWins)]
}

// mdEscape keeps a description from breaking a table or turning into
// markup. It leaves < alone: the summary is read as text (printed to a
// terminal, saved as REPORT.md), where an entity would show as "&lt;"; the
// HTML page escapes for HTML itself.
func mdEscape(s string) string {
	s = results.CleanDescription(s)
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "`", "\\`", "[", `\[`)
	return r.Replace(s)
}

func duration(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case d < time.Minute:
		return "under a minute"
	case h == 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %02d min", h, m)
}
