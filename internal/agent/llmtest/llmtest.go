// Package llmtest is an OpenAI-compatible chat server for tests: it runs on
// loopback (net/http/httptest), answers each chat completion with the next
// step of a script, and records every request, so that tests drive the real
// LLM agent and its real HTTP client end to end.
//
// A step is one answer: tool calls (Calls), plain text (Text), an HTTP error
// with headers (Fail), or a dropped connection (HangUp). Usage is reported the
// way a server would count it, about one token per 4 bytes of the request and
// of the reply, and summed in Reported for comparison with the agent's totals.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sashabaranov/go-openai"
)

// Key is the API key the server expects as a Bearer token.
const Key = "test-key"

// Step is one scripted answer to one chat request.
type Step func(w http.ResponseWriter)

// Usage is a sum of reported token counts.
type Usage struct{ Prompt, Completion int }

// Server is the scripted chat server.
type Server struct {
	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	script   []Step
	bodies   [][]byte
	models   []string
	prompt   int // prompt tokens of the request being answered
	reported Usage
	replies  []Usage // what each reply reported, in order
}

// NewServer starts a server that plays script; it stops when the test ends.
func NewServer(t testing.TB, script ...Step) *Server {
	t.Helper()
	s := &Server{t: t, script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL of the API, ending in /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Close stops the server now (to test an unreachable endpoint).
func (s *Server) Close() { s.srv.Close() }

// SetScript replaces the steps still to come.
func (s *Server) SetScript(script ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = script
}

// Append adds steps after those still to come.
func (s *Server) Append(script ...Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, script...)
}

// SetModels sets what GET /v1/models lists.
func (s *Server) SetModels(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = ids
}

// Remaining is the number of steps not played yet.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		if len(r.TransferEncoding) > 0 || r.ContentLength > 0 {
			s.t.Errorf("GET /v1/models came with a body (%v, %d bytes)", r.TransferEncoding, r.ContentLength)
		}
		s.mu.Lock()
		data := []map[string]any{}
		for _, m := range s.models {
			data = append(data, map[string]any{"id": m, "object": "model"})
		}
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
		return
	case r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions":
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+Key {
		s.t.Errorf("Authorization header = %q, want the Bearer key", got)
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	n := len(s.bodies)
	var next Step
	if len(s.script) > 0 {
		next, s.script = s.script[0], s.script[1:]
	}
	s.prompt = len(body) / 4
	s.mu.Unlock()
	if next == nil {
		s.t.Errorf("chat request %d came after the end of the script", n)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"script exhausted","type":"invalid_request_error"}}`)
		return
	}
	next(w)
}

// Requests returns the chat requests received so far, decoded.
func (s *Server) Requests() []openai.ChatCompletionRequest {
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

// RawBodies returns every chat request body as sent.
func (s *Server) RawBodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.bodies {
		out = append(out, string(b))
	}
	return out
}

// Reported is the usage the server has reported in its replies so far.
func (s *Server) Reported() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reported
}

// Replies returns the usage each reply reported, in order (error steps
// report none and are not listed).
func (s *Server) Replies() []Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Usage(nil), s.replies...)
}

// Call is one tool call of a scripted reply. Args is marshalled to JSON,
// except a string, which is sent as is (to script malformed arguments).
type Call struct {
	Name string
	Args any
}

// Tool makes a Call.
func Tool(name string, args any) Call { return Call{Name: name, Args: args} }

// Args makes tool arguments from key, value pairs.
func Args(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Calls answers with the given tool calls.
func (s *Server) Calls(calls ...Call) Step {
	return func(w http.ResponseWriter) {
		var tcs []map[string]any
		for i, c := range calls {
			a, ok := c.Args.(string)
			if !ok {
				b, _ := json.Marshal(c.Args)
				a = string(b)
			}
			tcs = append(tcs, map[string]any{"id": fmt.Sprintf("call_%d", i), "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": a}})
		}
		s.Reply(w, map[string]any{"role": "assistant", "tool_calls": tcs}, "tool_calls")
	}
}

// Text answers with plain text and no tool call.
func (s *Server) Text(content string) Step {
	return func(w http.ResponseWriter) {
		s.Reply(w, map[string]any{"role": "assistant", "content": content}, "stop")
	}
}

// Reply writes a chat completion holding msg as its one choice, with usage.
func (s *Server) Reply(w http.ResponseWriter, msg map[string]any, finish string) {
	b, _ := json.Marshal(msg)
	s.mu.Lock()
	prompt, completion := s.prompt, len(b)/4
	s.reported.Prompt += prompt
	s.reported.Completion += completion
	s.replies = append(s.replies, Usage{prompt, completion})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "test-model",
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

// Fail answers with an HTTP error status, an OpenAI-style JSON error body,
// and headers given as name, value pairs.
func Fail(code int, message, errCode string, headers ...string) Step {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": message, "type": "test_error", "code": errCode}})
	}
}

// HangUp closes the connection without an answer: a network error.
func HangUp(t testing.TB) Step {
	return func(w http.ResponseWriter) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}
}

// ToolResults returns the tool messages of a request, in order.
func ToolResults(r openai.ChatCompletionRequest) []string {
	var out []string
	for _, m := range r.Messages {
		if m.Role == openai.ChatMessageRoleTool {
			out = append(out, m.Content)
		}
	}
	return out
}
