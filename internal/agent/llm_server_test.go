package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"autoresearch/harness"
	"autoresearch/internal/agent"
	"autoresearch/internal/agent/llmtest"
	"autoresearch/internal/runner"
	"autoresearch/internal/task"
	"autoresearch/internal/task/gpttask"
)

// Fixtures: a tiny Go module as the run's worktree.

const trainGo = `package main

import "fmt"

// Hyperparameters: edit these directly.
const (
	LearningRate = 0.01
	Depth        = 4
)

func main() {
	fmt.Printf("val_bpb: %.6f\n", LearningRate*Depth)
}
`

const harnessGo = `package harness

// Budget is the fixed training time in seconds.
const Budget = 5
`

const secret = "TOP-SECRET-OUTSIDE-THE-WORKTREE"

// worktree builds a temp dir holding the worktree (go.mod, gpt/train.go,
// harness/harness.go) and, beside it, a secret file that no tool may reach.
// gpt/escape is a symlink from inside the worktree to the secret's folder.
func worktree(t testing.TB) (wt, outside string) {
	t.Helper()
	dir := t.TempDir()
	wt = filepath.Join(dir, "worktree")
	outside = filepath.Join(dir, "outside")
	for name, content := range map[string]string{
		filepath.Join(wt, "go.mod"):                "module trainprog\n\ngo 1.26\n",
		filepath.Join(wt, "gpt", "train.go"):       trainGo,
		filepath.Join(wt, "harness", "harness.go"): harnessGo,
		filepath.Join(outside, "secret.txt"):       secret,
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join("..", "..", "outside"), filepath.Join(wt, "gpt", "escape")); err != nil {
		t.Fatal(err)
	}
	return wt, outside
}

// goCheck is a real Check: the runner's own build of ./gpt in the worktree
// (the command and environment a run uses, -buildvcs=false included, so that
// it does not depend on the machine's Go settings).
func goCheck(wt string) func(context.Context) (string, bool) {
	return func(ctx context.Context) (string, bool) {
		argv, env := gpttask.GoBuild("./gpt", runner.CPU)
		vars := map[string]string{runner.BinVar: os.DevNull, runner.WorktreeVar: wt}
		out, err := runner.Build(ctx, wt, runner.Expand(argv, vars), runner.Expand(env, vars))
		if err != nil && out == "" {
			out = err.Error()
		}
		return out, err == nil
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sleeps records the waits the agent asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newAgent returns an LLM agent talking to srv, with its sleeps recorded.
func newAgent(t testing.TB, srv *llmtest.Server, edit func(*agent.LLMConfig)) (*agent.LLM, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := agent.LLMConfig{Model: "test-model", BaseURL: srv.URL(), APIKey: llmtest.Key, Sleep: sl.sleep}
	if edit != nil {
		edit(&cfg)
	}
	l, err := agent.NewLLM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, sl
}

// gptTask is the built-in GPT task on smoke, as the commands make it.
func gptTask(t testing.TB) task.Task {
	t.Helper()
	p, err := harness.LookupProfile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	return gpttask.New(gpttask.Options{Profile: p, Home: "/data", Device: "cpu", Detail: "2 cores"})
}

// request is a Request on the worktree with a real go build as Check and a
// transcript in the test's temp dir.
func request(t testing.TB, wt string) agent.Request {
	return agent.Request{
		N:              3,
		Program:        "PROGRAM: lower val_bpb.",
		Worktree:       wt,
		Task:           gptTask(t),
		Check:          goCheck(wt),
		TranscriptPath: filepath.Join(t.TempDir(), "transcripts", "3.jsonl"),
	}
}

// lastToolResult returns the last tool message of a request.
func lastToolResult(t *testing.T, r openai.ChatCompletionRequest) string {
	t.Helper()
	res := llmtest.ToolResults(r)
	if len(res) == 0 {
		t.Fatalf("request has no tool result")
	}
	return res[len(res)-1]
}

// transcriptEntries reads a transcript file.
func transcriptEntries(t *testing.T, path string) []agent.TranscriptEntry {
	t.Helper()
	var out []agent.TranscriptEntry
	for i, line := range strings.Split(strings.TrimSpace(readFile(t, path)), "\n") {
		var e agent.TranscriptEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("transcript line %d is not JSON: %v\n%s", i+1, err, line)
		}
		out = append(out, e)
	}
	return out
}
