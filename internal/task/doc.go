// Package task describes what a run researches: Task is the one description
// the loop, the runner, the sandbox and the agents read. Two sources make
// one: a task file, autoresearch.toml at the top of the user's repository
// (Load), and the built-in GPT task (package gpttask), which a task file
// can write out exactly (programs/examples/gpt/autoresearch.toml).
//
// Its terms:
//
//   - editable: the paths the agent may change; everything else is the fixed
//     evaluation. shared: untracked paths of the user's repository linked
//     into each clone (a vendor folder, a virtualenv).
//   - build: an optional command run before each experiment; its failure is
//     a build crash. run: the experiment itself; its output is the log. Both
//     get their env; ${NAME} in a task file's values is the user's variable
//     (AUTORESEARCH_HOME has its default).
//   - device: cpu or cuda; it decides which device files the sandbox opens
//     and how workers split the machine.
//   - budget: the time the program keeps itself to, passed to it as
//     AUTORESEARCH_BUDGET_SECONDS. hard limit: the time after which it is
//     killed (default 2 × budget + the allowance).
//   - metric: a name (results.tsv's second column), a regular expression
//     whose first group is the value (the last matching log line counts; no
//     pattern: the result file or summary block) and a direction.
//   - memory: where the peak memory in MB is (figures, or a pattern), shown
//     as results.tsv's memory_gb.
//   - progress, warm-up and fail lines: what the live status and the runner
//     read from the log (the contract package's lines for the GPT).
//   - prompt: how the agent's prompt speaks of the task: what the program
//     is, what is locked, further rules, what the budget counts, which
//     figures and which section of the log to show.
//   - requires: files that must exist before a run (prepared data), each
//     with what to do when missing.
//
// A task file with a missing, wrong or unknown key is refused before
// anything runs, each problem with its line and its fix.
package task
