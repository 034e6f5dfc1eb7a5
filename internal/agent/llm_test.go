package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"
	"github.com/spf13/pflag"

	"autoresearch/internal/agent"
	"autoresearch/internal/agent/llmtest"
	"autoresearch/internal/contract"
	"autoresearch/internal/results"
	"autoresearch/internal/task"
	"autoresearch/programs"
)

var edited = strings.Replace(trainGo, "LearningRate = 0.01", "LearningRate = 0.02", 1)

func TestProposeReadEditCheckSubmit(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "double the learning rate\n(0.01 -> 0.02)"))),
	)
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	builds := 0
	check := req.Check
	req.Check = func(ctx context.Context) (string, bool) { builds++; return check(ctx) }
	p, err := l.Propose(context.Background(), req)
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if builds != 1 {
		t.Errorf("%d builds, want 1: submit after a passing check of the same files builds nothing", builds)
	}
	if got := readFile(t, filepath.Join(wt, "gpt", "train.go")); got != edited {
		t.Errorf("gpt/train.go after the proposal:\n%s\nwant:\n%s", got, edited)
	}
	if want := "double the learning rate (0.01 -> 0.02)"; p.Description != want {
		t.Errorf("Description = %q, want %q (one line)", p.Description, want)
	}
	if p.ToolCalls != 4 {
		t.Errorf("ToolCalls = %d, want 4", p.ToolCalls)
	}
	if u := srv.Reported(); p.PromptTokens != u.Prompt || p.CompletionTokens != u.Completion || u.Prompt == 0 {
		t.Errorf("tokens = %d+%d, the server reported %d+%d", p.PromptTokens, p.CompletionTokens, u.Prompt, u.Completion)
	}
	reqs := srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	first := reqs[0]
	if first.Model != "test-model" {
		t.Errorf("model = %q", first.Model)
	}
	var names []string
	for _, tool := range first.Tools {
		names = append(names, tool.Function.Name)
	}
	if !slices.Equal(names, agent.ToolNames()) || !slices.Equal(names, []string{"read_file", "edit_file", "write_file", "check", "submit", "give_up"}) {
		t.Errorf("tools offered = %v", names)
	}
	if first.Messages[0].Role != "system" || !strings.HasPrefix(first.Messages[0].Content, "PROGRAM: lower val_bpb.") {
		t.Errorf("system message does not start with the program: %.80q", first.Messages[0].Content)
	}
	if u := first.Messages[1]; u.Role != "user" || !strings.Contains(u.Content, trainGo[:60]) || !strings.Contains(u.Content, "gpt/train.go (profile smoke)") || !strings.Contains(u.Content, "cpu (2 cores)") {
		t.Errorf("user message lacks the file, profile or device:\n%s", u.Content)
	}
	if got := lastToolResult(t, reqs[1]); got != trainGo {
		t.Errorf("read_file returned %q", got)
	}
	if got := lastToolResult(t, reqs[3]); !strings.HasPrefix(got, "ok: the program builds") {
		t.Errorf("check returned %q", got)
	}
	// Each request carries the whole conversation so far.
	if n := len(reqs[3].Messages); n != 2+2*3 {
		t.Errorf("the 4th request has %d messages, want 8", n)
	}

	tr := transcriptEntries(t, req.TranscriptPath)
	var kinds []string
	for _, e := range tr {
		kinds = append(kinds, e.Kind+":"+e.Role+e.Tool)
		if e.N != 3 || e.Phase != "propose" {
			t.Errorf("transcript entry %+v: want n 3, phase propose", e)
		}
	}
	want := []string{"message:system", "message:user",
		"message:assistant", "tool_result:read_file", "message:assistant", "tool_result:edit_file",
		"message:assistant", "tool_result:check", "message:assistant", "tool_result:submit", "end:"}
	if !slices.Equal(kinds, want) {
		t.Errorf("transcript kinds\n got %v\nwant %v", kinds, want)
	}
	end := tr[len(tr)-1]
	if end.Outcome != "submitted" || end.Description != p.Description || end.PromptTokens != p.PromptTokens || end.ToolCallCount != 4 {
		t.Errorf("transcript end = %+v, want the proposal's totals", end)
	}
}

func TestEditOutsideEditablePathRefused(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "harness/harness.go", "old_string", "Budget = 5", "new_string", "Budget = 500"))),
		srv.Calls(llmtest.Tool("write_file", llmtest.Args("path", "go.mod", "content", "module evil\n"))),
		srv.Calls(llmtest.Tool("write_file", llmtest.Args("path", "gpt/new.go", "content", "package main\n"))),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "./gpt//train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, _ := newAgent(t, srv, nil)
	if _, err := l.Propose(context.Background(), request(t, wt)); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	for i, path := range []string{"harness/harness.go", "go.mod", "gpt/new.go"} {
		got := lastToolResult(t, reqs[i+1])
		if !strings.HasPrefix(got, "error: "+path+" may not be changed: only gpt/train.go may be edited") {
			t.Errorf("editing %s: tool result %q", path, got)
		}
	}
	if got := readFile(t, filepath.Join(wt, "harness", "harness.go")); got != harnessGo {
		t.Errorf("harness changed:\n%s", got)
	}
	if got := readFile(t, filepath.Join(wt, "go.mod")); !strings.HasPrefix(got, "module trainprog") {
		t.Errorf("go.mod changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(wt, "gpt", "new.go")); !os.IsNotExist(err) {
		t.Errorf("gpt/new.go was created (stat: %v)", err)
	}
	if got := readFile(t, filepath.Join(wt, "gpt", "train.go")); got != edited {
		t.Errorf("the allowed edit (through a path needing cleaning) did not land:\n%s", got)
	}
}

func TestPathEscapesRefused(t *testing.T) {
	wt, outside := worktree(t)
	abs := filepath.Join(outside, "secret.txt")
	cases := []struct {
		name, tool string
		args       map[string]string
		want       string
	}{
		{"dotdot read", "read_file", llmtest.Args("path", "../outside/secret.txt"), `contains ".."`},
		{"dotdot inside", "read_file", llmtest.Args("path", "gpt/../../outside/secret.txt"), `contains ".."`},
		{"absolute read", "read_file", llmtest.Args("path", abs), "is absolute"},
		{"symlink read", "read_file", llmtest.Args("path", "gpt/escape/secret.txt"), "leads outside the worktree"},
		{"symlink list", "read_file", llmtest.Args("path", "gpt/escape"), "leads outside the worktree"},
		{"dotdot write", "write_file", llmtest.Args("path", "../outside/secret.txt", "content", "x"), `contains ".."`},
		{"absolute edit", "edit_file", llmtest.Args("path", abs, "old_string", "TOP", "new_string", "x"), "is absolute"},
		{"symlink write", "write_file", llmtest.Args("path", "gpt/escape/secret.txt", "content", "x"), "may not be changed"},
	}
	srv := llmtest.NewServer(t)
	for _, c := range cases {
		srv.Append(srv.Calls(llmtest.Tool(c.tool, c.args)))
	}
	srv.Append(srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "nothing to do"))))
	l, _ := newAgent(t, srv, nil)
	_, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrAbandoned) {
		t.Fatalf("give_up in a proposal: err = %v, want ErrAbandoned", err)
	}
	reqs := srv.Requests()
	for i, c := range cases {
		got := lastToolResult(t, reqs[i+1])
		if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, c.want) {
			t.Errorf("%s: tool result %q, want an error containing %q", c.name, got, c.want)
		}
		if !strings.Contains(c.args["path"], outside) && strings.Contains(got, outside) {
			t.Errorf("%s: the error leaks the machine path: %q", c.name, got)
		}
	}
	for i, body := range srv.RawBodies() {
		if strings.Contains(body, secret) {
			t.Errorf("request %d carries the secret from outside the worktree", i)
		}
	}
	if got := readFile(t, abs); got != secret {
		t.Errorf("the file outside the worktree changed: %q", got)
	}
}

func TestEditableSymlinkRefused(t *testing.T) {
	wt, _ := worktree(t)
	// gpt/train.go becomes a link to the harness: writing through it would
	// change a locked file while the path looks editable.
	train := filepath.Join(wt, "gpt", "train.go")
	if err := os.Remove(train); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", "harness", "harness.go"), train); err != nil {
		t.Fatal(err)
	}
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("write_file", llmtest.Args("path", "gpt/train.go", "content", "package harness\n"))),
		srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "cannot edit"))),
	)
	l, _ := newAgent(t, srv, nil)
	if _, err := l.Propose(context.Background(), request(t, wt)); !errors.Is(err, agent.ErrAbandoned) {
		t.Fatalf("err = %v, want ErrAbandoned", err)
	}
	if got := lastToolResult(t, srv.Requests()[1]); !strings.Contains(got, "reached through the symlink gpt/train.go") {
		t.Errorf("tool result %q", got)
	}
	if got := readFile(t, filepath.Join(wt, "harness", "harness.go")); got != harnessGo {
		t.Errorf("the harness changed through the symlink:\n%s", got)
	}
}

func TestMalformedToolCalls(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("read_file", `{"path": "gpt/train.go"`)),
		srv.Calls(llmtest.Tool("delete_file", llmtest.Args("path", "gpt/train.go"))),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01"))),
		srv.Calls(llmtest.Tool("read_file", map[string]any{"path": 42})),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "not in the file", "new_string", "x"))),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "Learning", "new_string", "x"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "nothing yet"))),
		// Two calls in one reply: both run, in order.
		srv.Calls(
			llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02")),
			llmtest.Tool("submit", llmtest.Args("description", "lr 0.02")),
		),
	)
	l, _ := newAgent(t, srv, nil)
	p, err := l.Propose(context.Background(), request(t, wt))
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	wants := []string{
		"error: the arguments of read_file are not a JSON object",
		`error: unknown tool "delete_file": the tools are read_file, edit_file, write_file, check, submit, give_up`,
		`error: edit_file needs the argument "new_string"`,
		`error: the argument "path" of read_file must be a string`,
		"error: old_string was not found in gpt/train.go",
		"error: old_string occurs 2 times in gpt/train.go",
		"error: gpt/train.go is unchanged",
	}
	reqs := srv.Requests()
	for i, want := range wants {
		if got := lastToolResult(t, reqs[i+1]); !strings.HasPrefix(got, want) {
			t.Errorf("call %d: tool result %q, want prefix %q", i+1, got, want)
		}
	}
	if p.ToolCalls != 9 || p.Description != "lr 0.02" {
		t.Errorf("proposal %+v, want 9 tool calls and the last description", p)
	}
}

func TestRetry429HonoursRetryAfter(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		llmtest.Fail(http.StatusTooManyRequests, "rate limited", "rate_limit_exceeded", "Retry-After", "7"),
		llmtest.Fail(http.StatusTooManyRequests, "rate limited", "rate_limit_exceeded", "Retry-After-Ms", "1500"),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, sl := newAgent(t, srv, nil)
	req := request(t, wt)
	var notes []string
	req.Note = func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	if _, err := l.Propose(context.Background(), req); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	// The user sees each retry, not only the transcript.
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "LLM request failed (429") || !strings.HasSuffix(notes[0], "retry 1 of 7 in 7s") {
		t.Errorf("notes %q", notes)
	}
	if got, want := sl.all(), []time.Duration{7 * time.Second, 1500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v (the server's Retry-After)", got, want)
	}
	var retries int
	for _, e := range transcriptEntries(t, req.TranscriptPath) {
		if e.Kind == "retry" {
			retries++
			if !strings.HasPrefix(e.Error, "429") {
				t.Errorf("retry entry %+v", e)
			}
		}
	}
	if retries != 2 {
		t.Errorf("%d retry entries in the transcript, want 2", retries)
	}
}

func TestRetry5xxAndNetworkErrorsWithBackoff(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		llmtest.Fail(http.StatusInternalServerError, "boom", ""),
		llmtest.HangUp(t),
		llmtest.Fail(http.StatusBadGateway, "bad gateway", ""),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, sl := newAgent(t, srv, nil)
	if _, err := l.Propose(context.Background(), request(t, wt)); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	if got, want := sl.all(), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want exponential backoff %v", got, want)
	}
	// The retried request is the same request.
	bodies := srv.RawBodies()
	if bodies[0] != bodies[1] || bodies[1] != bodies[3] {
		t.Errorf("a retried request differs from the first")
	}
}

func TestRetriesExhaustedAbandonsAndRestores(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		llmtest.Fail(http.StatusServiceUnavailable, "overloaded", ""),
		llmtest.Fail(http.StatusServiceUnavailable, "overloaded", ""),
		llmtest.Fail(http.StatusServiceUnavailable, "overloaded", ""),
	)
	l, sl := newAgent(t, srv, func(c *agent.LLMConfig) { c.MaxRetries = 2 })
	_, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrAbandoned) || errors.Is(err, agent.ErrLLMConfig) {
		t.Fatalf("err = %v, want ErrAbandoned (the loop goes on)", err)
	}
	if !strings.Contains(err.Error(), "overloaded") {
		t.Errorf("the error does not carry the server's message: %v", err)
	}
	if n := len(sl.all()); n != 2 {
		t.Errorf("%d retries, want 2", n)
	}
	if got := readFile(t, filepath.Join(wt, "gpt", "train.go")); got != trainGo {
		t.Errorf("an abandoned proposal left its edit behind:\n%s", got)
	}
}

func TestReplyWithoutToolCallIsNudged(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Text("I think we should raise the learning rate."),
		func(w http.ResponseWriter) {
			srv.Reply(w, map[string]any{"role": "assistant", "content": "", "refusal": "I can't help with that."}, "stop")
		},
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, _ := newAgent(t, srv, nil)
	p, err := l.Propose(context.Background(), request(t, wt))
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	nudge := reqs[1].Messages[len(reqs[1].Messages)-1]
	if nudge.Role != "user" || !strings.Contains(nudge.Content, "called no tool") {
		t.Errorf("after a text reply the next message is %+v, want a nudge", nudge)
	}
	if prev := reqs[1].Messages[len(reqs[1].Messages)-2]; prev.Role != "assistant" || prev.Content != "I think we should raise the learning rate." {
		t.Errorf("the text reply is not kept in the conversation: %+v", prev)
	}
	if last := reqs[2].Messages[len(reqs[2].Messages)-1]; !strings.Contains(last.Content, "refusal") {
		t.Errorf("after a refusal the next message is %q", last.Content)
	}
	for _, m := range reqs[3].Messages {
		if m.Role == "assistant" && m.Content == "" && len(m.ToolCalls) == 0 {
			t.Errorf("an assistant message with neither content nor tool calls was sent back")
		}
	}
	if p.ToolCalls != 2 {
		t.Errorf("ToolCalls = %d, want 2 (nudges are not tool calls)", p.ToolCalls)
	}
}

func TestTooManyRepliesWithoutToolCallsAbandon(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Text("Done."), srv.Text("Done!"), srv.Text(""),
	)
	l, _ := newAgent(t, srv, func(c *agent.LLMConfig) { c.MaxNudges = 2 })
	_, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrAbandoned) || !strings.Contains(err.Error(), "3 replies without a tool call") {
		t.Fatalf("err = %v, want ErrAbandoned after 3 replies without a tool call", err)
	}
	if got := readFile(t, filepath.Join(wt, "gpt", "train.go")); got != trainGo {
		t.Errorf("the abandoned edit was not undone:\n%s", got)
	}
}

func TestCompileErrorSeenThroughCheckAndFixed(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate*Depth", "new_string", "LearningRate*Width"))),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "use width"))),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate*Width", "new_string", "LearningRate*Depth*2"))),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "double the product"))),
	)
	l, _ := newAgent(t, srv, nil)
	p, err := l.Propose(context.Background(), request(t, wt))
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	if got := lastToolResult(t, reqs[2]); !strings.HasPrefix(got, "build failed:") || !strings.Contains(got, "undefined: Width") {
		t.Errorf("check of a broken program returned %q, want the compiler's error", got)
	}
	if got := lastToolResult(t, reqs[3]); !strings.Contains(got, "does not build, so it was not submitted") || !strings.Contains(got, "undefined: Width") {
		t.Errorf("submit of a broken program returned %q", got)
	}
	if got := lastToolResult(t, reqs[5]); !strings.HasPrefix(got, "ok") {
		t.Errorf("check of the fixed program returned %q", got)
	}
	if p.Description != "double the product" {
		t.Errorf("description %q", p.Description)
	}
	if out, ok := goCheck(wt)(context.Background()); !ok {
		t.Errorf("the submitted program does not build:\n%s", out)
	}
}

func TestRepairRuntimeCrash(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.02", "new_string", "LearningRate = 0.015"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.015"))),
	)
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	if _, err := l.Propose(context.Background(), req); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	logTail := "step 10 loss 3.2\nstep 11 loss NaN\npanic: loss is NaN at step 11"
	p, err := l.Repair(context.Background(), req, agent.Failure{Kind: "runtime", Output: logTail, Attempt: 1})
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if p.Description != "lr 0.015" || p.ToolCalls != 2 {
		t.Errorf("repair proposal %+v", p)
	}
	reqs := srv.Requests()
	repair := reqs[2]
	if len(repair.Messages) != 2 {
		t.Fatalf("a repair is a fresh conversation; it starts with %d messages", len(repair.Messages))
	}
	u := repair.Messages[1].Content
	for _, want := range []string{`Your change "lr 0.02" crashed while running (repair attempt 1)`, "panic: loss is NaN at step 11", "LearningRate = 0.02"} {
		if !strings.Contains(u, want) {
			t.Errorf("the repair's user message lacks %q:\n%s", want, u)
		}
	}
	if !strings.Contains(repair.Messages[0].Content, "give_up(reason)") {
		t.Errorf("the repair's system message does not offer give_up")
	}
	var phases []string
	for _, e := range transcriptEntries(t, req.TranscriptPath) {
		if e.Kind == "end" {
			phases = append(phases, e.Phase+":"+e.Outcome)
		}
	}
	if !slices.Equal(phases, []string{"propose:submitted", "repair:submitted"}) {
		t.Errorf("transcript steps %v: the repair should append to the proposal's transcript", phases)
	}
}

func TestRepairGiveUp(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))),
		srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "the model cannot fit in memory at this width"))),
	)
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	// A fresh agent (as after a resume) learns the failing change from the loop.
	req.Last = &agent.Outcome{Description: "widen the model to 1024", Status: results.Crash, Crash: "build", LogTail: "gpt/train.go:9:2: undefined: Width"}
	_, err := l.Repair(context.Background(), req, agent.Failure{Kind: "build", Output: "gpt/train.go:9:2: undefined: Width", Attempt: 2})
	if !errors.Is(err, agent.ErrGaveUp) || !strings.Contains(err.Error(), "cannot fit in memory") {
		t.Fatalf("err = %v, want ErrGaveUp with the reason", err)
	}
	if u := srv.Requests()[0].Messages[1].Content; !strings.Contains(u, `Your change "widen the model to 1024" does not build (repair attempt 2)`) || !strings.Contains(u, "undefined: Width") {
		t.Errorf("the repair's user message lacks the compiler output:\n%s", u)
	}
}

func TestTemperatureReachesTheServer(t *testing.T) {
	zero, warm := 0.0, 0.7
	cases := []struct {
		name   string
		temp   *float64
		effort string
		want   string // the raw JSON value, "" for absent
	}{
		{"zero", &zero, "", "0"},
		{"unset", nil, "", ""},
		{"set", &warm, "low", "0.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wt, _ := worktree(t)
			srv := llmtest.NewServer(t)
			srv.SetScript(srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "x"))))
			l, _ := newAgent(t, srv, func(cfg *agent.LLMConfig) { cfg.Temperature, cfg.ReasoningEffort = c.temp, c.effort })
			l.Propose(context.Background(), request(t, wt))
			var body map[string]json.RawMessage
			if err := json.Unmarshal([]byte(srv.RawBodies()[0]), &body); err != nil {
				t.Fatal(err)
			}
			got, ok := body["temperature"]
			if c.want == "" && ok {
				t.Errorf("temperature sent as %s, want it absent", got)
			}
			if c.want != "" && string(got) != c.want {
				t.Errorf("temperature in the body = %q, want %s", got, c.want)
			}
			if effort := string(body["reasoning_effort"]); c.effort != "" && effort != `"`+c.effort+`"` {
				t.Errorf("reasoning_effort = %s", effort)
			}
			if _, ok := body["messages"]; !ok {
				t.Errorf("the rewritten body lost its messages")
			}
		})
	}
}

func TestUnauthorizedIsFatal(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(llmtest.Fail(http.StatusUnauthorized, "Incorrect API key provided", "invalid_api_key"))
	l, sl := newAgent(t, srv, nil)
	_, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrLLMConfig) || errors.Is(err, agent.ErrAbandoned) {
		t.Fatalf("err = %v, want ErrLLMConfig and not ErrAbandoned", err)
	}
	if !strings.Contains(err.Error(), "refused the API key") || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("the error does not name the fix: %v", err)
	}
	if len(sl.all()) != 0 {
		t.Errorf("a 401 was retried")
	}
}

func TestQuotaExhaustedIsFatalNotRetried(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(llmtest.Fail(http.StatusTooManyRequests, "You exceeded your current quota", "insufficient_quota", "Retry-After", "1"))
	l, sl := newAgent(t, srv, nil)
	_, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "quota") {
		t.Fatalf("err = %v, want a quota configuration error", err)
	}
	if len(sl.all()) != 0 {
		t.Errorf("an exhausted quota was retried")
	}
}

func TestContextLengthErrorShrinksTheContext(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		llmtest.Fail(http.StatusBadRequest, "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", "context_length_exceeded"),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	for i := range 30 {
		req.Results = append(req.Results, results.Row{Commit: fmt.Sprintf("c%06d", i), Value: 1 - float64(i)/1000, MemoryGB: 1, Status: results.Discard, Description: fmt.Sprintf("idea number %d", i)})
	}
	req.Results[0].Status = results.Keep
	req.Last = &agent.Outcome{Description: "idea number 29", Status: results.Crash, Crash: "runtime", LogTail: strings.Repeat("noise line\n", 40) + "panic: the real cause"}
	if _, err := l.Propose(context.Background(), req); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	before, after := reqs[0].Messages[1].Content, reqs[1].Messages[1].Content
	if len(after) >= len(before) {
		t.Errorf("the retried context is not smaller: %d bytes, was %d", len(after), len(before))
	}
	if !strings.Contains(before, "The last 20 rows") || !strings.Contains(after, "The last 10 rows") {
		t.Errorf("rows shown did not shrink from 20 to 10")
	}
	if strings.Count(after, "noise line") >= strings.Count(before, "noise line") {
		t.Errorf("the log tail did not shrink")
	}
}

func TestToolCallCapAbandons(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	for range 4 {
		srv.Append(srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))))
	}
	l, _ := newAgent(t, srv, func(c *agent.LLMConfig) { c.MaxToolCalls = 3 })
	p, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrAbandoned) || !strings.Contains(err.Error(), "all 3 tool calls") {
		t.Fatalf("err = %v, want ErrAbandoned at the cap", err)
	}
	if p.ToolCalls != 3 {
		t.Errorf("ToolCalls = %d, want 3", p.ToolCalls)
	}
	if got := lastToolResult(t, srv.Requests()[3]); !strings.Contains(got, "[0 tool calls left in this step: submit soon]") {
		t.Errorf("the model was not warned near the cap: %q", got[max(0, len(got)-80):])
	}
}

func TestTokenCapAbandons(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))))
	l, _ := newAgent(t, srv, func(c *agent.LLMConfig) { c.MaxTokens = 10 })
	p, err := l.Propose(context.Background(), request(t, wt))
	if !errors.Is(err, agent.ErrAbandoned) || !strings.Contains(err.Error(), "the cap is 10") {
		t.Fatalf("err = %v, want ErrAbandoned at the token cap", err)
	}
	if p.PromptTokens == 0 {
		t.Errorf("the spent tokens are not reported with the error")
	}
}

func TestContextCarriesTheHistory(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "x"))))
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	rows := []results.Row{{Commit: "aaaaaaa", Value: 1.0, MemoryGB: 2, Status: results.Keep, Description: "baseline"}}
	for i := 1; i <= 24; i++ {
		r := results.Row{Commit: fmt.Sprintf("%07d", i), Value: 1.01, MemoryGB: 2, Status: results.Discard, Description: fmt.Sprintf("idea %02d", i)}
		switch i {
		case 2:
			r.Status, r.Value, r.Description = results.Keep, 0.99, "halve the batch"
		case 10:
			r.Status, r.Value, r.Description = results.Keep, 0.985, "deeper model"
		case 12:
			r.Status, r.Value, r.MemoryGB = results.Crash, 0, 0
		}
		rows = append(rows, r)
	}
	req.Results = rows
	req.Last = &agent.Outcome{Description: "idea 24", Status: results.Discard, Value: 1.01}
	l.Propose(context.Background(), req)
	u := srv.Requests()[0].Messages[1].Content
	for _, want := range []string{
		"25 experiments: 3 kept, 21 discarded, 1 crashed.",
		`Best val_bpb: 0.985000 (0000010, "deeper model")`,
		"- aaaaaaa 1.000000 (start) baseline",
		"- 0000002 0.990000 (-0.010000) halve the batch",
		"- 0000010 0.985000 (-0.005000) deeper model",
		"The last 20 rows of results.tsv:",
		"0000024\t1.010000\t2.0\tdiscard\tidea 24",
		"Older ideas already tried:\n- baseline (keep)\n- idea 01 (discard)",
		`"idea 24": discard, val_bpb 1.010000`,
		"Experiment 3 on the GPT training program gpt/train.go (profile smoke).",
		"val_bpb (lower is better)",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("the context lacks %q", want)
		}
	}
	if strings.Contains(u, "0000004\t") {
		t.Errorf("row 4 is older than the last 20 rows but shown as a row")
	}
}

// The agent learns what a real gain looks like: the pooled noise and the
// margins a change's mean must beat the best by.
func TestContextShowsTheNoise(t *testing.T) {
	wt, _ := worktree(t)
	for _, c := range []struct {
		noise     float64
		runs      int
		threshold float64
		margins   []float64
		want      string
	}{
		{0.0025, 12, 0.0041, []float64{0.0092, 0.0061, 0.0049, 0.0041}, "Noise: 12 runs of programs measured more than once (the unchanged baseline's among them) put the run-to-run standard deviation of val_bpb at 0.002500. A change whose first run beats the best is trained again, up to 5 runs, and kept as soon as the mean of its runs beats the best by the margin, which counts the best's own runs too: 0.009200 after 2 runs, falling to 0.004100 after 5. Smaller differences are noise: prefer changes that can win by more than 0.004100."},
		{0.0056, 8, 0.0112, []float64{0.0112}, "Noise: 8 runs of programs measured more than once (the unchanged baseline's among them) put the run-to-run standard deviation of val_bpb at 0.005600. A change is kept only when it beats the best by more than 0.011200."},
		{0, 1, 0.002, nil, "A change is kept only when it beats the best by more than 0.002000."},
		{0, 1, 0, nil, ""},
	} {
		srv := llmtest.NewServer(t)
		srv.SetScript(srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "x"))))
		l, _ := newAgent(t, srv, nil)
		req := request(t, wt)
		req.Noise, req.NoiseRuns, req.Threshold, req.Margins = c.noise, c.runs, c.threshold, c.margins
		req.Results = []results.Row{{Commit: "aaaaaaa", Value: 1.0, Status: results.Keep, Description: "baseline"}}
		l.Propose(context.Background(), req)
		u := srv.Requests()[0].Messages[1].Content
		if c.want == "" {
			if strings.Contains(u, "A change is kept") || strings.Contains(u, "Noise:") {
				t.Errorf("without noise or threshold the context speaks of one:\n%s", u)
			}
		} else if !strings.Contains(u, c.want) {
			t.Errorf("the context lacks %q:\n%s", c.want, u)
		}
	}
}

func TestPreflight(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		srv := llmtest.NewServer(t)
		srv.SetScript(srv.Text("ready"))
		l, _ := newAgent(t, srv, nil)
		if err := l.Preflight(context.Background(), nil); err != nil {
			t.Fatalf("Preflight: %v", err)
		}
		if r := srv.Requests()[0]; len(r.Tools) != 6 || r.Model != "test-model" {
			t.Errorf("the preflight request is not like the real ones: %d tools, model %q", len(r.Tools), r.Model)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := llmtest.NewServer(t)
		srv.Close()
		l, _ := newAgent(t, srv, nil)
		err := l.Preflight(context.Background(), nil)
		if !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "cannot reach the LLM endpoint "+srv.URL()) || !strings.Contains(err.Error(), "--base-url") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Fail(http.StatusNotFound, "The model `test-model` does not exist", "model_not_found"))
		srv.SetModels("qwen3-coder", "llama3.3")
		l, _ := newAgent(t, srv, nil)
		err := l.Preflight(context.Background(), nil)
		if !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "the server offers: llama3.3, qwen3-coder") || !strings.Contains(err.Error(), "--model") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad key", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Fail(http.StatusUnauthorized, "invalid key", "invalid_api_key"))
		l, _ := newAgent(t, srv, nil)
		if err := l.Preflight(context.Background(), nil); !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bad parameter", func(t *testing.T) {
		srv := llmtest.NewServer(t, llmtest.Fail(http.StatusBadRequest, "Unsupported value: 'temperature' does not support 0 with this model.", "unsupported_value"))
		l, _ := newAgent(t, srv, func(c *agent.LLMConfig) { z := 0.0; c.Temperature = &z })
		err := l.Preflight(context.Background(), nil)
		if !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "does not support 0") || !strings.Contains(err.Error(), "--temperature") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestPreflightWaitsForABusyEndpoint: transient answers at start are retried
// with the loop's backoff and Retry-After, each retry noted; an endpoint that
// stays busy is reported as overloaded or rate-limited, not misconfigured.
func TestPreflightWaitsForABusyEndpoint(t *testing.T) {
	t.Parallel()
	t.Run("busy, then ready", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.NewServer(t,
			llmtest.Fail(http.StatusServiceUnavailable, "overloaded", ""),
			llmtest.Fail(http.StatusTooManyRequests, "slow down", "rate_limit_exceeded", "Retry-After", "7"))
		srv.Append(srv.Text("ready"))
		l, sl := newAgent(t, srv, nil)
		var notes []string
		err := l.Preflight(context.Background(), func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) })
		if err != nil {
			t.Fatalf("Preflight: %v", err)
		}
		if got, want := sl.all(), []time.Duration{time.Second, 7 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("waits %v, want %v (the backoff, then Retry-After)", got, want)
		}
		if len(notes) != 2 || !strings.Contains(notes[0], "503 Service Unavailable): retry 1 in 1s") ||
			!strings.Contains(notes[1], "429 Too Many Requests): retry 2 in 7s") || !strings.Contains(notes[1], "up to 5m0s; Ctrl-C stops") {
			t.Errorf("notes:\n%s", strings.Join(notes, "\n"))
		}
	})
	busy := func(t *testing.T, step llmtest.Step) ([]time.Duration, int, error) {
		srv := llmtest.NewServer(t)
		for range 30 {
			srv.Append(step)
		}
		l, sl := newAgent(t, srv, nil)
		err := l.Preflight(context.Background(), nil)
		waits := sl.all()
		var total time.Duration
		for _, d := range waits {
			total += d
		}
		if total > agent.PreflightPatience || total < agent.PreflightPatience-time.Minute {
			t.Errorf("waited %s in all, want a little under %s: %v", total, agent.PreflightPatience, waits)
		}
		if n := len(srv.Requests()); n != len(waits)+1 {
			t.Errorf("%d requests for %d waits", n, len(waits))
		}
		if errors.Is(err, agent.ErrLLMConfig) || strings.Contains(err.Error(), "check --model") {
			t.Errorf("a busy endpoint reads as a configuration error: %v", err)
		}
		return waits, len(srv.Requests()), err
	}
	t.Run("overloaded", func(t *testing.T) {
		t.Parallel()
		waits, n, err := busy(t, llmtest.Fail(http.StatusServiceUnavailable, "The engine is currently overloaded", ""))
		if err == nil || !strings.Contains(err.Error(), "is overloaded: 503 (The engine is currently overloaded) in "+fmt.Sprint(n)+" attempts over 4m") ||
			!strings.Contains(err.Error(), "run again later") {
			t.Errorf("err = %v", err)
		}
		if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(waits[:3], want) {
			t.Errorf("waits %v do not follow the backoff", waits)
		}
	})
	t.Run("rate-limited", func(t *testing.T) {
		t.Parallel()
		_, _, err := busy(t, llmtest.Fail(http.StatusTooManyRequests, "Rate limit reached", "rate_limit_exceeded", "Retry-After", "20"))
		if err == nil || !strings.Contains(err.Error(), "is rate-limiting requests") || !strings.Contains(err.Error(), "wait and run again") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no quota is not retried", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.NewServer(t, llmtest.Fail(http.StatusTooManyRequests, "You exceeded your current quota", "insufficient_quota"))
		l, sl := newAgent(t, srv, nil)
		err := l.Preflight(context.Background(), nil)
		if !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "quota") || len(sl.all()) != 0 {
			t.Errorf("err = %v after %d waits", err, len(sl.all()))
		}
	})
}

func TestNewLLMConfigErrors(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	_, err := agent.NewLLM(agent.LLMConfig{})
	if !errors.Is(err, agent.ErrLLMConfig) || !strings.Contains(err.Error(), "set OPENAI_API_KEY") {
		t.Errorf("no key: err = %v", err)
	}
	// A server on loopback (Ollama, vLLM) may need no key.
	if _, err := agent.NewLLM(agent.LLMConfig{BaseURL: "http://localhost:11434/v1"}); err != nil {
		t.Errorf("loopback without a key: %v", err)
	}
	if _, err := agent.NewLLM(agent.LLMConfig{BaseURL: "localhost:8000", APIKey: "k"}); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Errorf("bad URL: err = %v", err)
	}
	hot := 3.0
	if _, err := agent.NewLLM(agent.LLMConfig{APIKey: "k", Temperature: &hot}); err == nil || !strings.Contains(err.Error(), "--temperature 3 is out of range") {
		t.Errorf("bad temperature: err = %v", err)
	}
	t.Setenv("OPENAI_API_KEY", "env-key")
	t.Setenv("OPENAI_BASE_URL", "https://openrouter.example/api/v1/")
	l, err := agent.NewLLM(agent.LLMConfig{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if c := l.Config(); c.APIKey != "env-key" || c.BaseURL != "https://openrouter.example/api/v1" || c.MaxToolCalls != agent.DefaultMaxToolCalls {
		t.Errorf("config from the environment: %+v", c)
	}
	if l.Name() != "llm:m" {
		t.Errorf("Name = %q", l.Name())
	}
}

func TestAddFlags(t *testing.T) {
	parse := func(args ...string) (agent.LLMConfig, error) {
		var c agent.LLMConfig
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		c.AddFlags(fs)
		return c, fs.Parse(args)
	}
	c, err := parse("--temperature", "0", "--model", "qwen3-coder", "--base-url", "http://localhost:8000/v1", "--max-tool-calls", "12", "--max-tokens", "5000")
	if err != nil {
		t.Fatal(err)
	}
	if c.Temperature == nil || *c.Temperature != 0 {
		t.Errorf("--temperature 0 gave %v, want a set 0", c.Temperature)
	}
	if c.Model != "qwen3-coder" || c.BaseURL != "http://localhost:8000/v1" || c.MaxToolCalls != 12 || c.MaxTokens != 5000 {
		t.Errorf("flags parsed to %+v", c)
	}
	c, err = parse()
	if err != nil {
		t.Fatal(err)
	}
	if c.Temperature != nil || c.Model != agent.DefaultLLMModel {
		t.Errorf("defaults: temperature %v, model %q", c.Temperature, c.Model)
	}
	if _, err := parse("--temperature", "warm"); err == nil || !strings.Contains(err.Error(), `not a number: "warm"`) {
		t.Errorf("--temperature warm: err = %v", err)
	}
	if c.MaxToolCalls != agent.DefaultMaxToolCalls || c.MaxTokens != agent.DefaultMaxTokens {
		t.Errorf("defaults: %d tool calls, %d tokens", c.MaxToolCalls, c.MaxTokens)
	}
	// 0 would silently mean the default: it is refused, as are negatives.
	for _, args := range [][]string{{"--max-tool-calls", "0"}, {"--max-tokens", "0"}, {"--max-tool-calls", "-3"}} {
		if _, err := parse(args...); err == nil || !strings.Contains(err.Error(), "give at least 1") {
			t.Errorf("%v: err = %v", args, err)
		}
	}
}

func TestProgramNamesEveryTool(t *testing.T) {
	for _, name := range agent.ToolNames() {
		if !strings.Contains(programs.Default, "`"+name+"(") {
			t.Errorf("programs/program.md does not explain the tool %s", name)
		}
	}
	for _, must := range []string{"val_bpb", "gpt/train.go", "harness/", "internal/", "No new dependencies", "simpler is better", "soft constraint", "Never stop", "think harder"} {
		if !strings.Contains(programs.Default, must) {
			t.Errorf("programs/program.md does not say %q", must)
		}
	}
}

func TestEmptyChoicesAndMissingIDsHandled(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"x","object":"chat.completion","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":0}}`)
		},
		// A server that sends tool calls without ids or type (some do).
		func(w http.ResponseWriter) {
			srv.Reply(w, map[string]any{"role": "assistant", "tool_calls": []any{
				map[string]any{"function": map[string]any{"name": "edit_file", "arguments": `{"path":"gpt/train.go","old_string":"LearningRate = 0.01","new_string":"LearningRate = 0.02"}`}},
			}}, "tool_calls")
		},
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, _ := newAgent(t, srv, nil)
	if _, err := l.Propose(context.Background(), request(t, wt)); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	if last := reqs[1].Messages[len(reqs[1].Messages)-1]; !strings.Contains(last.Content, "Your reply was empty") {
		t.Errorf("after an empty reply: %q", last.Content)
	}
	var asst openai.ChatCompletionMessage
	for _, m := range reqs[2].Messages {
		if m.Role == "assistant" && len(m.ToolCalls) > 0 {
			asst = m
		}
	}
	tool := reqs[2].Messages[len(reqs[2].Messages)-1]
	if asst.ToolCalls[0].ID == "" || asst.ToolCalls[0].Type != "function" || tool.ToolCallID != asst.ToolCalls[0].ID {
		t.Errorf("tool call id/type not filled in: call %+v, result id %q", asst.ToolCalls[0], tool.ToolCallID)
	}
}

func TestCancelledContextStopsAndRestores(t *testing.T) {
	wt, _ := worktree(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		func(w http.ResponseWriter) { cancel(); llmtest.Fail(http.StatusServiceUnavailable, "busy", "")(w) },
	)
	l, _ := newAgent(t, srv, nil)
	_, err := l.Propose(ctx, request(t, wt))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := readFile(t, filepath.Join(wt, "gpt", "train.go")); got != trainGo {
		t.Errorf("an interrupted proposal left its edit behind")
	}
}

func TestReadDirectoryAndWriteFile(t *testing.T) {
	wt, _ := worktree(t)
	if err := os.Mkdir(filepath.Join(wt, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	train := filepath.Join(wt, "gpt", "train.go")
	os.Chmod(train, 0o600)
	rewritten := strings.Replace(trainGo, "Depth        = 4", "Depth        = 6", 1)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "."))),
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "harness/"))),
		srv.Calls(llmtest.Tool("write_file", llmtest.Args("path", "gpt/train.go", "content", "  \n"))),
		srv.Calls(llmtest.Tool("write_file", llmtest.Args("path", "gpt/train.go", "content", rewritten))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "depth 4 -> 6"))),
	)
	l, _ := newAgent(t, srv, nil)
	if _, err := l.Propose(context.Background(), request(t, wt)); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	if got := lastToolResult(t, reqs[1]); got != "directory .:\ngo.mod\ngpt/\nharness/" {
		t.Errorf("listing of the root (without .git): %q", got)
	}
	if got := lastToolResult(t, reqs[2]); got != "directory harness:\nharness.go" {
		t.Errorf("listing of harness/: %q", got)
	}
	if got := lastToolResult(t, reqs[3]); !strings.HasPrefix(got, "error: content is empty") {
		t.Errorf("writing an empty file: %q", got)
	}
	if got := readFile(t, train); got != rewritten {
		t.Errorf("gpt/train.go after write_file:\n%s", got)
	}
	if info, err := os.Stat(train); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("write_file changed the file's mode: %v %v", info.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Join(wt, "gpt")); len(entries) != 2 {
		t.Errorf("gpt/ holds %d entries after the write, want train.go and escape (no temporary file)", len(entries))
	}
}

func TestContextLengthElidesOldToolResults(t *testing.T) {
	wt, _ := worktree(t)
	big := strings.Repeat("a long line of a harness file that the model read once\n", 100)
	if err := os.WriteFile(filepath.Join(wt, "harness", "big.go"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "harness/big.go"))),
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))),
		llmtest.Fail(http.StatusBadRequest, "prompt is too long: 210000 tokens > 200000 maximum", "invalid_request_error"),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
	)
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	if _, err := l.Propose(context.Background(), req); err != nil {
		t.Fatalf("Propose: %v", err)
	}
	reqs := srv.Requests()
	before, after := llmtest.ToolResults(reqs[2]), llmtest.ToolResults(reqs[3])
	if before[0] != big || !strings.HasPrefix(after[0], "[elided to fit") {
		t.Errorf("the old big tool result was not elided: %.60q", after[0])
	}
	if after[1] != trainGo {
		t.Errorf("the latest tool result was elided too")
	}
	if reqs[3].Messages[1].Content != reqs[2].Messages[1].Content {
		t.Errorf("the first message was cut although eliding was enough")
	}
	var shrinks int
	for _, e := range transcriptEntries(t, req.TranscriptPath) {
		if e.Kind == "shrink" {
			shrinks++
		}
	}
	if shrinks != 1 {
		t.Errorf("%d shrink entries in the transcript, want 1", shrinks)
	}
}

func TestPromptShowsHowTrainingWent(t *testing.T) {
	wt, _ := worktree(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "x"))))
	l, _ := newAgent(t, srv, nil)
	req := request(t, wt)
	curve := func(loss float64) []contract.CurvePoint {
		var c []contract.CurvePoint
		for i := 1; i <= 10; i++ {
			c = append(c, contract.CurvePoint{Progress: float64(i) / 10, Step: 10 * i, Loss: loss / float64(i)})
		}
		return c
	}
	req.Last = &agent.Outcome{Description: "double the batch", Status: results.Discard, Value: 0.62,
		Figures: map[string]float64{"num_steps": 31, "tokens_per_sec": 20480, "mfu_percent": 11.5, "peak_rss_mb": 70.2}, Curve: curve(4)}
	req.Best = &agent.Outcome{Description: "baseline", Status: results.Keep, Value: 0.6,
		Figures: map[string]float64{"num_steps": 65, "tokens_per_sec": 21504}, Curve: curve(3),
		LogSection: "Parameters:\n  wte [512 128] adamw"}
	// The task names a section of the log for the agent: the best's is shown
	// under its title.
	req.Task.Prompt.Log = task.Section{Title: "Its parameters", Start: "^Parameters:"}
	l.Propose(context.Background(), req)
	u := srv.Requests()[0].Messages[1].Content
	for _, want := range []string{
		"Budget: 5 s of compute (the program's CPU time over its threads",
		"# Last experiment\n\n\"double the batch\": discard, val_bpb 0.620000\nFigures: num_steps 31, tokens_per_sec 20,480, mfu_percent 11.5, peak_rss_mb 70.2.\n" +
			"Training loss (smoothed) at each tenth of the budget, as share loss @step: 10% 4.000 @10, 20% 2.000 @20,",
		"# Current best\n\n\"baseline\": val_bpb 0.600000\nFigures: num_steps 65, tokens_per_sec 21,504.\n",
		"100% 0.300 @100\n",
		"\nIts parameters:\n```\nParameters:\n  wte [512 128] adamw\n```\n",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("the user message lacks %q:\n%s", want, u)
		}
	}
}
