package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"autoresearch/internal/doctor"
)

// doctorOptions are the flags of the doctor command.
type doctorOptions struct {
	Profile      string
	profileGiven bool // --profile was on the command line
	Agent        string
	Repo         string
	BaseURL      string // as run's --base-url: it wins over $OPENAI_BASE_URL
	Executor     string // as baseline's --executor: slurm is checked with a job
	SlurmArgs    string
}

func newDoctorCmd() *cobra.Command {
	opts := doctorOptions{Repo: "."}
	cmd := &cobra.Command{
		Use:   "doctor [--profile P] [--agent llm|sweep] [--repo DIR] [--base-url URL]",
		Short: "Check that this machine can run autoresearch",
		Long: `Check, one line each, what a run needs: the Go toolchain, the GPU (driver and
memory) when there is one, the prepared data of every profile, free disk in
AUTORESEARCH_HOME and the repository, and the LLM endpoint (it lists the models
of --base-url, else OPENAI_BASE_URL, else the OpenAI API) and OPENAI_API_KEY.

Each line says ok, note or FAIL; a FAIL line names its fix. The exit status is 0
only when nothing blocks a run of the given profile (default
AUTORESEARCH_PROFILE, else smoke) and agent:
  - that profile's data must be prepared; the other profiles' are notes;
  - a missing GPU is a note, except for the gpu profile;
  - the llm agent needs the endpoint, and a key unless the endpoint is on this
    machine; with --agent sweep these are notes;
  - under 1 GiB free disk fails, under 5 GiB is a note.

In a repository with an autoresearch.toml, doctor checks that task instead: the
file loads, the programs it runs are on PATH (Go only when it runs go), and the
LLM agent has its program.md; prepared data and a GPU are not needed.`,
		Example: `  autoresearch doctor
  autoresearch doctor --profile gpu
  autoresearch doctor --agent sweep --profile cpu`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.profileGiven = cmd.Flags().Changed("profile")
			return runDoctor(cmd.Context(), opts, doctor.System(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	addProfileFlag(cmd, &opts.Profile)
	f.StringVar(&opts.Agent, "agent", "llm", "the agent a run will use: llm or sweep")
	f.StringVar(&opts.Repo, "repo", ".", "the repository a run will use")
	f.StringVar(&opts.BaseURL, "base-url", "", "the LLM endpoint a run will use, as run's --base-url (default $OPENAI_BASE_URL, else OpenAI)")
	f.StringVar(&opts.Executor, "executor", "local", "where a run's training will run: local, or slurm (checks with a real job that the nodes share the repository and the data)")
	f.StringVar(&opts.SlurmArgs, "slurm-args", "", "the sbatch arguments a run will use, for the test job")
	return cmd
}

func runDoctor(ctx context.Context, opts doctorOptions, env doctor.Env, out io.Writer) error {
	if opts.Agent != "llm" && opts.Agent != "sweep" {
		return usagef("--agent %q: use llm or sweep", opts.Agent)
	}
	if _, err := lookupProfile(opts.Profile, opts.profileGiven); err != nil {
		return err
	}
	env.Profile, env.Agent, env.Dir = opts.Profile, opts.Agent, opts.Repo
	args, err := slurmArgs(opts.SlurmArgs)
	if err != nil {
		return err
	}
	env.Executor, env.SlurmArgs = opts.Executor, args
	if env.Executor != "" && env.Executor != "local" && env.Executor != "slurm" {
		return usagef("--executor %q: use local or slurm", env.Executor)
	}
	if opts.BaseURL != "" {
		getenv := env.Getenv
		env.Getenv = func(k string) string {
			if k == "OPENAI_BASE_URL" {
				return opts.BaseURL
			}
			if getenv == nil {
				return ""
			}
			return getenv(k)
		}
	}
	problems, err := doctor.Write(out, doctor.Run(ctx, env))
	if err != nil {
		return err
	}
	switch problems {
	case 0:
		_, err = fmt.Fprintln(out, "nothing blocks a run")
		return err
	case 1:
		return fmt.Errorf("1 problem blocks a run: fix the FAIL line above")
	}
	return fmt.Errorf("%d problems block a run: fix the FAIL lines above", problems)
}
