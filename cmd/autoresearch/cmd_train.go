package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"autoresearch/harness"
	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
)

type trainOptions struct {
	Profile      string
	Device       string
	Sandbox      string
	profileGiven bool // --profile was on the command line
}

func newTrainCmd() *cobra.Command {
	var o trainOptions
	cmd := &cobra.Command{
		Use:   "train [--profile P] [--device D]",
		Short: "Build gpt/train.go of the current repository and run it once, as it is",
		Long: `train builds ./gpt of the repository you are in and runs it once for the
profile's time budget, streaming its output: what "uv run train.py" is to the
original. Nothing is committed or recorded.`,
		Example: `  autoresearch train --profile smoke
  autoresearch train --profile gpu --device cuda`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.profileGiven = cmd.Flags().Changed("profile")
			return runTrain(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	addProfileFlag(cmd, &o.Profile)
	addDeviceFlag(cmd, &o.Device)
	addSandboxFlag(cmd, &o.Sandbox)
	return cmd
}

func runTrain(ctx context.Context, o trainOptions, out io.Writer) error {
	p, err := lookupProfile(o.Profile, o.profileGiven)
	if err != nil {
		return err
	}
	if err := runner.ValidDevice(o.Device); err != nil {
		return usagef("--device: %v", err)
	}
	mode, missing, err := sandboxMode(o.Sandbox)
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if r, err := gitops.Root(root); err == nil {
		root = r
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(trainFile))); err != nil {
		return fmt.Errorf("no %s in %s: run autoresearch train in the project that holds the training program", trainFile, root)
	}
	home, err := dataHome()
	if err != nil {
		return err
	}
	if _, err := harness.ReadMeta(home, p); err != nil {
		return err
	}
	device, _, err := runner.ResolveDevice(ctx, o.Device)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "autoresearch-train")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	vars := map[string]string{runner.BinVar: filepath.Join(tmp, "train"), runner.WorktreeVar: root}
	argv, env := runner.GoBuild(trainPackage, device)
	if _, err := runner.Build(ctx, root, runner.Expand(argv, vars), runner.Expand(env, vars)); err != nil {
		var be *runner.BuildError
		switch {
		case errors.As(err, &be):
			return fmt.Errorf("%s does not build:\n%s", trainFile, be.Output)
		case ctx.Err() != nil:
			return interruptedf("interrupted while building %s; nothing ran", trainFile)
		}
		return err
	}
	limit := p.HardLimit(device)
	announceSandbox(func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }, mode, missing)
	lw := &lineEnd{w: out}
	res, err := runner.Run(ctx, runner.Spec{
		Dir:        root,
		Command:    []string{vars[runner.BinVar]},
		Env:        gptEnv(p, home, device),
		ResultPath: filepath.Join(tmp, "result.json"),
		Output:     lw,
		HardLimit:  limit,
		Metric:     "val_bpb",
		Sandbox:    runner.SandboxPolicy(mode, device, []string{home}, profileLimits(p)),
		Scratch:    filepath.Join(tmp, "scratch"),
	})
	// The program's last line may be a progress line ended by a carriage
	// return: whatever is printed next starts on a line of its own.
	lw.finishLine()
	if err != nil {
		if ctx.Err() != nil {
			return interruptedf("training interrupted; nothing is recorded by train")
		}
		return err
	}
	if res.Crash != "" {
		return fmt.Errorf("training failed (%s: %s)", res.Crash, res.Reason)
	}
	return nil
}

// lineEnd passes writes through and remembers whether the last one ended a
// line.
type lineEnd struct {
	w    io.Writer
	open bool // the last byte written was not a newline
}

func (l *lineEnd) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.open = p[len(p)-1] != '\n'
	}
	return l.w.Write(p)
}

func (l *lineEnd) finishLine() {
	if l.open {
		io.WriteString(l.w, "\n")
		l.open = false
	}
}
