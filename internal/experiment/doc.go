// Package experiment is the research protocol: setting up a run, the
// baseline, the loop of experiments, the keep rule, the crash protocol, stop
// and resume. It knows what is researched only through the run's task
// (task.Task in run.json): what may be edited, how to build and run the
// program, which figure to improve in which direction, and the words the
// proposer's prompt uses. It never imports the harness or names the GPT.
//
// Its terms:
//
//   - run: one research session on one branch autoresearch/<tag>, living in
//     <repo>/.autoresearch/<tag>/: worktree/ (the run's clone, always at the
//     last kept commit), run.json, results.tsv, experiments.jsonl, logs/,
//     transcripts/, workers/, inflight.json and a lock.
//   - worker: one slot of the loop, with its own clone (workers/<i>/worktree),
//     binaries and share of the machine; --workers sets how many. The loop is
//     the pool of workers (pool.go), one worker or many.
//   - experiment n: one idea from start to decision: propose, guard, commit,
//     build, run, measure, decide, record. It is numbered by its row in
//     results.tsv; the baseline is experiment 0.
//   - baseline: the unmodified program, run at setup, BaselineRepeats times
//     (once when that is 0 or 1). It is the first keep and the first best,
//     valued at the mean of its runs.
//   - noise: the run-to-run spread of the metric. run.json stores the
//     baseline's (its runs and their sigma); the keep rule uses the pooled
//     sigma of every program measured more than once (SigmaPool), rebuilt
//     from experiments.jsonl on resume.
//   - best: the kept program's value, the mean of its runs (its keep's, and
//     the re-checks' since).
//   - keep: the mean of the change's runs beats the best by the margin, a
//     number of standard errors of the difference (see KeepRule), and the
//     change started from the last kept commit; the commit becomes the
//     branch's tip and is pushed back to the user's repository.
//   - re-measurement: a further run of a change that may beat the best,
//     before the keep rule decides; logged as logs/<n>-run2.log and so on.
//   - re-check: a fresh run of the best every Options.RecheckEvery
//     experiments (recheck.go), a line of experiments.jsonl with status
//     recheck and no row; one far from the best's value says the machine
//     changed, and the best and the noise are measured afresh.
//   - discard: the program ran but did not beat the best. A change that beat
//     it but started before another was kept is discarded too, and
//     re-applied on the new best as a new experiment (pool.go).
//   - crash: the change did not build (build), ran without a usable metric
//     (runtime), ran past the hard limit (timeout), was ended by a cluster
//     (cluster), or touched a path outside the editable ones (guard). Build
//     and runtime crashes go back to the proposer's Repair up to the
//     fix-attempt limit; the others do not. A crash is recorded with metric 0.
//   - abandoned: a proposal that produced no change or that the proposer gave
//     up on before anything ran. It costs no number and no row.
//   - records: results.tsv (the five columns of the original, the source of
//     truth for numbering and the best) and experiments.jsonl (one Record per
//     line with everything else). Both are appended and flushed per
//     experiment; a torn last line is cut on resume.
//   - stop: the context ends (SIGINT or SIGTERM): each program's process
//     group is killed, the experiments in flight are recorded as interrupted,
//     and every clone is reset to the last kept commit.
//   - resume: opening an existing run. Numbering and the best continue from
//     results.tsv; an experiment a killed process left in flight is recorded
//     as interrupted, except a cluster job, which is followed again.
//   - measurement: a fresh run of one of the run's commits, built and run as
//     an experiment is, in a worker of its own (workers/<name>/<i>/), that
//     touches neither the branch nor the records (Measurer, measure.go).
//   - audit: measurements of the baseline and the final best (or every kept
//     commit), R each, interleaved, recorded in audit.json; package audit
//     says how much of the logged gain they hold (Run.Audit).
//   - lock: an flock on <run>/lock holding the owner's pid. A second process
//     on the same run is refused; the lock of a dead process is free.
package experiment
