package main

import (
	"context"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"autoresearch/internal/experiment"
	"autoresearch/internal/runner"
	"autoresearch/internal/status"
)

// addExecutorFlags declares --executor and --slurm-args: where the training
// runs. baseline records them in run.json; run takes them from there unless
// given again.
func addExecutorFlags(cmd *cobra.Command, o *setupFlags) {
	f := cmd.Flags()
	f.StringVar(&o.Executor, "executor", runner.LocalExecutor, "where training runs: local, or slurm (each run an sbatch job; the run's folder and the data on a filesystem the nodes share)")
	f.StringVar(&o.SlurmArgs, "slurm-args", "", `arguments for sbatch, split at spaces, e.g. "-p gpu --gres=gpu:1 --time=00:15:00"`)
}

// executorGiven notes which executor flags the command line set.
func (o *setupFlags) noteExecutorFlags(cmd *cobra.Command) {
	o.executorGiven = cmd.Flags().Changed("executor") || cmd.Flags().Changed("slurm-args")
}

// validExecutor checks --executor and --slurm-args before anything is set up.
func (o *setupFlags) validExecutor() error {
	if _, err := runner.NewExecutor(o.Executor, strings.Fields(o.SlurmArgs)); err != nil {
		return usagef("--executor: %v", err)
	}
	return nil
}

// setupRun sets up a run of cfg with the flags every task shares: the
// baseline's repeats and the executor.
func setupRun(cfg experiment.Config, f setupFlags, rep status.Reporter) (*experiment.Run, error) {
	cfg.BaselineRepeats = f.Repeat
	if f.Repeat == 0 {
		cfg.BaselineRepeats = experiment.DefaultRepeats(cfg.BudgetSeconds)
	}
	if f.Executor != runner.LocalExecutor {
		cfg.Executor, cfg.ExecutorArgs = f.Executor, strings.Fields(f.SlurmArgs)
	}
	r, err := experiment.Setup(cfg, rep)
	if err != nil {
		return nil, err
	}
	if err := useExecutor(r, f); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// useExecutor gives the run its executor: the one in run.json, or the
// command line's when it names one (run overrides for this invocation only).
func useExecutor(r *experiment.Run, o setupFlags) error {
	name, args := r.Config.Executor, r.Config.ExecutorArgs
	if o.executorGiven {
		name, args = o.Executor, strings.Fields(o.SlurmArgs)
	}
	ex, err := runner.NewExecutor(name, args)
	if err != nil {
		return usagef("--executor: %v", err)
	}
	r.Executor = ex
	return nil
}

// resolveDevice is runner.ResolveDevice, except that a cluster's GPUs are
// on its nodes, not here: with the slurm executor, --device cuda is taken
// as said.
func resolveDevice(ctx context.Context, f setupFlags) (device, detail string, err error) {
	if f.Executor == runner.SlurmExecutor && f.Device == runner.CUDA {
		return runner.CUDA, "the Slurm nodes' GPUs", nil
	}
	return runner.ResolveDevice(ctx, f.Device)
}

// setWorkers gives each of --workers its device share and, for the LLM
// agent (which remembers its proposal for the repair), its own proposer.
func setWorkers(ctx context.Context, opts *experiment.Options, o runOptions, r *experiment.Run) error {
	opts.Workers = o.Workers
	if o.Workers == 1 {
		return nil
	}
	if r.Executor != nil && r.Executor.Name() == runner.LocalExecutor {
		var gpus []string
		var err error
		if r.Config.Device == runner.CUDA {
			if o.GPUs != "" {
				gpus, err = runner.ParseGPUs(o.GPUs)
				if err != nil {
					return usagef("--gpus: %v", err)
				}
			} else if gpus, err = runner.GPUIndices(ctx); err != nil {
				return err
			}
		}
		env, err := runner.WorkerEnv(r.Config.Device, o.Workers, gpus, runtime.NumCPU())
		if err != nil {
			return usagef("--workers: %v", err)
		}
		opts.WorkerEnv = env
		if r.Config.Device == runner.CPU && len(r.Rows()) > 0 {
			r.Reporter.Logf("note: the baseline ran on the whole machine, each of %d workers gets %s; on a wall-clock budget that is not a fair comparison: set up the run with \"run --workers %d\" to measure its baseline on a worker's share", o.Workers, strings.Join(env[0], " "), o.Workers)
		}
	}
	if o.Agent == "llm" {
		for i := 0; i < o.Workers; i++ {
			p, err := newProposer(o)
			if err != nil {
				return err
			}
			opts.WorkerProposers = append(opts.WorkerProposers, p)
		}
	}
	return nil
}
