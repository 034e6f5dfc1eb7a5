package main

import (
	"os"

	"github.com/spf13/cobra"

	"autoresearch/harness"
	"autoresearch/internal/cost"
	"autoresearch/internal/runner"
	"autoresearch/internal/sandbox"
)

// The flags several commands share are declared here, once, so that their
// names, defaults and help read the same everywhere.

// addProfileFlag declares --profile, the harness profile a command uses.
// Its default comes from $AUTORESEARCH_PROFILE; lookupProfile names which of
// the two an unknown name came from.
func addProfileFlag(cmd *cobra.Command, profile *string) {
	cmd.Flags().StringVar(profile, "profile", defaultProfile(),
		"harness profile: smoke, cpu or gpu (default $"+harness.EnvProfile+", else "+harness.DefaultProfile+")")
}

// addDeviceFlag declares --device, where the training program runs.
func addDeviceFlag(cmd *cobra.Command, device *string) {
	cmd.Flags().StringVar(device, "device", "auto", "auto, cpu or cuda (auto picks cuda when nvidia-smi lists a GPU)")
}

// addSandboxFlag declares --sandbox, how each run of the training program
// is confined.
func addSandboxFlag(cmd *cobra.Command, mode *string) {
	cmd.Flags().StringVar(mode, "sandbox", string(sandbox.Auto),
		"confine the training program: strict (refuse without every protection), auto (every protection the kernel offers) or off")
}

// addSetupFlags declares the flags that shape a new run (baseline's, and
// run's for a tag not set up yet).
func addSetupFlags(cmd *cobra.Command, o *setupFlags) {
	f := cmd.Flags()
	f.StringVar(&o.Tag, "tag", defaultTag(), "name of the run and of its branch autoresearch/<tag>")
	addProfileFlag(cmd, &o.Profile)
	addDeviceFlag(cmd, &o.Device)
	f.StringVar(&o.Repo, "repo", ".", "the git repository holding the task (gpt/train.go, or an autoresearch.toml)")
	f.DurationVar(&o.EvalAllowance, "eval-allowance", 0, "time for start-up and evaluation: a run is killed after 6 budgets on the CPU, 2 on a GPU, and this (default: the profile's, 25s for smoke, 2m for cpu and gpu; a task file's allowance, else 2m)")
	f.IntVar(&o.Repeat, "repeat", 0, "run the baseline this many times to measure the noise (0: 8 for budgets up to a minute, 5 otherwise)")
	addSandboxFlag(cmd, &o.Sandbox)
	f.StringVar(&o.Executor, "executor", runner.LocalExecutor, "where the program runs: local, or slurm (each run an sbatch job; the run's folder and the data on a filesystem the nodes share)")
	f.StringVar(&o.SlurmArgs, "slurm-args", "", `arguments for sbatch, split as a shell splits them, e.g. "-p gpu --gres=gpu:1 --comment 'night run'"`)
}

// noteSetupFlags notes which setup flags the command line set.
func (o *setupFlags) noteSetupFlags(cmd *cobra.Command) {
	o.profileGiven = cmd.Flags().Changed("profile")
	o.executorGiven = cmd.Flags().Changed("executor") || cmd.Flags().Changed("slurm-args")
}

// priceFlags are --price-in and --price-out, the LLM's prices in dollars per
// million tokens; given says whether the command line set either.
type priceFlags struct {
	cost.Prices
	given bool
}

// addPriceFlags declares --price-in and --price-out; what they say of the
// prices, the command's help says in use.
func addPriceFlags(cmd *cobra.Command, p *priceFlags, use string) {
	f := cmd.Flags()
	f.Float64Var(&p.In, "price-in", 0, "dollars per million prompt tokens "+use+" (default $"+cost.EnvIn+")")
	f.Float64Var(&p.Out, "price-out", 0, "dollars per million completion tokens "+use+" (default $"+cost.EnvOut+")")
}

// noteGiven notes whether the command line set a price.
func (p *priceFlags) noteGiven(cmd *cobra.Command) {
	p.given = cmd.Flags().Changed("price-in") || cmd.Flags().Changed("price-out")
}

// prices are the flags' prices when given, else those of
// $AUTORESEARCH_PRICE_IN and $AUTORESEARCH_PRICE_OUT.
func (p priceFlags) prices() (cost.Prices, error) {
	if p.given {
		if err := p.Check(); err != nil {
			return cost.Prices{}, usagef("--price-in, --price-out: %v", err)
		}
		return p.Prices, nil
	}
	env, err := cost.FromEnv(os.Getenv)
	if err != nil {
		return cost.Prices{}, usagef("%v", err)
	}
	return env, nil
}

// pricing is how a report prices a run's tokens: prices given on the
// command line price it anew; else each experiment's recorded prices count,
// and the environment's price those recorded without.
func (p priceFlags) pricing() (cost.Pricing, error) {
	prices, err := p.prices()
	return cost.Pricing{Default: prices, Override: p.given}, err
}
