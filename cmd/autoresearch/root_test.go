package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestMisuseOfTheCommandLineIsAUsageError(t *testing.T) {
	t.Setenv("AUTORESEARCH_HOME", t.TempDir()) // nothing prepared: the flags are checked first
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"reslts"}, `unknown command "reslts": did you mean results?`},
		{[]string{"run", "extra"}, `unknown command "extra" for "autoresearch run"`},
		{[]string{"results", "nov26"}, `unknown command "nov26" for "autoresearch results"`},
		{[]string{"train", "--device", "tpu"}, `--device: unknown device "tpu": use auto, cpu or cuda`},
		{[]string{"baseline", "--device", "gpu"}, `--device: unknown device "gpu": use auto, cpu or cuda`},
		{[]string{"run", "--agent", "sweep", "--device", "metal"}, `--device: unknown device "metal"`},
	} {
		_, _, err := execute(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != 2 {
			t.Errorf("%v: error %v (exit %d), want %q (exit 2)", c.args, err, exitCode(err), c.want)
		}
		if err != nil && strings.Count(err.Error(), "(see --help)") != 1 {
			t.Errorf("%v: %q", c.args, err)
		}
	}
	// Without a command: the help, and success.
	out, _, err := execute(t)
	if err != nil || !strings.Contains(out, "Available Commands:") {
		t.Errorf("no command: %v\n%s", err, out)
	}
	_, _, err = execute(t, "prepare", "extra")
	if err == nil || strings.Count(err.Error(), "(see --help)") != 1 || exitCode(err) != 2 {
		t.Errorf("prepare extra: %v", err)
	}
}

func TestUnknownProfileFromTheEnvironmentSaysSo(t *testing.T) {
	repo := toyRepo(t)
	t.Chdir(repo)
	t.Setenv("AUTORESEARCH_PROFILE", "laptop")
	for _, args := range [][]string{{"prepare"}, {"train"}, {"baseline"}, {"run", "--agent", "sweep"}} {
		_, _, err := execute(t, args...)
		if err == nil || !strings.HasPrefix(err.Error(), `$AUTORESEARCH_PROFILE: unknown profile "laptop": use one of smoke, cpu, gpu, or unset it`) || exitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
	_, _, err := execute(t, "train", "--profile", "desktop")
	if err == nil || !strings.HasPrefix(err.Error(), `--profile: unknown profile "desktop"`) {
		t.Errorf("train --profile desktop: %v", err)
	}
}

func TestEveryCommandHasASynopsisAndExamples(t *testing.T) {
	t.Parallel()
	root := newRootCmd()
	for _, c := range root.Commands() {
		name := c.Name()
		synopsis := strings.TrimSpace(strings.TrimPrefix(c.Use, name))
		if c.HasAvailableLocalFlags() && synopsis == "" {
			t.Errorf("%s: Use %q has no synopsis of its flags", name, c.Use)
		}
		// A synopsis names only flags the command has.
		for _, word := range strings.FieldsFunc(synopsis, func(r rune) bool { return strings.ContainsRune(" []|", r) }) {
			flag, ok := strings.CutPrefix(word, "--")
			if !ok {
				if short, ok := strings.CutPrefix(word, "-"); ok && c.Flags().ShorthandLookup(short) == nil {
					t.Errorf("%s: Use names -%s, which it does not have", name, short)
				}
				continue
			}
			if c.Flags().Lookup(flag) == nil {
				t.Errorf("%s: Use names --%s, which it does not have", name, flag)
			}
		}
		if c.Short == "" || c.Long == "" {
			t.Errorf("%s: no Short or Long help", name)
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no Example", name)
		}
		for _, line := range strings.Split(c.Example, "\n") {
			if !strings.Contains(line, "autoresearch "+name) {
				t.Errorf("%s: example %q does not run autoresearch %s", name, line, name)
			}
		}
	}
}

func TestEveryCommandFileIsInTheList(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("cmd_*.go")
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(f, "cmd_"), ".go")
		if c, _, err := root.Find([]string{name}); err != nil || c == root {
			t.Errorf("%s: no command %q in the root's list", f, name)
		}
	}
	if len(files) == 0 {
		t.Fatal("no cmd_*.go files")
	}
}

func TestSharedFlagsReadTheSameEverywhere(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"profile", "device"} {
		var users []string
		usage := map[string]bool{}
		for _, c := range newRootCmd().Commands() {
			if f := c.Flags().Lookup(flag); f != nil {
				users = append(users, c.Name())
				usage[f.Usage+" default "+f.DefValue] = true
			}
		}
		if len(users) < 2 || len(usage) != 1 {
			t.Errorf("--%s: declared by %v with %d different help texts or defaults: %v", flag, users, len(usage), usage)
		}
	}
}

func TestRootHelpListsEveryExitStatus(t *testing.T) {
	t.Parallel()
	out, _, err := execute(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	_, statuses, ok := strings.Cut(out, "Exit status:")
	if !ok {
		t.Fatalf("no exit statuses in the help:\n%s", out)
	}
	for _, err := range []error{nil, errors.New("failed"), usagef("bad flag"), interruptedf("stopped"), context.Canceled} {
		code := exitCode(err)
		if !strings.Contains(statuses, fmt.Sprintf("\n  %-4d ", code)) {
			t.Errorf("exit status %d (of %v) is not in the help", code, err)
		}
	}
}
