package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
)

type trainOptions struct {
	Profile      string
	Device       string
	Sandbox      string
	Repo         string
	profileGiven bool // --profile was on the command line
}

func newTrainCmd() *cobra.Command {
	o := trainOptions{Repo: "."}
	cmd := &cobra.Command{
		Use:   "train [--profile P] [--device D]",
		Short: "Build the repository's program and run it once, as it is",
		Long: `train builds the program of the repository you are in (gpt/train.go, or the
program of its autoresearch.toml) and runs it once for its budget in the
sandbox a run uses, streaming its output: what "uv run train.py" is to the
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
	mode, warning, err := sandboxMode(o.Sandbox)
	if err != nil {
		return err
	}
	root, _, err := runs.RepoRoot(o.Repo)
	if err != nil {
		root, err = filepath.Abs(o.Repo)
		if err != nil {
			return err
		}
	}
	t, err := taskOf(ctx, root, setupFlags{Profile: o.Profile, profileGiven: o.profileGiven, Device: o.Device})
	if err != nil {
		return err
	}
	allowPython(ctx, root, &t, func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) })
	tmp, err := os.MkdirTemp("", "autoresearch-train")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	vars := map[string]string{runner.BinVar: filepath.Join(tmp, "program"), runner.WorktreeVar: root}
	if len(t.Build.Argv) > 0 {
		if _, err := runner.Build(ctx, root, runner.Expand(t.Build.Argv, vars), runner.Expand(t.Build.Env, vars)); err != nil {
			var be *runner.BuildError
			switch {
			case errors.As(err, &be):
				return fmt.Errorf("%s does not build:\n%s", strings.Join(t.Editable, ", "), be.Output)
			case ctx.Err() != nil:
				return interruptedf("interrupted while building; nothing ran")
			}
			return err
		}
	}
	if warning != "" {
		fmt.Fprintln(out, warning)
	}
	lw := &lineEnd{w: out}
	spec := runner.TaskSpec(&t, vars)
	spec.Dir, spec.ResultPath, spec.Output = root, filepath.Join(tmp, "result.json"), lw
	spec.Sandbox, spec.Scratch = runner.TaskPolicy(mode, &t), filepath.Join(tmp, "scratch")
	res, err := runner.Run(ctx, spec)
	// The program's last line may be a progress line ended by a carriage
	// return: whatever is printed next starts on a line of its own.
	lw.finishLine()
	if err != nil {
		if ctx.Err() != nil {
			return interruptedf("interrupted; nothing is recorded by train")
		}
		return err
	}
	if res.Crash != "" {
		return fmt.Errorf("the run failed (%s: %s)", res.Crash, res.Reason)
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
