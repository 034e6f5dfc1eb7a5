package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
)

// commands holds the constructors of the subcommands; each cmd_*.go file adds
// its own in an init function, so a command lives in exactly one file.
var commands []func() *cobra.Command

func register(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "autoresearch",
		Short: "Autonomous ML research: edit, train for a fixed budget, keep or discard, repeat",
		Long: `autoresearch lets an agent do ML research while you sleep. The agent edits one
training file (gpt/train.go); autoresearch builds it, trains for a fixed time
budget, reads val_bpb from a locked harness, keeps the change with a git commit
or throws it away, logs a row in results.tsv, and loops until stopped.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	cmds := make([]*cobra.Command, 0, len(commands))
	for _, newCmd := range commands {
		cmds = append(cmds, newCmd())
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	root.AddCommand(cmds...)
	return root
}

// usageError marks a mistake in how the command was called (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() + " (see --help)" }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }
