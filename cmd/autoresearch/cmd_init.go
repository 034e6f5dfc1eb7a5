package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"autoresearch/internal/contract"
	"autoresearch/internal/gitops"
	"autoresearch/internal/task"
	"autoresearch/internal/task/gpttask"
)

// initOptions are the flags of the init command.
type initOptions struct {
	Repo string
}

func newInitCmd() *cobra.Command {
	opts := initOptions{Repo: "."}
	cmd := &cobra.Command{
		Use:   "init [--repo DIR]",
		Short: "Make this repository a research task: write autoresearch.toml and program.md to fill in",
		Long: `init writes two files at the top of your git repository, never replacing one that
exists: autoresearch.toml, the task (the files the agent may change, the command
that prints the metric, the time budget, the metric's pattern and direction),
every key commented; and program.md, a skeleton of the agent's instructions.
Fill them in, commit them, and baseline, run, results, report, show and doctor
work on your task instead of the built-in GPT.

The program gets its budget in seconds in $` + contract.EnvBudget + `.`,
		Example: `  autoresearch init
  autoresearch init --repo ../my-backtest`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.Repo, "repo", ".", "the git repository to make a task")
	return cmd
}

func runInit(opts initOptions, out io.Writer) error {
	root, err := gitops.Root(opts.Repo)
	if err != nil {
		dir, _ := filepath.Abs(opts.Repo)
		return fmt.Errorf("%s is not inside a git repository: a task lives in one, so run \"git init\" there first", dir)
	}
	var wrote, kept []string
	for _, f := range []struct{ name, content string }{
		{task.File, task.Template},
		{task.ProgramFile, task.ProgramTemplate},
	} {
		ok, err := writeNew(filepath.Join(root, f.name), f.content)
		if err != nil {
			return err
		}
		if ok {
			wrote = append(wrote, f.name)
		} else {
			kept = append(kept, f.name)
		}
	}
	if len(kept) > 0 {
		verb := "it exists"
		if len(kept) > 1 {
			verb = "they exist"
		}
		fmt.Fprintf(out, "kept %s: %s already (init never replaces a file)\n", strings.Join(kept, " and "), verb)
	}
	if len(wrote) == 0 {
		fmt.Fprintf(out, "nothing written in %s\n", root)
		return nil
	}
	fmt.Fprintf(out, "wrote %s in %s\n", strings.Join(wrote, " and "), root)
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(gpttask.TrainFile))); err == nil {
		fmt.Fprintf(out, "note: this repository holds the GPT task (%s); with %s, baseline and run work on the task file instead\n", gpttask.TrainFile, task.File)
	}
	fmt.Fprintf(out, `
fill in %[1]s:
  editable      the files the agent may change (everything else is the fixed evaluation)
  run           the command that runs one experiment and prints the metric
  budget        the time the program keeps itself to (it gets it in $%[2]s)
  [metric]      name, pattern (a regular expression whose first group is the value), direction
and %[3]s: what the task is and what the agent should try. Then commit and start:
  git add %[1]s %[3]s && git commit -m "research task"
  autoresearch doctor --agent sweep
  autoresearch baseline --tag first && autoresearch run --tag first
`, task.File, contract.EnvBudget, task.ProgramFile)
	return nil
}

// writeNew creates path with content; false when the file exists already,
// which is left as it is.
func writeNew(path, content string) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(path)
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}
