package agent

import (
	"fmt"
	"strings"

	"autoresearch/harness"
	"autoresearch/internal/results"
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
	editable := strings.Join(req.EditablePaths, ", ")
	locked := "Everything else in the worktree (harness/, internal/, go.mod, go.sum) is locked: read it, never edit it. Use only the Go standard library and the packages the module already has; no new dependencies."
	check := "After editing, call check and fix any compiler error before you submit; submit refuses a program that does not build."
	run := "trained for the fixed budget"
	if req.Task != "" {
		locked = fmt.Sprintf("Everything else in the worktree, %s and the evaluation included, is locked: read it, never edit it. Add no new dependencies.", req.Task)
		run = "run with its fixed budget"
		if !req.HasBuild {
			check = "This task has no build step: check has nothing to run, and a mistake shows only when the program runs. Read your edit back before you submit."
		} else {
			check = "After editing, call check (it runs the task's build) and fix what it reports before you submit; submit refuses a change that does not build."
		}
	}
	fmt.Fprintf(&b, `# Protocol

This conversation is one step of an autonomous research loop run by autoresearch. You act only through the tools; there is no human to answer questions.

- Every reply must call at least one tool. A reply without a tool call is wasted.
- Only %[1]s may change. %[5]s
- The program runs in a sandbox: no network (loopback included), no other programs, no writes outside $TMPDIR, reads only the worktree and the prepared data, memory limited. A Go file may import only what the baseline imports plus the standard library's computation packages (no os/exec, net, unsafe, plugin, syscall beyond the baseline's); another import comes back like a compile error.
- Make one focused change per proposal, so that its effect on %[2]s (%[6]s) can be measured on its own.
- %[7]s
- submit(description) ends the step: the program is then %[8]s and kept only if %[2]s improves. The description is one short line saying what changed, e.g. "raise the matrix learning rate from 0.04 to 0.05".
- Do not repeat an idea already tried (the list comes with the results) unless you change it in a way you name in the description.
- You have at most %[3]d tool calls and %[4]d tokens for this step.
`, editable, metricName(req), cfg.MaxToolCalls, cfg.MaxTokens, locked, direction(req), check, run)
	if repair {
		b.WriteString("- This step is a repair: the change you made failed. Fix it and submit, or call give_up(reason) if the idea itself cannot work; the change is then thrown away and the loop moves on.\n")
	} else {
		b.WriteString("- give_up(reason) abandons the step without an experiment; use it only when no change is worth trying.\n")
	}
	return b.String()
}

// direction is "lower is better" or "higher is better".
func direction(req Request) string {
	if req.LowerIsBetter {
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
	if req.Metric == "" {
		return results.DefaultMetric
	}
	return req.Metric
}

// userPrompt is the context of one proposal at the given level of detail:
// the run, the results so far, the last outcome, the current files and the
// task. failure is nil for a proposal, set for a repair.
func userPrompt(req Request, files map[string]string, level int, failure *Failure, proposed string) string {
	d := detailLevels[min(level, len(detailLevels)-1)]
	metric := metricName(req)
	var b strings.Builder
	if req.Task != "" {
		fmt.Fprintf(&b, "# Run\n\nExperiment %d of the task in %s. Every run of the program has a fixed budget of %g s (it gets it in $AUTORESEARCH_BUDGET_SECONDS). Metric: %s (%s). Files you may change: %s.\n",
			req.N, req.Task, req.Budget, metric, direction(req), strings.Join(req.EditablePaths, ", "))
	} else {
		fmt.Fprintf(&b, "# Run\n\nExperiment %d. Profile %s: every run trains for a fixed budget of %g s of %s. Device: %s. Metric: %s (%s).\n",
			req.N, orUnknown(req.Profile), req.Budget, budgetClock(req.Device), orUnknown(req.Device), metric, direction(req))
	}

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
		writeTraining(&b, o)
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
			writeTraining(&b, o)
		}
	}

	for _, p := range req.EditablePaths {
		if d.inlineFile {
			fmt.Fprintf(&b, "\n# Current %s\n\n```%s\n%s\n```\n", p, fenceLanguage(p), strings.TrimRight(files[p], "\n"))
		} else {
			fmt.Fprintf(&b, "\n# Current %s\n\n(%d lines, left out to fit the context window: read it with read_file)\n", p, strings.Count(files[p], "\n"))
		}
	}

	b.WriteString("\n# Task\n\n")
	if failure == nil {
		fmt.Fprintf(&b, "Make one change to %s that you expect to improve %s within the fixed budget, check that it builds, and submit it with a one-line description.\n",
			strings.Join(req.EditablePaths, ", "), metric)
		return b.String()
	}
	what := "failed"
	switch failure.Kind {
	case "build":
		what = "does not build"
	case "runtime":
		what = "crashed while training"
		if req.Task != "" {
			what = "crashed while running"
		}
	}
	if proposed != "" {
		fmt.Fprintf(&b, "Your change %q %s (repair attempt %d).", proposed, what, failure.Attempt)
	} else {
		fmt.Fprintf(&b, "The current change %s (repair attempt %d).", what, failure.Attempt)
	}
	label := "Output"
	if failure.Kind == "build" {
		label = "Compiler output"
	} else if failure.Kind == "runtime" {
		label = "The training log ends with"
		if req.Task != "" {
			label = "The log ends with"
		}
	}
	fmt.Fprintf(&b, " %s:\n```\n%s\n```\n", label, lastLines(failure.Output, d.failLines))
	fmt.Fprintf(&b, "The files above hold the failing change. Fix it (edit, check, then submit with a description of the fixed change), or call give_up with the reason if the idea itself cannot work.\n")
	return b.String()
}

// writeNoise says what a real gain looks like: the run-to-run noise and the
// threshold a change must beat the best by.
func writeNoise(b *strings.Builder, req Request, metric string) {
	switch {
	case req.Noise > 0:
		fmt.Fprintf(b, "Noise: %d runs of the unchanged baseline measured %s with a standard deviation of %.6f. A change is kept only when it beats the best by more than %.6f; one that beats the best at all is trained again and judged on the mean of its runs. Smaller differences are noise: prefer changes that can win by more than that.\n",
			req.NoiseRuns, metric, req.Noise, req.Threshold)
	case req.Threshold > 0:
		fmt.Fprintf(b, "A change is kept only when it beats the best by more than %.6f.\n", req.Threshold)
	}
}

// budgetClock says what the budget counts on the device (harness.Budget).
func budgetClock(device string) string {
	if strings.HasPrefix(device, "cpu") {
		return "compute (the program's CPU time over its threads: a busy machine costs wall-clock time, not steps)"
	}
	return "wall-clock time"
}

// writeTraining writes how an experiment's training went, as far as its
// program reported it: steps, throughput, MFU and memory, then the smoothed
// training loss at every tenth of the budget.
func writeTraining(b *strings.Builder, o *Outcome) {
	var parts []string
	f := o.Figures
	if v, ok := f["num_steps"]; ok {
		parts = append(parts, fmt.Sprintf("%.0f steps", v))
	}
	if v := f["tokens_per_sec"]; v > 0 {
		parts = append(parts, harness.Thousands(int64(v))+" tokens/s")
	}
	if v := f["mfu_percent"]; v > 0 {
		parts = append(parts, fmt.Sprintf("MFU %.1f%%", v))
	}
	if v := max(f["peak_vram_mb"], f["peak_rss_mb"]); v > 0 {
		parts = append(parts, fmt.Sprintf("peak memory %.0f MB", v))
	}
	if len(parts) > 0 {
		fmt.Fprintf(b, "Training: %s.\n", strings.Join(parts, ", "))
	}
	if len(o.Curve) > 0 {
		fmt.Fprintf(b, "Training loss (smoothed) at each tenth of the budget, as share loss @step: %s\n", harness.FormatCurve(o.Curve))
	}
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
		if req.LowerIsBetter {
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
