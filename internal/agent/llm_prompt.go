package agent

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"autoresearch/internal/contract"
	"autoresearch/internal/numfmt"
	"autoresearch/internal/results"
	"autoresearch/internal/task"
)

// detail is how much history the first user message carries. A proposal
// starts at level 0; each context-length error from the server moves it one
// level down, until the conversation fits.
type detail struct {
	rows       int  // last rows of results.tsv shown
	logLines   int  // lines of the last outcome's log tail
	failLines  int  // lines of a repair's failure output
	ideas      int  // older descriptions listed as already tried; -1: all
	kept       int  // kept changes listed (the most recent); -1: all
	inlineFile bool // the editable files' content in the message
}

var detailLevels = []detail{
	{rows: 20, logLines: 50, failLines: 50, ideas: -1, kept: -1, inlineFile: true},
	{rows: 10, logLines: 20, failLines: 30, ideas: 60, kept: 30, inlineFile: true},
	{rows: 5, logLines: 0, failLines: 15, ideas: 20, kept: 10, inlineFile: true},
	{rows: 3, logLines: 0, failLines: 10, ideas: 0, kept: 5, inlineFile: false},
}

// systemPrompt is the program (the human's instructions) followed by the
// protocol rules, which the program cannot override.
func systemPrompt(req Request, cfg LLMConfig, repair bool) string {
	var b strings.Builder
	if p := strings.TrimSpace(req.Program); p != "" {
		b.WriteString(p)
		b.WriteString("\n\n")
	}
	t := req.Task
	editable := strings.Join(t.Editable, ", ")
	locked := "Everything else in the worktree"
	if t.Prompt.Locked != "" {
		locked += " (" + t.Prompt.Locked + ")"
	}
	locked += " is locked: read it, never edit it."
	rules := t.Prompt.Rules
	if len(rules) == 0 {
		rules = []string{"Add no new dependencies."}
	}
	check := "This task has no build step: check has nothing to run, and a mistake shows only when the program runs. Read your edit back before you submit."
	if len(t.Build.Argv) > 0 {
		check = "After editing, call check (it runs the task's build) and fix what it reports before you submit; submit refuses a change that does not build."
	}
	sandbox := "The program runs in a sandbox: no network (loopback included), no other programs, no writes outside $TMPDIR, reads only the worktree and the data the task names, memory limited."
	if slices.ContainsFunc(t.Editable, func(p string) bool { return strings.HasSuffix(p, ".go") }) {
		sandbox += " A Go file may import only what the baseline imports plus the standard library's computation packages (no os/exec, net, unsafe, plugin, syscall beyond the baseline's); another import comes back like a compile error."
	}
	fmt.Fprintf(&b, `# Protocol

This conversation is one step of an autonomous research loop run by autoresearch. You act only through the tools; there is no human to answer questions.

- Every reply must call at least one tool. A reply without a tool call is wasted.
- Only %[1]s may change. %[5]s
`, editable, metricName(req), cfg.MaxToolCalls, cfg.MaxTokens, locked)
	for _, r := range rules {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	fmt.Fprintf(&b, `- %[5]s
- Make one focused change per proposal, so that its effect on %[2]s (%[6]s) can be measured on its own.
- %[7]s
- submit(description) ends the step: the program is then run for its fixed budget and kept only if %[2]s improves. The description is one short line saying what changed, e.g. "raise the matrix learning rate from 0.04 to 0.05".
- Do not repeat an idea already tried (the list comes with the results) unless you change it in a way you name in the description.
- You have at most %[3]d tool calls and %[4]d tokens for this step.
`, editable, metricName(req), cfg.MaxToolCalls, cfg.MaxTokens, sandbox, direction(req), check)
	if repair {
		b.WriteString("- This step is a repair: the change you made failed. Fix it and submit, or call give_up(reason) if the idea itself cannot work; the change is then thrown away and the loop moves on.\n")
	} else {
		b.WriteString("- give_up(reason) abandons the step without an experiment; use it only when no change is worth trying.\n")
	}
	return b.String()
}

// direction is "lower is better" or "higher is better".
func direction(req Request) string {
	if req.Task.Metric.LowerIsBetter {
		return "lower is better"
	}
	return "higher is better"
}

// fenceLanguage names a file's language for a Markdown code fence, from its
// name; "" (a plain fence) when unknown.
func fenceLanguage(path string) string {
	base := strings.ToLower(path[strings.LastIndexByte(path, '/')+1:])
	switch base {
	case "makefile", "gnumakefile":
		return "make"
	case "dockerfile":
		return "dockerfile"
	}
	ext := base[strings.LastIndexByte(base, '.')+1:]
	if !strings.Contains(base, ".") {
		return ""
	}
	if lang, ok := fenceLanguages[ext]; ok {
		return lang
	}
	return ""
}

var fenceLanguages = map[string]string{
	"go": "go", "py": "python", "sh": "bash", "bash": "bash", "zsh": "zsh", "toml": "toml",
	"yaml": "yaml", "yml": "yaml", "json": "json", "js": "javascript", "mjs": "javascript",
	"ts": "typescript", "rs": "rust", "c": "c", "h": "c", "cc": "cpp", "cpp": "cpp", "hpp": "cpp",
	"java": "java", "kt": "kotlin", "rb": "ruby", "jl": "julia", "r": "r", "sql": "sql",
	"md": "markdown", "txt": "text", "ini": "ini", "cfg": "ini", "lua": "lua", "cu": "cuda",
	"swift": "swift", "scala": "scala", "hs": "haskell", "ml": "ocaml", "php": "php", "pl": "perl",
}

func metricName(req Request) string {
	if req.Task.Metric.Name == "" {
		return results.DefaultMetric
	}
	return req.Task.Metric.Name
}

// userPrompt is the context of one proposal at the given level of detail:
// the run, the results so far, the last outcome, the current files and the
// task. failure is nil for a proposal, set for a repair.
func userPrompt(req Request, files map[string]string, level int, failure *Failure, proposed string) string {
	d := detailLevels[min(level, len(detailLevels)-1)]
	metric := metricName(req)
	var b strings.Builder
	t := req.Task
	what := t.Prompt.What
	if what == "" {
		what = "the program of the task in " + orUnknown(t.Source)
	}
	clock := t.Prompt.Budget
	if clock == "" {
		clock = "wall-clock time"
	}
	fmt.Fprintf(&b, "# Run\n\nExperiment %d on %s. Budget: %g s of %s per run ($%s). Device: %s. Metric: %s (%s). Files you may change: %s.\n",
		req.N, what, t.BudgetSeconds, clock, contract.EnvBudget, orUnknown(t.Device.String()), metric, direction(req), strings.Join(t.Editable, ", "))

	writeNoise(&b, req, metric)
	writeResults(&b, req, d, metric)
	writeInFlight(&b, req)

	if o := req.Last; o != nil && failure == nil {
		b.WriteString("\n# Last experiment\n\n")
		fmt.Fprintf(&b, "%q: %s", o.Description, o.Status)
		if o.Status == results.Crash {
			if o.Crash != "" {
				fmt.Fprintf(&b, " (%s)", o.Crash)
			}
		} else {
			fmt.Fprintf(&b, ", %s %.6f", metric, o.Value)
		}
		b.WriteString("\n")
		writeTraining(&b, t, o)
		if t := lastLines(o.LogTail, d.logLines); t != "" {
			fmt.Fprintf(&b, "\nIts log ends with:\n```\n%s\n```\n", t)
		}
	}
	if o := req.Best; o != nil && failure == nil {
		b.WriteString("\n# Current best\n\n")
		if o == req.Last {
			b.WriteString("The last experiment.\n")
		} else {
			fmt.Fprintf(&b, "%q: %s %.6f\n", o.Description, metric, o.Value)
			writeTraining(&b, t, o)
		}
		if o.LogSection != "" {
			title := t.Prompt.Log.Title
			if title == "" {
				title = "From its log"
			}
			fmt.Fprintf(&b, "\n%s:\n```\n%s\n```\n", title, lastLines(o.LogSection, maxSectionLines))
		}
	}

	for _, p := range t.Editable {
		if d.inlineFile {
			fmt.Fprintf(&b, "\n# Current %s\n\n```%s\n%s\n```\n", p, fenceLanguage(p), strings.TrimRight(files[p], "\n"))
		} else {
			fmt.Fprintf(&b, "\n# Current %s\n\n(%d lines, left out to fit the context window: read it with read_file)\n", p, strings.Count(files[p], "\n"))
		}
	}

	b.WriteString("\n# Task\n\n")
	if failure == nil {
		fmt.Fprintf(&b, "Make one change to %s that you expect to improve %s within the fixed budget, check that it builds, and submit it with a one-line description.\n",
			strings.Join(t.Editable, ", "), metric)
		return b.String()
	}
	failed := "failed"
	switch failure.Kind {
	case "build":
		failed = "does not build"
	case "runtime":
		failed = "crashed while running"
	}
	if proposed != "" {
		fmt.Fprintf(&b, "Your change %q %s (repair attempt %d).", proposed, failed, failure.Attempt)
	} else {
		fmt.Fprintf(&b, "The current change %s (repair attempt %d).", failed, failure.Attempt)
	}
	label := "Output"
	if failure.Kind == "build" {
		label = "The build's output"
	} else if failure.Kind == "runtime" {
		label = "The log ends with"
	}
	fmt.Fprintf(&b, " %s:\n```\n%s\n```\n", label, lastLines(failure.Output, d.failLines))
	fmt.Fprintf(&b, "The files above hold the failing change. Fix it (edit, check, then submit with a description of the fixed change), or call give_up with the reason if the idea itself cannot work.\n")
	return b.String()
}

// writeNoise says what a real gain looks like: the run-to-run noise and the
// margin a change's mean must beat the best by, after each number of runs.
func writeNoise(b *strings.Builder, req Request, metric string) {
	m := req.Margins
	switch {
	case req.Noise > 0 && len(m) > 1:
		fmt.Fprintf(b, "Noise: %d runs of programs measured more than once (the unchanged baseline's among them) put the run-to-run standard deviation of %s at %.6f. A change whose first run beats the best is trained again, up to %d runs, and kept as soon as the mean of its runs beats the best by the margin, which counts the best's own runs too: %.6f after 2 runs, falling to %.6f after %d. Smaller differences are noise: prefer changes that can win by more than %.6f.\n",
			req.NoiseRuns, metric, req.Noise, len(m)+1, m[0], m[len(m)-1], len(m)+1, m[len(m)-1])
	case req.Noise > 0:
		fmt.Fprintf(b, "Noise: %d runs of programs measured more than once (the unchanged baseline's among them) put the run-to-run standard deviation of %s at %.6f. A change is kept only when it beats the best by more than %.6f. Smaller differences are noise: prefer changes that can win by more than that.\n",
			req.NoiseRuns, metric, req.Noise, req.Threshold)
	case req.Threshold > 0:
		fmt.Fprintf(b, "A change is kept only when it beats the best by more than %.6f.\n", req.Threshold)
	}
}

// maxSectionLines bounds the task's log section in the prompt.
const maxSectionLines = 60

// writeTraining writes how an experiment's run went, as far as its program
// reported it: the figures the task names (steps, throughput, memory...),
// then the smoothed training loss at every tenth of the budget.
func writeTraining(b *strings.Builder, t task.Task, o *Outcome) {
	var parts []string
	for _, k := range t.Prompt.Figures {
		if v, ok := o.Figures[k]; ok && v != 0 {
			parts = append(parts, k+" "+figure(v))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, "Figures: %s.\n", strings.Join(parts, ", "))
	}
	if len(o.Curve) > 0 {
		fmt.Fprintf(b, "Training loss (smoothed) at each tenth of the budget, as share loss @step: %s\n", contract.FormatCurve(o.Curve))
	}
}

// figure writes a reported number: a whole number with thousands
// separators, anything else with four significant digits.
func figure(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return numfmt.Thousands(int64(v))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// shortCommit cuts a hash to the 7 characters results.tsv shows.
func shortCommit(h string) string { return h[:min(len(h), 7)] }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writeResults writes the best value, the kept changes with their deltas, the
// last rows, and the older ideas already tried.
func writeResults(b *strings.Builder, req Request, d detail, metric string) {
	rows := req.Results
	b.WriteString("\n# Results so far\n\n")
	if len(rows) == 0 {
		b.WriteString("None yet.\n")
		return
	}
	better := func(a, c float64) bool {
		if req.Task.Metric.LowerIsBetter {
			return a < c
		}
		return a > c
	}
	var kept []results.Row
	var best *results.Row
	for i := range rows {
		if rows[i].Status != results.Keep {
			continue
		}
		kept = append(kept, rows[i])
		if best == nil || better(rows[i].Value, best.Value) {
			best = &rows[i]
		}
	}
	crashes, discards := 0, 0
	for _, r := range rows {
		switch r.Status {
		case results.Crash:
			crashes++
		case results.Discard:
			discards++
		}
	}
	fmt.Fprintf(b, "%d experiments: %d kept, %d discarded, %d crashed.\n", len(rows), len(kept), discards, crashes)
	if best != nil {
		fmt.Fprintf(b, "Best %s: %.6f (%s, %q).\n", metric, best.Value, shortCommit(best.Commit), best.Description)
	}

	if len(kept) > 0 {
		b.WriteString("\nKept changes, oldest first, each with its change of the metric from the previous kept state:\n")
		start := 0
		if d.kept >= 0 && len(kept) > d.kept {
			start = len(kept) - d.kept
			fmt.Fprintf(b, "(%d older kept changes left out)\n", start)
		}
		for i := start; i < len(kept); i++ {
			k := kept[i]
			delta := "start"
			if i > 0 {
				delta = fmt.Sprintf("%+.6f", k.Value-kept[i-1].Value)
			}
			fmt.Fprintf(b, "- %s %.6f (%s) %s\n", shortCommit(k.Commit), k.Value, delta, k.Description)
		}
	}

	shown := min(d.rows, len(rows))
	older := rows[:len(rows)-shown]
	fmt.Fprintf(b, "\nThe last %d rows of results.tsv:\n```\n%s\n", shown, results.Header(metric))
	for _, r := range rows[len(rows)-shown:] {
		b.WriteString(r.Format())
		b.WriteString("\n")
	}
	b.WriteString("```\n")

	if len(older) == 0 || d.ideas == 0 {
		return
	}
	seen := map[string]bool{}
	var ideas []string
	for _, r := range older {
		key := strings.ToLower(r.Description)
		if seen[key] {
			continue
		}
		seen[key] = true
		ideas = append(ideas, fmt.Sprintf("- %s (%s)", r.Description, r.Status))
	}
	if d.ideas > 0 && len(ideas) > d.ideas {
		fmt.Fprintf(b, "\nOlder ideas already tried (the %d most recent of %d):\n", d.ideas, len(ideas))
		ideas = ideas[len(ideas)-d.ideas:]
	} else {
		b.WriteString("\nOlder ideas already tried:\n")
	}
	b.WriteString(strings.Join(ideas, "\n"))
	b.WriteString("\n")
}

// lastLines returns the last n lines of s (none for n <= 0), each cut to a
// sane width so that one runaway line cannot fill the context.
func lastLines(s string, n int) string {
	if n <= 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 500 {
			lines[i] = l[:500] + " [...]"
		}
	}
	return strings.Join(lines, "\n")
}

// writeInFlight lists the changes other workers are measuring now, so that
// a proposal does not duplicate one.
func writeInFlight(b *strings.Builder, req Request) {
	if len(req.InFlight) == 0 {
		return
	}
	b.WriteString("\n# In flight\n\nOther workers are measuring these changes right now (their results are not in yet); do not propose them again:\n")
	for _, d := range req.InFlight {
		fmt.Fprintf(b, "- %s\n", d)
	}
}
