package task

// ProgramFile is where autoresearch init puts the agent's instructions.
const ProgramFile = "program.md"

// Template is the task file autoresearch init writes: every key, commented,
// with example values to replace.
const Template = `# autoresearch.toml: the research task of this repository.
# autoresearch builds and runs the program, reads the metric from its output,
# keeps a change of the editable files when the metric improves and discards
# it otherwise. Fill in the keys marked REQUIRED, commit, then run
#   autoresearch baseline --tag first && autoresearch run --tag first

# REQUIRED: the paths the agent may change. Everything else is the fixed
# evaluation: a change to it is refused before it runs.
editable = ["strategy.py"]

# Optional: run before each experiment, in the repository's top folder; a
# failure is a build crash and goes back to the agent to fix.
# build = ["make", "backtest"]

# REQUIRED: the experiment. Its output (stdout and stderr) is the log the
# metric is read from.
run = ["python3", "backtest.py"]

# REQUIRED: the time the program keeps itself to. It gets it in seconds in
# $AUTORESEARCH_BUDGET_SECONDS; results are comparable only at one budget.
budget = "60s"

# Optional: the program is killed after this and the experiment is a crash.
# Default: 2 x budget + 2 minutes.
# hard_limit = "3m"

# Optional: the instructions the LLM agent follows (--program overrides it).
program = "program.md"

[metric]
# REQUIRED: the column of results.tsv and the word the agent sees.
name = "sharpe"
# REQUIRED: a regular expression matched against each line of the log; its
# first group is the value, and the last matching line counts. Single quotes
# keep backslashes as they are. A log without a match is a crash.
pattern = '^sharpe:\s*([-+0-9.eE]+)'
# REQUIRED: "lower" (a loss, an error, a time) or "higher" (a return, an
# accuracy) is better.
direction = "higher"

# Optional: the peak memory in megabytes, shown as results.tsv's memory_gb.
# [memory]
# pattern = '^peak_mb:\s*([0-9.]+)'
`

// ProgramTemplate is the skeleton of program.md autoresearch init writes.
const ProgramTemplate = `# Research program

<!-- The LLM agent reads this before every experiment. Say what the task is,
what the agent may try, and what it must not do. autoresearch adds the
protocol (tools, one change per experiment, the results so far) by itself. -->

## The task

Describe the program and what its metric measures: what it computes, on what
data, and why a better value matters.

## What to try

- The ideas worth exploring first, most promising first.
- The knobs in the editable files and their sensible ranges.

## Rules

- Change only the editable files of autoresearch.toml; the evaluation is fixed.
- Keep the program inside its time budget ($AUTORESEARCH_BUDGET_SECONDS).
- Prefer simple changes: a small gain that adds ugly complexity is not worth it.
`
