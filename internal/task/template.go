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

# Optional, for programs that need more than the repository:
# shared = [".venv"]          # untracked folders linked into each clone
# env = { DATA = "${AUTORESEARCH_HOME}/prices" }   # ${NAME}: your variable
# readable = ["${AUTORESEARCH_HOME}/prices"]       # read outside the repository
# device = "cuda"             # opens the GPUs; --workers gives each one
# allowance = "2m"            # start-up and evaluation beyond two budgets
# fail = "FAIL"               # a line by which the program gives up

[metric]
# REQUIRED: the column of results.tsv and the word the agent sees.
name = "sharpe"
# A regular expression matched against each line of the log; its first group
# is the value, and the last matching line counts. Single quotes keep
# backslashes as they are. A log without a match is a crash. Without it, the
# value comes from the program's result file ($AUTORESEARCH_RESULT) or a
# summary block ("---", then "sharpe: 1.23").
pattern = '^sharpe:\s*([-+0-9.eE]+)'
# REQUIRED: "lower" (a loss, an error, a time) or "higher" (a return, an
# accuracy) is better.
direction = "higher"

# Optional: the peak memory in megabytes, shown as results.tsv's memory_gb
# (pattern: read from the log; keys: figures of the program's result file).
# [memory]
# pattern = '^peak_mb:\s*([0-9.]+)'

# Optional tables:
# [limits]                    # the sandbox's limits
# memory_mb = 8192
# [progress]                  # the live status's progress, in percent
# pattern = '^(\d+)% done'
# [prompt]                    # how the agent's prompt speaks of the task
# what = "the trading strategy in strategy.py"
# locked = "backtest.py and the price data"
# rules = ["Use only the Python standard library."]
# figures = ["trades", "max_drawdown"]
# verb = "backtesting"        # the live status's word for a run (default "running")
# [[require]]                 # what must exist before a run
# path = "${AUTORESEARCH_HOME}/prices/meta.json"
# missing = "no prices: run make prices"
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
