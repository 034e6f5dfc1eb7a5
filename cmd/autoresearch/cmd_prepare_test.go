package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPrepareFlagErrors(t *testing.T) {
	home := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"prepare", "--home", home, "--profile", "laptop"}, `--profile: unknown profile "laptop": use one of smoke, cpu, gpu`},
		{[]string{"prepare", "--home", home, "--dataset", "imagenet"}, `--dataset: unknown dataset "imagenet"`},
		{[]string{"prepare", "--home", home, "--num-shards", "0"}, "--num-shards 0: use a positive count, or -1 for all"},
		{[]string{"prepare", "--home", home, "extra"}, `prepare takes no arguments, got ["extra"]`},
	} {
		_, _, err := execute(t, c.args...)
		var u *usageError
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
		if !errors.As(err, &u) || exitCode(err) != 2 {
			t.Errorf("%v: not a usage error (exit %d)", c.args, exitCode(err))
		}
	}
}

func TestPrepareSmoke(t *testing.T) {
	home := t.TempDir()
	out, errOut, err := execute(t, "prepare", "--profile", "smoke", "--home", home)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prepared profile smoke from dataset synthetic in " + home, "tokenizer  512 ids", "(EVAL_TOKENS 16,384)", "sample     \""} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Not a terminal: plain progress lines.
	if !strings.Contains(errOut, "training the tokenizer (252 merges): done in") {
		t.Errorf("progress lines:\n%s", errOut)
	}
	out, _, err = execute(t, "prepare", "--profile", "smoke", "--home", home)
	if err != nil || !strings.Contains(out, "already prepared from dataset synthetic") {
		t.Errorf("second run: %v\n%s", err, out)
	}
}

func TestPrepareInterrupted(t *testing.T) {
	home := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C before the first document
	_, err := runPrepareCtx(ctx, "prepare", "--profile", "smoke", "--home", home)
	if !errors.Is(err, context.Canceled) || exitCode(err) != 130 ||
		err.Error() != "prepare interrupted; profile smoke is not prepared: run the command again to finish" {
		t.Errorf("interrupted prepare: %v (exit %d)", err, exitCode(err))
	}
	if _, _, err := execute(t, "prepare", "--profile", "smoke", "--home", home); err != nil {
		t.Fatal(err)
	}
	_, err = runPrepareCtx(ctx, "prepare", "--profile", "smoke", "--home", home, "--force")
	if exitCode(err) != 130 || !strings.Contains(err.Error(), "profile smoke keeps the data it had (dataset synthetic)") {
		t.Errorf("interrupted prepare of a prepared profile: %v", err)
	}
}

func runPrepareCtx(ctx context.Context, args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}
