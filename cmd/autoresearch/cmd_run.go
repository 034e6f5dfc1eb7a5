package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"autoresearch/internal/agent"
	"autoresearch/internal/experiment"
	"autoresearch/internal/runner"
	"autoresearch/internal/status"
	"autoresearch/internal/task"
)

type runOptions struct {
	setupFlags
	Program        string
	Agent          string
	LLM            agent.LLMConfig // --model, --base-url, --temperature, ...
	MaxExperiments int
	Until          time.Duration
	FixAttempts    int
	Seed           int64
	MinDelta       float64
	NoiseMult      float64
	Remeasure      int
	Workers        int    // experiments in flight
	GPUs           string // --gpus: the GPUs the workers get, one each
	// setupChanged lists the setup flags given explicitly; they only apply
	// to a new run.
	setupChanged []string
	tagChanged   bool
	programGiven bool // --program was on the command line: it wins over the task file's
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--tag T] [--agent llm|sweep] [--model M] [--base-url URL] [--max-experiments N] [--until DURATION]",
		Short: "Run the research loop: propose, build, train, keep or discard, repeat",
		Long: `run loops over experiments on the run named by --tag until stopped (Ctrl-C),
--max-experiments or --until: the agent edits gpt/train.go, autoresearch builds
and trains it, keeps the change when val_bpb beats the best kept so far by more
than the threshold, and discards it otherwise. The threshold is the larger of
--min-delta and --noise-multiplier times the baseline's noise (sigma, measured
by its repeated runs); a change that beats the best at all is trained again, up
to --remeasure more times, and decided on the mean of its runs. Crashes go back to the agent for up
to --fix-attempts fixes. A new tag is set up and its baseline run first; an
existing tag resumes where it stopped.

In a repository with an autoresearch.toml, the agent edits the task's editable
files and the metric is the task's, kept when it falls or rises as its
direction says; the agent's instructions default to the task's program.`,
		Example: `  autoresearch run --tag nov26 --agent sweep --max-experiments 20
  OPENAI_API_KEY=... autoresearch run --tag nov26 --model gpt-5 --until 8h
  autoresearch run --tag nov26 --base-url http://localhost:11434/v1 --model qwen3-coder`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.tagChanged = cmd.Flags().Changed("tag")
			o.programGiven = cmd.Flags().Changed("program")
			o.profileGiven = cmd.Flags().Changed("profile")
			o.noteExecutorFlags(cmd)
			for _, name := range []string{"profile", "device", "eval-allowance", "repeat"} {
				if cmd.Flags().Changed(name) {
					o.setupChanged = append(o.setupChanged, "--"+name)
				}
			}
			return runRun(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	addSetupFlags(cmd, &o.setupFlags)
	f := cmd.Flags()
	f.StringVar(&o.Program, "program", "programs/program.md", "the research instructions for the agent (relative to the repository)")
	f.StringVar(&o.Agent, "agent", "llm", "who proposes changes: llm or sweep (offline, one constant at a time)")
	o.LLM.AddFlags(f)
	f.IntVar(&o.MaxExperiments, "max-experiments", 0, "stop after this many experiments (0: no limit)")
	f.DurationVar(&o.Until, "until", 0, "start no experiment after this long, e.g. 8h (0: no limit)")
	f.IntVar(&o.FixAttempts, "fix-attempts", 3, "fixes the agent may try on a build or runtime crash")
	f.Int64Var(&o.Seed, "seed", 1, "seed of the sweep agent")
	f.Float64Var(&o.MinDelta, "min-delta", 0, "keep only improvements larger than this")
	f.Float64Var(&o.NoiseMult, "noise-multiplier", experiment.DefaultNoiseMultiplier, "keep only improvements larger than this many sigmas of the baseline's noise")
	f.IntVar(&o.Remeasure, "remeasure", experiment.DefaultRemeasure, "extra runs a change that beats the best gets before the decision (0: decide on one run)")
	f.IntVar(&o.Workers, "workers", 1, "experiments in flight at once, each worker with its own clone and device (a GPU, or its share of the cores)")
	f.StringVar(&o.GPUs, "gpus", "", "with --device cuda, the GPUs the workers get, one each, e.g. 0,1,2 (default: all nvidia-smi lists)")
	return cmd
}

// sameSetup refuses setup flags that contradict an existing run's run.json:
// they only shape a new run.
func sameSetup(o runOptions, cfg experiment.Config) error {
	for _, name := range o.setupChanged {
		differs := false
		switch name {
		case "--profile":
			differs = o.Profile != cfg.Profile
		case "--device":
			differs = o.Device != "auto" && o.Device != cfg.Device
		case "--eval-allowance":
			differs = o.EvalAllowance.Seconds() != cfg.EvalAllowanceSeconds
		case "--repeat":
			differs = o.Repeat != max(cfg.BaselineRepeats, 1) && o.Repeat != 0
		}
		if differs {
			return usagef("run %s exists already with profile %s, device %s, an evaluation allowance of %gs and %d baseline runs; %s only applies to a new run",
				o.Tag, cfg.Profile, cfg.Device, cfg.EvalAllowanceSeconds, max(cfg.BaselineRepeats, 1), name)
		}
	}
	return nil
}

// newProposer makes the agent --agent names.
func newProposer(o runOptions) (agent.Proposer, error) {
	switch o.Agent {
	case "sweep":
		return agent.NewSweep(o.Seed), nil
	case "llm":
		return agent.NewLLM(o.LLM)
	}
	return nil, usagef("unknown --agent %q: use llm or sweep", o.Agent)
}

func runRun(ctx context.Context, o runOptions, out io.Writer) error {
	if o.MaxExperiments < 0 || o.FixAttempts < 0 || o.Until < 0 || o.MinDelta < 0 {
		return usagef("--max-experiments, --fix-attempts, --until and --min-delta cannot be negative")
	}
	if o.Repeat < 0 || o.NoiseMult < 0 || o.Remeasure < 0 {
		return usagef("--repeat, --noise-multiplier and --remeasure cannot be negative")
	}
	if o.Workers < 1 {
		return usagef("--workers must be at least 1")
	}
	if err := o.validExecutor(); err != nil {
		return err
	}
	if err := runner.ValidDevice(o.Device); err != nil {
		return usagef("--device: %v", err)
	}
	mode, missing, err := sandboxMode(o.Sandbox)
	if err != nil {
		return err
	}
	proposer, err := newProposer(o)
	if err != nil {
		return err
	}
	root, inRun, err := repoRoot(o.Repo)
	if err != nil {
		return err
	}
	if inRun != "" && !o.tagChanged {
		o.Tag = inRun
	}
	if err := experiment.CheckTag(o.Tag); err != nil {
		return usagef("--tag: %v", err)
	}
	program := ""
	path := o.Program
	if p, ok := taskProgram(root); ok && !o.programGiven {
		if path = p; p == "" && o.Agent != "sweep" {
			return fmt.Errorf("%s names no program for the agent: add program = \"program.md\" to it (autoresearch init writes a skeleton), or pass --program FILE", task.File)
		}
	}
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if b, err := os.ReadFile(path); err == nil {
		program = string(b)
	} else if o.Agent != "sweep" {
		return fmt.Errorf("reading the research program: %w (pass --program FILE)", err)
	}

	rep := status.New(out)
	defer status.Finish(rep)
	announceSandbox(rep.Logf, mode, missing)
	// The LLM agent tries its endpoint now, so that a wrong key or URL stops
	// the command before any setup or experiment; a busy endpoint is waited
	// for, each retry shown.
	if p, ok := proposer.(interface {
		Preflight(context.Context, func(string, ...any)) error
	}); ok {
		if err := p.Preflight(ctx, rep.Logf); err != nil {
			if ctx.Err() != nil {
				return interruptedf("interrupted while checking the LLM endpoint; nothing was set up or run")
			}
			return err
		}
	}
	var r *experiment.Run
	// A run that never recorded its baseline is set up again from HEAD, so
	// that a fix committed after a crashed baseline is what runs.
	if dir := experiment.Dir(root, o.Tag); experiment.Exists(dir) && experiment.HasBaseline(dir) {
		if r, err = experiment.Open(dir, rep); err != nil {
			return err
		}
		if err := sameSetup(o, r.Config); err != nil {
			r.Close()
			return err
		}
		if err := checkData(r); err != nil {
			r.Close()
			return err
		}
		if err := useExecutor(r, o.setupFlags); err != nil {
			r.Close()
			return err
		}
		rep.Logf("resuming run %s at experiment %d", o.Tag, len(r.Rows()))
	} else if r, err = newRun(ctx, o.setupFlags, rep); err != nil {
		return err
	}
	defer r.Close()
	r.Sandbox = mode

	opts := experiment.Options{Proposer: proposer, Program: program, MaxExperiments: o.MaxExperiments,
		FixAttempts: o.FixAttempts, MinDelta: o.MinDelta, NoiseMultiplier: o.NoiseMult, Remeasure: o.Remeasure}
	if o.Until > 0 {
		opts.Until = time.Now().Add(o.Until)
	}
	if err := setWorkers(ctx, &opts, o, r); err != nil {
		return err
	}
	stop, err := r.Loop(ctx, opts)
	status.Finish(rep)
	rows := r.Rows()
	best, _ := r.Best()
	if errors.Is(err, context.Canceled) {
		done := "before the baseline was recorded"
		if len(rows) > 0 {
			done = fmt.Sprintf("after experiment %d (best %s %.6f); the unfinished experiment was rolled back", len(rows)-1, r.Config.Metric.Name, best)
		}
		return interruptedf("stopped %s: continue with \"autoresearch run --tag %s\"", done, o.Tag)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped: %s. %d experiments, best %s %.6f at %s; results in %s\n",
		stop, len(rows), r.Config.Metric.Name, best, r.Kept()[:7], filepath.Join(r.Dir, experiment.ResultsFile))
	return nil
}
