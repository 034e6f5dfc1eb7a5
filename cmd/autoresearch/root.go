package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// commands are the subcommands, in the order a research night uses them.
// Each lives in its own cmd_<name>.go; adding one means adding it here.
func commands() []*cobra.Command {
	return []*cobra.Command{
		newInitCmd(),
		newPrepareCmd(),
		newTrainCmd(),
		newBaselineCmd(),
		newRunCmd(),
		newAuditCmd(),
		newResultsCmd(),
		newReportCmd(),
		newShowCmd(),
		newDoctorCmd(),
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "autoresearch",
		Short: "Autonomous ML research: edit, train for a fixed budget, keep or discard, repeat",
		Long: `autoresearch lets an agent do ML research while you sleep. The agent edits one
training file (gpt/train.go); autoresearch builds it, trains for a fixed time
budget, reads val_bpb from a locked harness, keeps the change with a git commit
or throws it away, logs a row in results.tsv, and loops until stopped.

Exit status:
  0    success
  1    failure: the message says what happened and what to do
  2    usage error: an unknown command or flag, or a wrong flag value
  130  interrupted (Ctrl-C or SIGTERM): the message says what was kept`,
		Example: `  autoresearch prepare --profile smoke
  autoresearch baseline --profile smoke --tag nov26
  autoresearch run --tag nov26 --agent sweep --max-experiments 10
  autoresearch results --tag nov26`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// cobra's own default, which SuggestionsFor does not apply by itself.
		SuggestionsMinimumDistance: 2,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	// A mistyped command is a usage error too (cobra's own is a plain one).
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		hint := ""
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			hint = fmt.Sprintf(": did you mean %s?", strings.Join(s, " or "))
		}
		return usagef("unknown command %q%s", args[0], hint)
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	cmds := commands()
	for _, c := range cmds {
		if check := c.Args; check != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				err := check(cmd, args)
				if err != nil && !errors.As(err, new(*usageError)) {
					err = &usageError{err}
				}
				return err
			}
		}
	}
	root.AddCommand(cmds...)
	return root
}

// usageError marks a mistake in how the command was called (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() + " (see --help)" }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// interruptedError is a command stopped by Ctrl-C or SIGTERM (exit status
// 130). Its message says what was kept and how to go on.
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return context.Canceled }

// interruptedf returns an interrupted error with a formatted message.
func interruptedf(format string, args ...any) error {
	return &interruptedError{fmt.Sprintf(format, args...)}
}
