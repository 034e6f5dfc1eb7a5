package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/agent"
	"autoresearch/internal/agent/llmtest"
	"autoresearch/internal/task"
	"autoresearch/internal/testfs"
)

const strategyPy = "FAST_WINDOW = 10\nSLOW_WINDOW = 40\n\ndef signal(prices):\n    return 0\n"

// taskRequest is a proposal for a task of autoresearch.toml: a Python
// strategy, a Sharpe ratio where higher is better, and a build step or none.
func taskRequest(t *testing.T, build func(context.Context) (string, bool)) agent.Request {
	wt := t.TempDir()
	for name, content := range map[string]string{"strategy.py": strategyPy, "backtest.py": "print('sharpe: 1')\n", "autoresearch.toml": "run = []\n"} {
		if err := os.WriteFile(filepath.Join(wt, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tk := task.Task{Source: task.File, Editable: []string{"strategy.py"}, Metric: task.Metric{Name: "sharpe"}, BudgetSeconds: 60,
		Run: task.Command{Argv: []string{"python3", "backtest.py"}}, Device: task.Device{Name: task.CPU},
		Prompt: task.Prompt{What: "the program of the task in autoresearch.toml", Locked: "autoresearch.toml and the evaluation"}}
	if build != nil {
		tk.Build.Argv = []string{"make", "check"}
	}
	return agent.Request{N: 2, Program: "PROGRAM: raise the Sharpe ratio.", Worktree: wt, Task: tk, Check: build,
		TranscriptPath: filepath.Join(t.TempDir(), "2.jsonl")}
}

func TestTaskPromptNamesItsFilesMetricAndDirection(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "strategy.py", "old_string", "FAST_WINDOW = 10", "new_string", "FAST_WINDOW = 20"))),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "slower fast average"))),
	)
	l, _ := newAgent(t, srv, nil)
	req := taskRequest(t, nil)
	if _, err := l.Propose(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	sys, user := reqs[0].Messages[0].Content, reqs[0].Messages[1].Content
	for _, want := range []string{"Only strategy.py may change. Everything else in the worktree (autoresearch.toml and the evaluation) is locked",
		"its effect on sharpe (higher is better)", "This task has no build step", "the program is then run for its fixed budget"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q:\n%s", want, sys)
		}
	}
	for _, bad := range []string{"harness/", "Go standard library", "trained"} {
		if strings.Contains(sys, bad) {
			t.Errorf("system prompt of a Python task mentions %q:\n%s", bad, sys)
		}
	}
	for _, want := range []string{"Experiment 2 on the program of the task in autoresearch.toml", "Budget: 60 s of wall-clock time per run ($AUTORESEARCH_BUDGET_SECONDS)",
		"Metric: sharpe (higher is better). Files you may change: strategy.py.", "# Current strategy.py\n\n```python\nFAST_WINDOW = 10"} {
		if !strings.Contains(user, want) {
			t.Errorf("user message lacks %q:\n%s", want, user)
		}
	}
	if got := lastToolResult(t, reqs[2]); !strings.Contains(got, "this task has no build step, so there is nothing to check") {
		t.Errorf("check without a build returned %q", got)
	}
}

func TestTaskCheckRunsTheTasksBuild(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "strategy.py", "old_string", "FAST_WINDOW = 10", "new_string", "FAST_WINDOW = x"))),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "strategy.py", "old_string", "FAST_WINDOW = x", "new_string", "FAST_WINDOW = 20"))),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "FAST_WINDOW 10 -> 20"))),
	)
	l, _ := newAgent(t, srv, nil)
	var req agent.Request
	builds := 0
	req = taskRequest(t, func(context.Context) (string, bool) {
		builds++
		b := testfs.ReadFile(t, filepath.Join(req.Worktree, "strategy.py"))
		if strings.Contains(string(b), "= x") {
			return "strategy.py:1: x is not a number", false
		}
		return "", true
	})
	if _, err := l.Propose(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if got := lastToolResult(t, reqs[2]); !strings.Contains(got, "x is not a number") {
		t.Errorf("a failing build returned %q", got)
	}
	if got := lastToolResult(t, reqs[4]); got != "ok: the program builds" {
		t.Errorf("a passing build returned %q", got)
	}
	if builds != 2 || !strings.Contains(reqs[0].Messages[0].Content, "call check (it runs the task's build)") {
		t.Errorf("%d builds; system prompt:\n%s", builds, reqs[0].Messages[0].Content)
	}
}
