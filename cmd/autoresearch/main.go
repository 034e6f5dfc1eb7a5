// Command autoresearch runs autonomous ML research: an agent edits one training
// file, the binary builds and trains it for a fixed budget, reads the metric
// from a locked harness, keeps or discards the change in git, and loops.
//
// The data flow, one experiment at a time:
//
//	prepare  -> harness (datasets, tokenizer, token files)
//	baseline -> experiment.Setup (go-git clone, run.json) -> runner (build, train, summary)
//	run      -> agent (propose an edit) -> gitops (guard, commit) -> runner -> decide -> results
//	results, report, doctor -> what the user reads in the morning
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "autoresearch:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the only place errors become exit statuses: 0 on success, 2 for
// command-line misuse, 130 for an interrupt, 1 for everything else.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var u *usageError
	switch {
	case errors.As(err, &u):
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}
