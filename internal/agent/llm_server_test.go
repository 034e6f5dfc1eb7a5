package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"autoresearch/internal/agent"
)

// step is one scripted answer of the fake server to one chat request.
type step func(w http.ResponseWriter)

// chatServer is an OpenAI-compatible server on loopback that answers chat
// completions from a script, in order, and records every request body.
type chatServer struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	script []step
	bodies [][]byte
	models []string // what GET /v1/models lists
	// prompt is the prompt tokens of the request being answered, counted the
	// way a server would: roughly a token per 4 bytes.
	prompt        int
	reportedUsage reported
}

func newChatServer(t testing.TB, script ...step) *chatServer {
	t.Helper()
	s := &chatServer{t: t, script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *chatServer) url() string { return s.srv.URL + "/v1" }

func (s *chatServer) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		if len(r.TransferEncoding) > 0 || r.ContentLength > 0 {
			s.t.Errorf("GET /v1/models came with a body (%v, %d bytes)", r.TransferEncoding, r.ContentLength)
		}
		var data []map[string]any
		for _, m := range s.models {
			data = append(data, map[string]any{"id": m, "object": "model"})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions":
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer test-key" {
		s.t.Errorf("Authorization header = %q, want the Bearer key", got)
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	n := len(s.bodies)
	var next step
	if len(s.script) > 0 {
		next, s.script = s.script[0], s.script[1:]
	}
	s.prompt = len(body) / 4
	s.mu.Unlock()
	if next == nil {
		s.t.Errorf("request %d came after the end of the script", n)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"script exhausted","type":"invalid_request_error"}}`)
		return
	}
	next(w)
}

// setScript replaces the steps still to come.
func (s *chatServer) setScript(script ...step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = script
}

// requests returns the chat requests received so far, decoded.
func (s *chatServer) requests() []openai.ChatCompletionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []openai.ChatCompletionRequest
	for _, b := range s.bodies {
		var r openai.ChatCompletionRequest
		if err := json.Unmarshal(b, &r); err != nil {
			s.t.Fatalf("request body is not a chat request: %v\n%s", err, b)
		}
		out = append(out, r)
	}
	return out
}

// rawBodies returns every request body as sent.
func (s *chatServer) rawBodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.bodies {
		out = append(out, string(b))
	}
	return out
}

// remaining is the number of script steps not yet used.
func (s *chatServer) remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

// tc is one tool call of a scripted reply; args is marshalled to JSON unless
// it is a string, which is sent as is (to script malformed arguments).
type tc struct {
	name string
	args any
}

func args(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// calls answers with the given tool calls.
func (s *chatServer) calls(calls ...tc) step {
	return func(w http.ResponseWriter) {
		var tcs []map[string]any
		for i, c := range calls {
			a, ok := c.args.(string)
			if !ok {
				b, _ := json.Marshal(c.args)
				a = string(b)
			}
			tcs = append(tcs, map[string]any{"id": fmt.Sprintf("call_%d", i), "type": "function",
				"function": map[string]any{"name": c.name, "arguments": a}})
		}
		s.reply(w, map[string]any{"role": "assistant", "tool_calls": tcs}, "tool_calls")
	}
}

// text answers with plain text and no tool call.
func (s *chatServer) text(content string) step {
	return func(w http.ResponseWriter) {
		s.reply(w, map[string]any{"role": "assistant", "content": content}, "stop")
	}
}

func (s *chatServer) reply(w http.ResponseWriter, msg map[string]any, finish string) {
	b, _ := json.Marshal(msg)
	s.mu.Lock()
	prompt, completion := s.prompt, len(b)/4
	s.reportedUsage.prompt += prompt
	s.reportedUsage.completion += completion
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "test-model",
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

// reported is the usage the server has reported in its replies.
type reported struct{ prompt, completion int }

func (s *chatServer) reported() reported {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reportedUsage
}

// fail answers with an HTTP error status, a JSON error body and headers
// given as name, value pairs.
func fail(code int, message, errCode string, headers ...string) step {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": message, "type": "test_error", "code": errCode}})
	}
}

// hangUp closes the connection without an answer: a network error.
func hangUp(t *testing.T) step {
	return func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}
}

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

// goCheck is a real Check: go build of ./gpt in the worktree.
func goCheck(wt string) func(context.Context) (string, bool) {
	return func(ctx context.Context) (string, bool) {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", os.DevNull, "./gpt")
		cmd.Dir = wt
		out, err := cmd.CombinedOutput()
		return string(out), err == nil
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
func newAgent(t testing.TB, srv *chatServer, edit func(*agent.LLMConfig)) (*agent.LLM, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	cfg := agent.LLMConfig{Model: "test-model", BaseURL: srv.url(), APIKey: "test-key", Sleep: sl.sleep}
	if edit != nil {
		edit(&cfg)
	}
	l, err := agent.NewLLM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, sl
}

// request is a Request on the worktree with a real go build as Check and a
// transcript in the test's temp dir.
func request(t testing.TB, wt string) agent.Request {
	return agent.Request{
		N:              3,
		Program:        "PROGRAM: lower val_bpb.",
		Worktree:       wt,
		EditablePaths:  []string{"gpt/train.go"},
		Metric:         "val_bpb",
		LowerIsBetter:  true,
		Profile:        "smoke",
		Device:         "cpu (2 cores)",
		Budget:         5,
		Check:          goCheck(wt),
		TranscriptPath: filepath.Join(t.TempDir(), "transcripts", "3.jsonl"),
	}
}

// toolResults returns the tool messages of a request, in order.
func toolResults(r openai.ChatCompletionRequest) []string {
	var out []string
	for _, m := range r.Messages {
		if m.Role == openai.ChatMessageRoleTool {
			out = append(out, m.Content)
		}
	}
	return out
}

// lastToolResult returns the last tool message of a request.
func lastToolResult(t *testing.T, r openai.ChatCompletionRequest) string {
	t.Helper()
	res := toolResults(r)
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
