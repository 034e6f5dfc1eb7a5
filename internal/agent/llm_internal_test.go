package agent

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header, value string
		want          time.Duration
		ok            bool
	}{
		{"Retry-After", "7", 7 * time.Second, true},
		{"Retry-After", "0.5", 500 * time.Millisecond, true},
		{"Retry-After", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Retry-After", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"Retry-After-Ms", "250", 250 * time.Millisecond, true},
		{"Retry-After", "soon", 0, false},
		{"X-Other", "3", 0, false},
	}
	for _, c := range cases {
		h := http.Header{}
		h.Set(c.header, c.value)
		got, ok := retryAfter(h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %s -> %v, %v; want %v, %v", c.header, c.value, got, ok, c.want, c.ok)
		}
	}
}

func TestContextLengthWordings(t *testing.T) {
	for _, msg := range []string{
		"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", // OpenAI, vLLM
		"prompt is too long: 210000 tokens > 200000 maximum",                                                      // Anthropic
		"Input is too long for requested model.",                                                                  // Bedrock-style proxies
		"context_length_exceeded",
	} {
		if !isContextLength(strings.ToLower(msg)) {
			t.Errorf("not recognised as a context-length error: %q", msg)
		}
	}
	for _, msg := range []string{"Invalid value for 'temperature'", "rate limit reached"} {
		if isContextLength(strings.ToLower(msg)) {
			t.Errorf("wrongly taken for a context-length error: %q", msg)
		}
	}
}

func TestTailCutsAtALineStart(t *testing.T) {
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("gpt/train.go:%d:1: error number %d", i, i))
	}
	out := strings.Join(lines, "\n")
	got := tail(out, 2000)
	if len(got) > 2000+len("[... earlier output cut]\n") {
		t.Errorf("tail kept %d bytes", len(got))
	}
	rest := strings.TrimPrefix(got, "[... earlier output cut]\n")
	if rest == got || !strings.HasPrefix(rest, "gpt/train.go:") || !strings.HasSuffix(rest, "error number 999") {
		t.Errorf("tail did not keep whole last lines: %.80q ... %.40q", got, got[len(got)-40:])
	}
	if short := "ok\n"; tail(short, 2000) != short {
		t.Errorf("a short output was changed")
	}
}
