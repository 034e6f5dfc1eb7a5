// Package experiment is the research protocol: setting up a run, the
// baseline, the loop, the crash protocol, stop and resume. It knows nothing
// about GPTs: what may be edited, how to build and run the program, and which
// figure to improve in which direction all come from the run's configuration
// (run.json), so the same loop can drive any task that prints a metric.
//
// Its terms:
//
//   - run: one research session on one branch autoresearch/<tag>, living in
//     <repo>/.autoresearch/<tag>/: worktree/ (the clone), run.json,
//     results.tsv, experiments.jsonl, logs/, transcripts/, bin/ and a lock.
//   - experiment n: one idea from start to decision: propose, guard, commit,
//     build, train, measure, decide, record. It is numbered by its row in
//     results.tsv; the baseline is experiment 0.
//   - baseline: the unmodified program, run at setup, BaselineRepeats times
//     (once when that is 0 or 1). It is the first keep and the first best,
//     valued at the mean of its runs.
//   - noise: the spread (sigma, a sample standard deviation) of the
//     baseline's runs, stored in run.json; it sets the keep threshold.
//   - best: the metric of the last kept experiment.
//   - keep: the mean of the change's runs beats the best by more than the
//     threshold, max(min delta, multiplier × sigma) (see KeepRule); the
//     commit stays on the branch (which advances) and is pushed back to the
//     user's repository.
//   - re-measurement: a further run of a change that beat the best, before
//     the keep rule decides; logged as logs/<n>-run2.log and so on.
//   - discard: the program ran but did not beat the best; the branch is reset
//     to the last kept commit.
//   - crash: the change did not build (build), ran without a usable metric
//     (runtime), ran past the hard limit (timeout), or touched a path outside
//     the editable ones (guard). Build and runtime crashes go back to the
//     proposer's Repair up to the fix-attempt limit; timeouts and guard
//     violations do not. A crash is recorded with metric 0 and reset.
//   - abandoned: a proposal that produced no change or that the proposer gave
//     up on before anything ran. It costs no number and no row.
//   - records: results.tsv (the five columns of the original, the source of
//     truth for numbering and the best) and experiments.jsonl (one Record per
//     line with everything else). Both are appended and flushed per
//     experiment; a torn last line is cut on resume.
//   - stop: the context ends (SIGINT or SIGTERM): the training process group
//     is killed, the worktree rolled back to the last kept commit, and nothing
//     is recorded for the unfinished experiment.
//   - resume: opening an existing run. The worktree is reset to the commit of
//     the last keep row, so an experiment cut short (even by SIGKILL) is
//     rolled back, and numbering and the best continue from results.tsv.
//   - measurement: a fresh run of one of the run's commits, built and run as
//     an experiment is, in a worker of its own (workers/<name>/<i>/), that
//     touches neither the branch nor the records (Measurer, measure.go).
//   - audit: measurements of the baseline and the final best (or every kept
//     commit), R each, interleaved, recorded in audit.json; package audit
//     says how much of the logged gain they hold (Run.Audit).
//   - lock: an flock on <run>/lock holding the owner's pid. A second process
//     on the same run is refused; the lock of a dead process is free.
package experiment
