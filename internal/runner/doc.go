// Package runner builds a task's program and runs it once under a hard time
// limit, the way an experiment needs it. It knows a task through task.Task
// (TaskSpec, TaskPolicy) and the program through the contract package. Its
// terms:
//
//   - build: the task's build command (for the GPT, go build of ./gpt) in a
//     clone of the run. A failing build is a build crash and costs no run.
//   - run: one start of the built program, in its own process group, with a
//     clean environment (no API keys, no tokens: only the basics a program
//     needs plus the task's variables), its stdout and stderr written
//     together to the log while being read for the task's progress, warm-up
//     and fail lines and the summary.
//   - hard limit: the wall-clock time after which the whole process group is
//     killed and the run is a timeout crash. The task sets it (the GPT's: 6
//     budgets and an allowance on the CPU, whose budget clock a busy machine
//     stretches, 2 elsewhere; a task file's: 2 budgets and its allowance
//     unless it names one).
//   - figures: the run's results, a map from key to number. They come from the
//     result file named by AUTORESEARCH_RESULT when the program wrote one,
//     else from the `key: value` lines after the last `---` line of the
//     output (the summary block), and from the task's patterns, which win.
//   - crash: a run that yields no usable metric. Kinds: build, runtime (a
//     non-zero exit, a panic, the task's fail line, a missing summary or
//     pattern match, a metric that is not a number), timeout and cluster.
//   - executor: where a run happens. local starts the program as a child
//     process; slurm submits it as a batch job (sbatch) and follows it
//     (scontrol), the program built here and run on a node that shares the
//     filesystem. A job the cluster ends is a crash of kind cluster.
//   - device: cpu or cuda; auto picks cuda when `nvidia-smi -L` lists a GPU.
//     A cuda task's sandbox opens the GPUs, and workers get one each (Shares).
package runner
