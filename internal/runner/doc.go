// Package runner builds a training program and runs it once under a hard time
// limit, the way an experiment needs it. Its terms:
//
//   - build: the program's build command (go build) in the run's worktree. A
//     compile error is a build crash and costs no training.
//   - run: one start of the built program, in its own process group, with a
//     clean environment (no API keys, no tokens: only the basics a program
//     needs plus the AUTORESEARCH_* variables), its stdout and stderr written
//     together to the log while being read for progress and the summary.
//   - hard limit: the wall-clock time after which the whole process group is
//     killed and the run is a timeout crash (2 × budget + an evaluation
//     allowance by default; the caller decides).
//   - figures: the run's results, a map from key to number. They come from the
//     JSON file named by AUTORESEARCH_RESULT when the program wrote one, else
//     from the `key: value` lines after the last `---` line of the output (the
//     block harness.Summary.Print writes).
//   - crash: a run that yields no usable metric. Kinds: build, runtime (a
//     non-zero exit, a panic, the FAIL line a trainer prints on a NaN loss, a
//     missing summary, a metric that is not a number) and timeout.
//   - executor: where a run happens. local starts the program as a child
//     process; slurm submits it as a batch job (sbatch) and follows it
//     (scontrol), the program built here and run on a node that shares the
//     filesystem. A job the cluster ends is a crash of kind cluster.
//   - device: cpu or cuda; auto picks cuda when `nvidia-smi -L` lists a GPU.
package runner
