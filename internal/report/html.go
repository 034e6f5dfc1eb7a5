package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/cost"
	"autoresearch/internal/results"
)

// The page's template, style and script, inlined into every page: it loads
// nothing from anywhere.
//
//go:embed html/page.tmpl html/page.css html/page.js
var htmlFiles embed.FS

var pageTemplate = template.Must(template.New("page.tmpl").Funcs(template.FuncMap{
	"num":        num,
	"add":        func(a, b float64) float64 { return a + b },
	"sub":        func(a, b float64) float64 { return a - b },
	"half":       func(a float64) float64 { return a / 2 },
	"plotRight":  func(c *svgChart) float64 { return c.Left + c.PlotW },
	"plotBottom": func(c *svgChart) float64 { return c.Top + c.PlotH },
	"triangle":   triangle,
	"cross":      cross,
	"thousands":  harness.Thousands[int64],
}).ParseFS(htmlFiles, "html/page.tmpl"))

var (
	pageCSS = template.CSS(mustRead("html/page.css"))
	pageJS  = template.JS(mustRead("html/page.js"))
)

func mustRead(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// HTMLOptions says what the page is called, where it goes and when it was
// written.
type HTMLOptions struct {
	Title string    // default "autoresearch run <tag>"
	Out   string    // the page's path: links to logs and transcripts are relative to its folder; default the run folder
	Now   time.Time // when the page says it was written; default time.Now()
	// MaxDiffLines cuts each diff (default 400 lines): a rewritten file
	// should not make the page of a long run unreadable.
	MaxDiffLines int
	// Pricing prices the LLM tokens; without prices the page shows the
	// tokens only.
	Pricing cost.Pricing
}

// section is one part of the page, written by the template of its ID, with
// a link at the top when the run has something for it. The page shows them
// in this order; a new part is a new entry and a new template.
type section struct {
	ID, Title string
	has       func(v *pageView) bool
}

var sections = []section{
	{"summary", "Summary", func(*pageView) bool { return true }},
	{"task", "Task", func(*pageView) bool { return true }},
	{"progress", "Progress", func(v *pageView) bool { return len(v.Rows) > 0 }},
	{"experiments", "Experiments", func(v *pageView) bool { return len(v.Rows) > 0 }},
	{"details", "Each experiment", func(v *pageView) bool { return len(v.Details) > 0 }},
	{"noise", "Noise", func(v *pageView) bool { return len(v.Noise) > 0 }},
	{"audit", "Audit", func(v *pageView) bool { return v.Audit != nil }},
	{"workers", "Workers", func(v *pageView) bool { return v.Timeline != nil || len(v.WorkerLines) > 0 }},
	{"llm", "LLM usage", func(v *pageView) bool { return len(v.Proposers) > 0 }},
}

// WriteHTML writes the page of p: one self-contained HTML file.
func WriteHTML(w io.Writer, p *Page, opts HTMLOptions) error {
	v := newPageView(p, opts)
	ew := &errWriter{w: w}
	if err := pageTemplate.ExecuteTemplate(ew, "head", v); err != nil {
		return err
	}
	for _, s := range v.Sections {
		fmt.Fprintf(ew, "<section id=%q>\n<h2>%s</h2>\n", s.ID, template.HTMLEscapeString(s.Title))
		if err := pageTemplate.ExecuteTemplate(ew, s.ID, v); err != nil {
			return err
		}
		io.WriteString(ew, "</section>\n")
	}
	if err := pageTemplate.ExecuteTemplate(ew, "foot", v); err != nil {
		return err
	}
	return ew.err
}

// RenderHTML is WriteHTML into a byte slice.
func RenderHTML(p *Page, opts HTMLOptions) ([]byte, error) {
	var b bytes.Buffer
	err := WriteHTML(&b, p, opts)
	return b.Bytes(), err
}

// pageView is what the template reads: the page's figures as text.
type pageView struct {
	Title, Headline, Written string
	CSS                      template.CSS
	JS                       template.JS
	Sections                 []section

	Summary []fact
	Task    []fact
	Chart   *svgChart
	Metric  string
	Rows    []rowView
	Details []detailView
	Noise   []fact
	Audit   *auditView

	Timeline    *svgTimeline
	WorkerLines []string

	Proposers []proposerView
	Tokens    string // the run's total, or ""
	Cost      string // what the tokens cost, or "" without prices
	Costs     bool   // the proposers' table has a cost column
}

// proposerView is a row of the LLM usage table.
type proposerView struct {
	ProposerUse
	Cost string
}

// fact is one line of a definition list.
type fact struct {
	Key, Value string
	List       []string // shown as a list of code, instead of Value
}

// rowView is one row of the experiments table. The *Key fields are what
// the table sorts on.
type rowView struct {
	N                        int
	Class                    string // keep, discard or crash, and best
	Commit, Value, ValueKey  string
	Delta, DeltaKey, Sigmas  string
	DeltaClass               string // better (a new best) or worse, in the metric's direction
	Status, Worker, Duration string
	DurationKey              string
	Description              string
}

// detailView is an experiment's folded part.
type detailView struct {
	N                          int
	Open                       bool
	Status, Value, Description string
	Facts                      []fact
	Curve                      *svgCurve
	Phases                     []phaseView
	Logs, Transcripts          []linkView
	DiffStat                   string
	Diff                       []diffLine
	DiffCut                    int // lines left out
	NoDiff                     string
}

type phaseView struct {
	Name, Seconds string
	Width         float64 // percent of the longest phase
}

type linkView struct{ Href, Text string }

type diffLine struct{ Class, Text string }

func newPageView(p *Page, opts HTMLOptions) *pageView {
	a := p.Analysis
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.MaxDiffLines <= 0 {
		opts.MaxDiffLines = 400
	}
	v := &pageView{Title: opts.Title, Headline: Headline(a), Written: opts.Now.Format("2006-01-02 15:04:05 MST"),
		CSS: pageCSS, JS: pageJS, Metric: a.Metric}
	if v.Title == "" {
		v.Title = "autoresearch run " + p.Tag
	}
	v.Summary = summaryFacts(p)
	v.Task = taskFacts(p)
	if len(a.Rows) > 0 {
		v.Chart = progressSVG(a, func(i int) string { return pointTitle(a, i) })
	}
	open := openDetail(p)
	for i := range a.Rows {
		v.Rows = append(v.Rows, newRowView(p, i))
		v.Details = append(v.Details, newDetailView(p, i, i == open, opts))
	}
	if a.Noise != nil {
		v.Noise = noiseFacts(a.Noise)
	}
	v.Audit = newAuditView(a)
	var flights []Flight
	if a.Workers != nil {
		flights = a.Workers.InFlight
		v.WorkerLines = a.Workers.Lines(opts.Now)
	}
	v.Timeline = timelineSVG(p.Records, flights, opts.Now, func(i int) string { return pointTitle(a, i) })
	if p.Usage != nil && p.Usage.HasTokens {
		v.Tokens = fmt.Sprintf("%s tokens: %s prompt, %s completion", harness.Thousands(p.Usage.PromptTokens+p.Usage.CompletionTokens),
			harness.Thousands(p.Usage.PromptTokens), harness.Thousands(p.Usage.CompletionTokens))
		v.Cost = a.SpendLine(p.Usage, opts.Pricing)
	}
	for _, u := range p.Proposers {
		pv := proposerView{ProposerUse: u}
		if c, ok := u.Cost(opts.Pricing); ok && u.PromptTokens+u.CompletionTokens > 0 {
			pv.Cost, v.Costs = cost.Dollars(c), true
		}
		v.Proposers = append(v.Proposers, pv)
	}
	for _, s := range sections {
		if s.has(v) {
			v.Sections = append(v.Sections, s)
		}
	}
	return v
}

// openDetail is the experiment whose part the page shows unfolded: the best
// when it changed something, else the first with a diff; -1 for none.
func openDetail(p *Page) int {
	if b := p.Analysis.Best; b > 0 && p.Patches[b].Text != "" {
		return b
	}
	for i, pt := range p.Patches {
		if pt.Text != "" {
			return i
		}
	}
	return -1
}

func value(a *Analysis, i int) string {
	if !a.Measured(a.Rows[i]) {
		return "-"
	}
	return strconv.FormatFloat(a.Rows[i].Value, 'f', 6, 64)
}

// pointTitle is an experiment in one line: "#3 keep 0.981200: LR 0.04 -> 0.02".
func pointTitle(a *Analysis, i int) string {
	r := a.Rows[i]
	s := fmt.Sprintf("#%d %s", i, r.Status)
	if a.Measured(r) {
		s += " " + value(a, i)
	}
	return s + ": " + results.CleanDescription(r.Description)
}

func summaryFacts(p *Page) []fact {
	a := p.Analysis
	f := []fact{{Key: "experiments", Value: Headline(a)}}
	if rate := a.KeepRate(); !math.IsNaN(rate) {
		f = append(f, fact{Key: "keep rate", Value: fmt.Sprintf("%.1f %% (%d of %d kept or discarded)", 100*rate, a.Keeps, a.Keeps+a.Discards)})
	}
	if a.Baseline >= 0 && a.Measured(a.Rows[a.Baseline]) {
		f = append(f, fact{Key: "baseline", Value: fmt.Sprintf("%s %s (#%d)", a.Metric, value(a, a.Baseline), a.Baseline)})
	}
	if a.Best >= 0 {
		f = append(f, fact{Key: "best", Value: fmt.Sprintf("%s %s (#%d: %s)", a.Metric, value(a, a.Best), a.Best, results.CleanDescription(a.Rows[a.Best].Description))})
	}
	if abs, frac := a.Improvement(); !math.IsNaN(abs) {
		f = append(f, fact{Key: "improvement", Value: fmt.Sprintf("%.6f (%.2f %%) %s, in %s", abs, 100*frac, a.Direction(), plural(max(a.Keeps-1, 0), "kept change"))})
	}
	if a.Audit != nil {
		f = append(f, fact{Key: "audit", Value: a.Audit.Headline()})
	}
	if u := p.Usage; u != nil {
		switch wall := u.Wall(); {
		case wall >= time.Minute:
			f = append(f, fact{Key: "wall time", Value: fmt.Sprintf("%s, %.1f experiments per hour", duration(wall), float64(len(a.Rows))/wall.Hours())})
		case wall > 0:
			f = append(f, fact{Key: "wall time", Value: duration(wall)})
		}
	}
	return f
}

func taskFacts(p *Page) []fact {
	a, info := p.Analysis, p.Info
	f := []fact{{Key: "metric", Value: a.Metric + " (" + a.Direction() + ")"}}
	if len(info.Editable) > 0 {
		f = append(f, fact{Key: "editable", List: info.Editable})
	}
	switch {
	case info.Source == "gpt":
		f = append(f, fact{Key: "task", Value: "the built-in GPT (gpt/train.go)"})
	case info.Source != "":
		f = append(f, fact{Key: "task file", List: []string{info.Source}})
	}
	if info.Profile != "" {
		f = append(f, fact{Key: "profile", Value: info.Profile})
	}
	if info.Device != "" {
		f = append(f, fact{Key: "device", Value: info.Device})
	}
	if info.Budget > 0 {
		f = append(f, fact{Key: "budget", Value: shortDuration(info.Budget) + " per training run"})
	}
	var agents []string
	for _, u := range p.Proposers {
		if model, ok := strings.CutPrefix(u.Name, "llm:"); ok {
			agents = append(agents, "llm, model "+model)
		} else {
			agents = append(agents, u.Name)
		}
	}
	if len(agents) > 0 {
		f = append(f, fact{Key: "agent", Value: strings.Join(agents, "; ")})
	}
	if info.Branch != "" {
		f = append(f, fact{Key: "branch", Value: info.Branch})
	}
	if info.BaseCommit != "" {
		f = append(f, fact{Key: "base commit", Value: short(info.BaseCommit)})
	}
	if !info.Created.IsZero() {
		f = append(f, fact{Key: "started", Value: info.Created.Format("2006-01-02 15:04 MST")})
	}
	if !info.Found {
		f = append(f, fact{Key: "run.json", Value: "none beside the results file: the task is not known"})
	}
	return f
}

func noiseFacts(n *Noise) []fact {
	var f []fact
	if n.Runs > 1 {
		f = append(f, fact{Key: "baseline runs", Value: fmt.Sprintf("%d, from %.6f to %.6f", n.Runs, n.Min, n.Max)})
		f = append(f, fact{Key: "sigma", Value: fmt.Sprintf("%.6f", n.Sigma)})
		if n.Outliers > 0 {
			f = append(f, fact{Key: "outliers", Value: plural(n.Outliers, "run") + " left out of sigma"})
		}
	} else {
		f = append(f, fact{Key: "baseline runs", Value: "1: the noise is not measured"})
	}
	if n.Threshold > 0 {
		f = append(f, fact{Key: "threshold", Value: fmt.Sprintf("%.6f: what a change must beat the best by (the band on the chart)", n.Threshold)})
	}
	if n.Remeasured > 0 {
		f = append(f, fact{Key: "re-measured", Value: fmt.Sprintf("%s (%s)", plural(n.Remeasured, "experiment"), plural(n.ExtraRuns, "extra run"))})
	}
	return f
}

func newRowView(p *Page, i int) rowView {
	a, r, rec := p.Analysis, p.Analysis.Rows[i], p.Records[i]
	v := rowView{N: i, Class: string(r.Status), Commit: r.Commit, Value: value(a, i), Status: string(r.Status),
		Worker: "-", Duration: "-", Description: results.CleanDescription(r.Description)}
	if a.Measured(r) {
		v.ValueKey = strconv.FormatFloat(r.Value, 'g', -1, 64)
	}
	if i == a.Best {
		v.Class += " best"
	}
	if d := a.Delta[i]; !math.IsNaN(d) {
		v.Delta, v.DeltaKey = fmt.Sprintf("%+.6f", d), strconv.FormatFloat(d, 'g', -1, 64)
		if a.Noise != nil && a.Noise.Sigma > 0 {
			v.Sigmas = fmt.Sprintf("%+.1f σ", d/a.Noise.Sigma)
		}
		switch {
		case a.setsBest(i):
			v.DeltaClass = "better"
		case a.Better(a.BestBefore[i], r.Value):
			v.DeltaClass = "worse"
		}
	}
	if rec != nil {
		if rec.Worker > 0 {
			v.Worker = strconv.Itoa(rec.Worker)
		}
		if d := rec.Duration(); d > 0 {
			v.Duration, v.DurationKey = shortDuration(d), strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
		}
	}
	return v
}

func newDetailView(p *Page, i int, open bool, opts HTMLOptions) detailView {
	a, r, rec := p.Analysis, p.Analysis.Rows[i], p.Records[i]
	v := detailView{N: i, Open: open, Status: string(r.Status), Value: value(a, i), Description: results.CleanDescription(r.Description)}
	add := func(k, format string, args ...any) {
		v.Facts = append(v.Facts, fact{Key: k, Value: fmt.Sprintf(format, args...)})
	}
	if rec == nil {
		add("commit", "%s", r.Commit)
		v.NoDiff = p.Patches[i].Why
		return v
	}
	if rec.Commit != "" {
		add("commit", "%s, from %s", short(rec.Commit), short(rec.Parent))
	} else {
		add("commit", "none")
	}
	if rec.Crash != "" || rec.Reason != "" {
		add("crash", "%s", strings.TrimPrefix(strings.Join([]string{rec.Crash, rec.Reason}, ": "), ": "))
	}
	if len(rec.Measurements) > 1 {
		add("measured", "%s (the value is their mean)", floatList(rec.Measurements))
	}
	if rec.Threshold > 0 {
		add("threshold", "%.6f to beat the best by", rec.Threshold)
	}
	if r.Status != results.Crash {
		add("best after", "%.6f", rec.Best)
	}
	if rec.MemoryGB > 0 {
		add("memory", "%.1f GB", rec.MemoryGB)
	}
	if rec.FixAttempts > 0 {
		add("fixes", "%d", rec.FixAttempts)
	}
	if rec.Worker > 0 {
		w := strconv.Itoa(rec.Worker)
		if rec.Job != "" {
			w += " (job " + rec.Job + ")"
		}
		add("worker", "%s", w)
	}
	if d := rec.Duration(); d > 0 {
		add("took", "%s", shortDuration(d))
	}
	if len(rec.Figures) > 0 {
		add("figures", "%s", keyValues(rec.Figures, "%.6g"))
	}
	if rec.PromptTokens+rec.Completion > 0 {
		spent := ""
		if c, ok := opts.Pricing.Of(rec.Prices, int64(rec.PromptTokens), int64(rec.Completion)); ok {
			spent = ", " + cost.Dollars(c)
		}
		add("llm", "%s: %s prompt and %s completion tokens, %d tool calls%s", rec.Proposer,
			harness.Thousands(rec.PromptTokens), harness.Thousands(rec.Completion), rec.ToolCalls, spent)
	}
	v.Curve = curveSVG(rec.Curve)
	longest := 0.0
	for _, s := range rec.Seconds {
		longest = max(longest, s)
	}
	for _, k := range sortedKeys(rec.Seconds) {
		w := 0.0
		if longest > 0 {
			w = 100 * rec.Seconds[k] / longest
		}
		v.Phases = append(v.Phases, phaseView{Name: k, Seconds: strconv.FormatFloat(rec.Seconds[k], 'f', 1, 64), Width: w})
	}
	for _, l := range rec.Logs {
		v.Logs = append(v.Logs, link(p.Dir, l, opts.Out))
	}
	for _, l := range rec.Transcripts {
		v.Transcripts = append(v.Transcripts, link(p.Dir, l, opts.Out))
	}
	if rec.Diff.Files > 0 {
		v.DiffStat = fmt.Sprintf("%s, +%d −%d lines", plural(rec.Diff.Files, "file"), rec.Diff.Additions, rec.Diff.Deletions)
	}
	pt := p.Patches[i]
	if pt.Text == "" {
		v.NoDiff = pt.Why
		return v
	}
	v.Diff, v.DiffCut = diffLines(pt.Text, opts.MaxDiffLines)
	return v
}

// link is a path of the run folder (as a record gives it, slash-separated)
// shown as such, linked relative to the page's folder.
func link(runDir, rel, out string) linkView {
	href := rel
	if out != "" {
		if r, err := filepath.Rel(filepath.Dir(out), filepath.Join(runDir, filepath.FromSlash(rel))); err == nil {
			href = filepath.ToSlash(r)
		}
	}
	return linkView{Href: href, Text: rel}
}

// diffLines classifies each line of a unified diff for its colour, up to
// limit lines; it returns how many were left out.
func diffLines(patch string, limit int) ([]diffLine, int) {
	lines := strings.Split(strings.TrimSuffix(patch, "\n"), "\n")
	cut := 0
	if len(lines) > limit {
		cut, lines = len(lines)-limit, lines[:limit]
	}
	out := make([]diffLine, len(lines))
	for i, l := range lines {
		class := "ctx"
		switch {
		case strings.HasPrefix(l, "diff --git"), strings.HasPrefix(l, "index "), strings.HasPrefix(l, "--- "), strings.HasPrefix(l, "+++ "),
			strings.HasPrefix(l, "new file"), strings.HasPrefix(l, "deleted file"):
			class = "meta"
		case strings.HasPrefix(l, "@@"):
			class = "hunk"
		case strings.HasPrefix(l, "+"):
			class = "add"
		case strings.HasPrefix(l, "-"):
			class = "del"
		}
		out[i] = diffLine{Class: class, Text: l}
	}
	return out, cut
}

func floatList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 6, 64)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keyValues lists a map's entries sorted by key, each value in format.
func keyValues(m map[string]float64, format string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + fmt.Sprintf(format, m[k])
	}
	return strings.Join(parts, ", ")
}

func short(h string) string { return h[:min(7, len(h))] }
