package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"autoresearch/internal/agent"
	"autoresearch/internal/audit"
	"autoresearch/internal/cost"
	"autoresearch/internal/experiment"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/sandbox"
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
	RecheckEvery   int
	Workers        int    // experiments in flight
	GPUs           string // --gpus: the GPUs the workers get, one each
	Audit          bool   // audit the run when it ends by itself
	Prices         priceFlags
	MaxCost        float64
	// setupChanged lists the setup flags given explicitly; they only apply
	// to a new run.
	setupChanged []string
	tagChanged   bool
	programGiven bool // --program was on the command line: it wins over the task's
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--tag T] [--agent llm|sweep] [--model M] [--base-url URL] [--max-experiments N] [--until DURATION]",
		Short: "Run the research loop: propose, build, train, keep or discard, repeat",
		Long: `run loops over experiments on the run named by --tag until stopped (Ctrl-C),
--max-experiments or --until: the agent edits gpt/train.go, autoresearch builds
and trains it, keeps the change when val_bpb beats the best kept so far by more
than the margin, and discards it otherwise. A change that may beat the best is
trained again, up to --remeasure more times, and kept as soon as the mean of its
runs beats the best by --noise-multiplier standard errors of the difference
(the noise is pooled from every program measured more than once, the baseline's
repeated runs first; the margin is at least --min-delta), discarded as soon as
it falls behind. Every --recheck-every experiments the best is trained once
more; a run far from its estimate says the machine changed, and the best and
the noise are measured afresh. Crashes go back to the agent for up
to --fix-attempts fixes. A new tag is set up and its baseline run first; an
existing tag resumes where it stopped. With --audit, a run that ends by itself
(not by Ctrl-C) measures its baseline and best again, as "autoresearch audit"
does, so that the morning's results say how much of the gain holds.

In a repository with an autoresearch.toml, the agent edits the task's editable
files and the metric is the task's, kept when it falls or rises as its
direction says; the agent's instructions default to the task's program.

With the LLM's prices (--price-in and --price-out, dollars per million tokens,
or $AUTORESEARCH_PRICE_IN and $AUTORESEARCH_PRICE_OUT) the live status shows
what the LLM has cost, each experiment records the prices with its tokens, and
--max-cost stops proposing once the run's whole spend reaches it, finishing
the experiments in flight.`,
		Example: `  autoresearch run --tag nov26 --agent sweep --max-experiments 20
  OPENAI_API_KEY=... autoresearch run --tag nov26 --model gpt-5 --until 8h --audit
  autoresearch run --tag nov26 --base-url http://localhost:11434/v1 --model qwen3-coder
  autoresearch run --tag nov26 --model gpt-5 --price-in 1.25 --price-out 10 --max-cost 20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.tagChanged = cmd.Flags().Changed("tag")
			o.programGiven = cmd.Flags().Changed("program")
			o.noteSetupFlags(cmd)
			o.Prices.noteGiven(cmd)
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
	f.StringVar(&o.Program, "program", "", "the research instructions for the agent, relative to the repository (default: the task's program; the built-in GPT task's is programs/program.md, built into autoresearch too)")
	f.StringVar(&o.Agent, "agent", "llm", "who proposes changes: llm or sweep (offline, one constant at a time)")
	o.LLM.AddFlags(f)
	f.IntVar(&o.MaxExperiments, "max-experiments", 0, "stop after this many experiments (0: no limit)")
	f.DurationVar(&o.Until, "until", 0, "start no experiment after this long, e.g. 8h (0: no limit)")
	f.IntVar(&o.FixAttempts, "fix-attempts", 3, "fixes the agent may try on a build or runtime crash")
	f.Int64Var(&o.Seed, "seed", 1, "seed of the sweep agent")
	f.Float64Var(&o.MinDelta, "min-delta", 0, "keep only improvements larger than this")
	f.Float64Var(&o.NoiseMult, "noise-multiplier", experiment.DefaultNoiseMultiplier, "keep only improvements larger than this many standard errors of the difference (at the last run; earlier keeps need more)")
	f.IntVar(&o.Remeasure, "remeasure", experiment.DefaultRemeasure, "extra runs a change that may beat the best gets before the decision (0: decide on one run)")
	f.IntVar(&o.RecheckEvery, "recheck-every", experiment.DefaultRecheckEvery, "train the best once more every this many experiments, to keep its value and the noise current (0: never)")
	f.IntVar(&o.Workers, "workers", 1, "experiments in flight at once, each worker with its own clone and device (a GPU, or its share of the cores)")
	f.StringVar(&o.GPUs, "gpus", "", "with --device cuda, the GPUs the workers get, one each, e.g. 0,1,2 (default: all nvidia-smi lists)")
	f.BoolVar(&o.Audit, "audit", false, "when the run ends by itself (--until, --max-experiments, no more ideas), measure its baseline and best again as \"autoresearch audit\" does")
	addPriceFlags(cmd, &o.Prices, "of the LLM, recorded with each experiment's tokens")
	f.Float64Var(&o.MaxCost, "max-cost", 0, "stop proposing once the LLM has cost the run this many dollars, finishing the experiments in flight (needs the prices; 0: no limit)")
	return cmd
}

// sameSetup refuses setup flags that contradict an existing run's run.json:
// they only shape a new run.
func sameSetup(o runOptions, cfg experiment.Config) error {
	t := cfg.Task
	for _, name := range o.setupChanged {
		differs := false
		switch name {
		case "--profile":
			differs = o.Profile != t.Profile
		case "--device":
			differs = o.Device != "auto" && o.Device != t.Device.Name
		case "--eval-allowance":
			differs = o.EvalAllowance.Seconds() != t.AllowanceSeconds
		case "--repeat":
			differs = o.Repeat != max(cfg.BaselineRepeats, 1) && o.Repeat != 0
		}
		if differs {
			return usagef("run %s exists already with profile %s, device %s, an evaluation allowance of %gs and %d baseline runs; %s only applies to a new run",
				o.Tag, orNone(t.Profile), t.Device.Name, t.AllowanceSeconds, max(cfg.BaselineRepeats, 1), name)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
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

// runPlan is what run will do, decided from the options before anything
// starts: which run (new or resumed), how it is confined, who proposes.
type runPlan struct {
	o        runOptions
	root     string
	dir      string // the run folder
	resume   bool   // the run exists and has its baseline
	mode     sandbox.Mode
	warning  string // about the sandbox, said once at start
	proposer agent.Proposer
	prices   cost.Prices // the LLM's, from the flags or the environment
}

// planRun checks the options and decides what run will do.
func planRun(o runOptions) (*runPlan, error) {
	if o.MaxExperiments < 0 || o.FixAttempts < 0 || o.Until < 0 || o.MinDelta < 0 {
		return nil, usagef("--max-experiments, --fix-attempts, --until and --min-delta cannot be negative")
	}
	if o.Repeat < 0 || o.NoiseMult < 0 || o.Remeasure < 0 || o.RecheckEvery < 0 {
		return nil, usagef("--repeat, --noise-multiplier, --remeasure and --recheck-every cannot be negative")
	}
	if o.Workers < 1 {
		return nil, usagef("--workers must be at least 1")
	}
	prices, err := o.Prices.prices()
	if err != nil {
		return nil, err
	}
	switch {
	case o.MaxCost < 0:
		return nil, usagef("--max-cost cannot be negative: give dollars, e.g. --max-cost 5")
	case o.MaxCost > 0 && !prices.Known():
		return nil, usagef("--max-cost needs the LLM's prices: give --price-in and --price-out (dollars per million tokens), or set $%s and $%s", cost.EnvIn, cost.EnvOut)
	}
	if _, err := o.executor(); err != nil {
		return nil, err
	}
	if err := runner.ValidDevice(o.Device); err != nil {
		return nil, usagef("--device: %v", err)
	}
	p := &runPlan{o: o, prices: prices}
	if p.mode, p.warning, err = sandboxMode(o.Sandbox); err != nil {
		return nil, err
	}
	if p.proposer, err = newProposer(o); err != nil {
		return nil, err
	}
	root, inRun, err := runs.RepoRoot(o.Repo)
	if err != nil {
		return nil, err
	}
	if inRun != "" && !o.tagChanged {
		p.o.Tag = inRun
	}
	if err := experiment.CheckTag(p.o.Tag); err != nil {
		return nil, usagef("--tag: %v", err)
	}
	p.root, p.dir = root, experiment.Dir(root, p.o.Tag)
	// A run that never recorded its baseline is set up again from HEAD, so
	// that a fix committed after a crashed baseline is what runs.
	p.resume = experiment.Exists(p.dir) && experiment.HasBaseline(p.dir)
	return p, nil
}

func runRun(ctx context.Context, o runOptions, out io.Writer) error {
	p, err := planRun(o)
	if err != nil {
		return err
	}
	return p.execute(ctx, out)
}

// execute carries the plan out: the LLM endpoint tried, the run opened or
// set up, the workers given their shares, the loop run, the end reported.
func (p *runPlan) execute(ctx context.Context, out io.Writer) error {
	o := p.o
	rep := status.New(out)
	defer status.Finish(rep)
	if p.warning != "" {
		rep.Logf("%s", p.warning)
	}
	// The LLM agent tries its endpoint now, so that a wrong key or URL stops
	// the command before any setup or experiment; a busy endpoint is waited
	// for, each retry shown.
	if pf, ok := p.proposer.(interface {
		Preflight(context.Context, func(string, ...any)) error
	}); ok {
		if err := pf.Preflight(ctx, rep.Logf); err != nil {
			if ctx.Err() != nil {
				return interruptedf("interrupted while checking the LLM endpoint; nothing was set up or run")
			}
			return err
		}
	}
	r, program, err := p.open(ctx, rep)
	if err != nil {
		return err
	}
	defer r.Close()
	r.Sandbox = p.mode

	opts := experiment.Options{Proposer: p.proposer, Program: program, MaxExperiments: o.MaxExperiments,
		FixAttempts: o.FixAttempts, MinDelta: o.MinDelta, NoiseMultiplier: o.NoiseMult, Remeasure: o.Remeasure, RecheckEvery: o.RecheckEvery, Workers: o.Workers,
		Prices: p.prices, MaxCost: o.MaxCost}
	if o.Until > 0 {
		opts.Until = time.Now().Add(o.Until)
	}
	if err := p.shareWorkers(ctx, &opts, r); err != nil {
		return err
	}
	stop, err := r.Loop(ctx, opts)
	status.Finish(rep)
	rows := r.Rows()
	best, _ := r.Best()
	metric := r.Config.Task.Metric.Name
	if errors.Is(err, context.Canceled) {
		done := "before the baseline was recorded"
		if len(rows) > 0 {
			done = fmt.Sprintf("after experiment %d (best %s %.6f); the unfinished experiment was rolled back", len(rows)-1, metric, best)
		}
		return interruptedf("stopped %s: continue with \"autoresearch run --tag %s\"", done, o.Tag)
	}
	if err != nil {
		return err
	}
	spend := ""
	if p.prices.Known() {
		spend = fmt.Sprintf("; LLM cost %s", r.Spend())
		if stop == experiment.StopMaxCost {
			stop += experiment.StopReason(fmt.Sprintf(" (%s of --max-cost %s)", cost.Dollars(r.Spend().Dollars), cost.Dollars(o.MaxCost)))
		}
	}
	fmt.Fprintf(out, "stopped: %s. %d experiments, best %s %.6f at %s%s; results in %s\n",
		stop, len(rows), metric, best, r.Kept()[:7], spend, filepath.Join(r.Dir, experiment.ResultsFile))
	if !o.Audit {
		return nil
	}
	if keptChanges(rows) == 0 {
		fmt.Fprintf(out, "no audit: run %s has kept no change beyond its baseline\n", o.Tag)
		return nil
	}
	rep.Logf("auditing run %s: its baseline and its best, %d fresh runs each (autoresearch audit)", o.Tag, audit.DefaultRuns)
	return auditRun(ctx, r, experiment.AuditOptions{Workers: o.Workers, WorkerEnv: opts.WorkerEnv}, rep, out)
}

// open resumes the planned run, or sets it up, and reads the agent's
// program for it (the sweep needs none).
func (p *runPlan) open(ctx context.Context, rep status.Reporter) (*experiment.Run, string, error) {
	o := p.o
	if p.resume {
		r, err := openRun(p.dir, o.setupFlags, rep)
		if err != nil {
			return nil, "", err
		}
		if err := sameSetup(o, r.Config); err != nil {
			r.Close()
			return nil, "", err
		}
		program, err := p.program(r.Config.Task)
		if err != nil {
			r.Close()
			return nil, "", err
		}
		rep.Logf("resuming run %s at experiment %d", o.Tag, len(r.Rows()))
		return r, program, nil
	}
	cfg, ex, err := newConfig(ctx, o.setupFlags, rep)
	if err != nil {
		return nil, "", err
	}
	program, err := p.program(cfg.Task)
	if err != nil {
		return nil, "", err
	}
	r, err := setUp(cfg, ex, rep)
	return r, program, err
}

// program is the agent's instructions for task t; the sweep goes without.
func (p *runPlan) program(t task.Task) (string, error) {
	text, err := programText(p.root, t, p.o.Program, p.o.programGiven)
	if p.o.Agent == "sweep" {
		return text, nil
	}
	if err != nil {
		return "", err
	}
	if text == "" {
		return "", fmt.Errorf("the task names no program for the agent: add program = \"program.md\" to %s (autoresearch init writes a skeleton), or pass --program FILE", task.File)
	}
	return text, nil
}

// shareWorkers gives each worker its share of the machine (a GPU, or its
// share of the cores) when the program runs here, and, for the LLM agent
// (which remembers its proposal for the repair), a proposer of its own.
func (p *runPlan) shareWorkers(ctx context.Context, opts *experiment.Options, r *experiment.Run) error {
	o := p.o
	if o.Workers == 1 {
		return nil
	}
	if r.Executor == nil || r.Executor.Name() == runner.LocalExecutor {
		env, err := runner.Shares(ctx, r.Config.Task.Device.Name, o.Workers, o.GPUs)
		if err != nil {
			return usagef("--workers: %v", err)
		}
		opts.WorkerEnv = env
		if r.Config.Task.Device.Name == runner.CPU && len(r.Rows()) > 0 {
			r.Reporter.Logf("note: the baseline ran on the whole machine, each of %d workers gets %s; on a wall-clock budget that is not a fair comparison: set up the run with \"run --workers %d\" to measure its baseline on a worker's share", o.Workers, strings.Join(env[0], " "), o.Workers)
		}
	}
	if o.Agent == "llm" {
		for i := 0; i < o.Workers; i++ {
			prop, err := newProposer(o)
			if err != nil {
				return err
			}
			opts.WorkerProposers = append(opts.WorkerProposers, prop)
		}
	}
	return nil
}
