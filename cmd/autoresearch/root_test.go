package main

import (
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
