// Package task reads autoresearch.toml, the file that makes any repository
// with a metric a research task, and turns it into the experiment loop's run
// configuration. Its terms:
//
//   - task file: autoresearch.toml at the top of the user's repository. When
//     it is there, the commands work on its task; when it is not, on the
//     built-in GPT task (gpt/train.go, val_bpb).
//   - editable: the paths the agent may change; everything else is the fixed
//     evaluation.
//   - build: an optional command run before each experiment; its failure is
//     a build crash. run: the experiment itself; its output is the log.
//   - budget: the time the program keeps itself to, passed to it as
//     AUTORESEARCH_BUDGET_SECONDS. hard limit: the time after which it is
//     killed (default 2 × budget + the evaluation allowance).
//   - metric: a name (results.tsv's second column), a regular expression
//     whose first group is the value (the last matching log line counts) and
//     a direction, lower or higher is better.
//   - memory: an optional regular expression for the peak memory in MB,
//     shown as results.tsv's memory_gb.
//
// A file with a missing, wrong or unknown key is refused before anything
// runs, each problem with its line and its fix.
package task
