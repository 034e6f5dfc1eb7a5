package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/agent/llmtest"
)

// TestShowEveryKindOfExperiment runs a discard, a crash and a keep with a
// scripted LLM, collects the run clone's garbage as git gc would after a
// while, and shows each experiment: its diff survives whatever the outcome.
func TestShowEveryKindOfExperiment(t *testing.T) {
	repo := toyRepo(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Text("ready"),
		srv.Calls(edit("VALUE = 1.0", "VALUE = 1.2")), srv.Calls(submit("raise VALUE to 1.2")),
		srv.Calls(edit(`MODE  = "ok"`, `MODE  = "panic"`)), srv.Calls(submit("panic mode")),
		srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "panic mode cannot be fixed"))),
		srv.Calls(edit("VALUE = 1.0", "VALUE = 0.7")), srv.Calls(submit("lower VALUE to 0.7")),
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", llmtest.Key)
	program := filepath.Join(t.TempDir(), "program.md")
	if err := os.WriteFile(program, []byte("lower val_bpb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "run", "--repo", repo, "--tag", "s1", "--device", "cpu", "--model", "test-model",
		"--program", program, "--max-experiments", "3", "--fix-attempts", "1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	clone := filepath.Join(repo, ".autoresearch", "s1", "worktree")
	for _, args := range [][]string{{"reflog", "expire", "--expire=now", "--all"}, {"gc", "--prune=now", "--quiet"}} {
		if out, err := exec.Command("git", append([]string{"-C", clone}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// The user's repository has the kept branch and no experiment refs.
	if out, err := exec.Command("git", "-C", repo, "for-each-ref", "--format=%(refname)").Output(); err != nil ||
		strings.Contains(string(out), "refs/autoresearch/") || !strings.Contains(string(out), "refs/heads/autoresearch/s1") {
		t.Errorf("the user's refs (%v):\n%s", err, out)
	}
	t.Chdir(repo)
	for _, c := range []struct {
		n    string
		want []string
	}{
		{"1", []string{"experiment 1 of run s1: discard", "description   raise VALUE to 1.2", "val_bpb       1.200000 (lower is better; best after it 1.000000)",
			"(refs/autoresearch/s1/1 in the run's clone)", "log           .autoresearch/s1/logs/1.log", "transcript    .autoresearch/s1/transcripts/1.jsonl",
			"llm           llm:test-model: ", "-\tVALUE = 1.0", "+\tVALUE = 1.2", "diff --git a/gpt/train.go b/gpt/train.go"}},
		{"2", []string{"experiment 2 of run s1: crash", "description   panic mode", "val_bpb       0.000000", "crash         runtime: ",
			"panic mode cannot be fixed", `+	MODE  = "panic"`, "log           .autoresearch/s1/logs/2.log"}},
		{"3", []string{"experiment 3 of run s1: keep", "val_bpb       0.700000 (lower is better; best after it 0.700000)", "+\tVALUE = 0.7", "seconds       build "}},
		{"0", []string{"experiment 0 of run s1: keep", "description   baseline", "no diff: the baseline is the repository's commit as it was", "figures       ",
			"curve         100% 1.000 @4 (smoothed training loss at each tenth of the budget"}},
	} {
		out, err := runCLI(t, "show", c.n, "--tag", "s1")
		if err != nil {
			t.Fatalf("show %s: %v", c.n, err)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("show %s lacks %q:\n%s", c.n, w, out)
			}
		}
	}
	if out, err := runCLI(t, "show", "2"); err != nil || !strings.Contains(out, "experiment 2 of run s1: crash") {
		t.Errorf("show 2 without --tag (the latest run): %v\n%s", err, out)
	}
	if _, err := runCLI(t, "show", "4", "--tag", "s1"); err == nil || !strings.Contains(err.Error(), "run s1 has no experiment 4: its experiments are 0 (the baseline) to 3") {
		t.Errorf("show 4: %v", err)
	}
	for _, args := range [][]string{{"show"}, {"show", "x"}, {"show", "-1"}, {"show", "1", "2"}} {
		if _, err := runCLI(t, args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}
