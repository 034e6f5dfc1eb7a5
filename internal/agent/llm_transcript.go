package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// TranscriptEntry is one line of a transcript file (JSON lines). A proposal
// and its repairs append to the same file; Phase tells them apart.
//
// Kinds: "message" (a system, user or assistant message; assistant messages
// carry their tool calls and the reply's usage), "tool_result" (what a tool
// call returned), "retry" (a request repeated after a network error, 429 or
// 5xx), "shrink" (the context was cut after a context-length error), "error"
// (a request that failed for good), "end" (how the step finished, with its
// totals).
type TranscriptEntry struct {
	Time  time.Time `json:"time"`
	N     int       `json:"n"`
	Phase string    `json:"phase"` // propose or repair
	Kind  string    `json:"kind"`

	Role         string               `json:"role,omitempty"`
	Content      string               `json:"content,omitempty"`
	Reasoning    string               `json:"reasoning,omitempty"`
	ToolCalls    []TranscriptToolCall `json:"tool_calls,omitempty"`
	FinishReason string               `json:"finish_reason,omitempty"`
	Model        string               `json:"model,omitempty"`

	ToolCallID string `json:"tool_call_id,omitempty"`
	Tool       string `json:"tool,omitempty"`
	IsError    bool   `json:"is_error,omitempty"`

	Attempt int     `json:"attempt,omitempty"`
	WaitS   float64 `json:"wait_s,omitempty"`
	Level   int     `json:"level,omitempty"`
	Error   string  `json:"error,omitempty"`

	// Totals of the step so far (on messages: of this reply).
	PromptTokens     int `json:"prompt_tokens,omitempty"`
	CompletionTokens int `json:"completion_tokens,omitempty"`
	ToolCallCount    int `json:"tool_call_count,omitempty"`

	Outcome     string  `json:"outcome,omitempty"` // submitted, gave_up, abandoned, failed
	Description string  `json:"description,omitempty"`
	Seconds     float64 `json:"seconds,omitempty"`
}

// TranscriptToolCall is one tool call as the model made it.
type TranscriptToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// transcript appends entries to a file. Writing starts at the first entry; the
// first error stops further writes and is kept for close to report.
type transcript struct {
	path  string
	n     int
	phase string
	f     *os.File
	enc   *json.Encoder
	err   error
	now   func() time.Time
}

func newTranscript(path string, n int, phase string) *transcript {
	return &transcript{path: path, n: n, phase: phase, now: time.Now}
}

func (t *transcript) add(e TranscriptEntry) {
	if t.path == "" || t.err != nil {
		return
	}
	if t.f == nil {
		if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
			t.err = fmt.Errorf("llm agent: transcript: %w", err)
			return
		}
		f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.err = fmt.Errorf("llm agent: transcript: %w", err)
			return
		}
		t.f, t.enc = f, json.NewEncoder(f)
		t.enc.SetEscapeHTML(false)
	}
	e.Time, e.N, e.Phase = t.now().UTC(), t.n, t.phase
	if err := t.enc.Encode(e); err != nil {
		t.err = fmt.Errorf("llm agent: writing transcript %s: %w", t.path, err)
	}
}

// close flushes the file to disk and returns the first error of the
// transcript's life.
func (t *transcript) close() error {
	if t.f == nil {
		return t.err
	}
	if err := t.f.Sync(); err != nil && t.err == nil {
		t.err = fmt.Errorf("llm agent: flushing transcript %s: %w", t.path, err)
	}
	if err := t.f.Close(); err != nil && t.err == nil {
		t.err = fmt.Errorf("llm agent: closing transcript %s: %w", t.path, err)
	}
	t.f = nil
	return t.err
}
