package agent

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"
)

// PreflightPatience bounds how long Preflight retries an endpoint that is
// busy (network errors, timeouts, 408, 409, 429 and 5xx), with the same
// backoff and Retry-After handling as every later request.
const PreflightPatience = 5 * time.Minute

// Preflight checks, before any experiment starts, that the endpoint answers,
// accepts the key, and takes a request like the real ones (the model, the
// tools, the temperature and reasoning effort): one tiny chat completion.
// Transient failures are retried for up to PreflightPatience, each retry
// told to note (which may be nil). A configuration failure wraps
// ErrLLMConfig and says what to fix; a 404 lists the models the server does
// offer. An endpoint still busy at the end is reported as overloaded or
// rate-limited, not as a configuration error.
func (l *LLM) Preflight(ctx context.Context, note func(format string, args ...any)) error {
	start := time.Now()
	retries, waited := 0, time.Duration(0)
	onRetry := func(e retryEvent) {
		retries, waited = e.Attempt, waited+e.Wait
		if note != nil {
			note("LLM endpoint %s did not take the test request (%s): retry %d in %s (it is given up to %s; Ctrl-C stops)",
				l.cfg.BaseURL, e.Reason, e.Attempt, e.Wait.Round(100*time.Millisecond), PreflightPatience)
		}
	}
	t := l.transport(onRetry, 0)
	t.patience = PreflightPatience
	_, err := openai.NewClientWithConfig(l.clientConfig(t)).CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: l.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "This request only checks that the endpoint works."},
			{Role: openai.ChatMessageRoleUser, Content: "Reply with the single word: ready"},
		},
		Tools: llmTools("main.go"),
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	tried := ""
	if retries > 0 {
		tried = fmt.Sprintf(" in %d attempts over %s", retries+1, max(time.Since(start), waited).Round(time.Second))
	}
	status, _, msg := apiErrorParts(err)
	if status == 0 {
		return fmt.Errorf("%w: cannot reach the LLM endpoint %s%s: %v: check --base-url or %s, and that the server is running", ErrLLMConfig, l.cfg.BaseURL, tried, err, EnvOpenAIBaseURL)
	}
	if kind, ferr := l.classify(err); kind == errFatal {
		if status == 404 {
			if ids := l.listModels(ctx); ids != "" {
				return fmt.Errorf("%w (the server offers: %s)", ferr, ids)
			}
		}
		return ferr
	}
	switch {
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("the LLM endpoint %s is rate-limiting requests: %d (%s)%s; the configuration is fine: wait and run again, or use a key or model with a higher limit", l.cfg.BaseURL, status, msg, tried)
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusConflict:
		return fmt.Errorf("the LLM endpoint %s is overloaded: %d (%s)%s; the configuration is fine: run again later, or use another --base-url", l.cfg.BaseURL, status, msg, tried)
	}
	return fmt.Errorf("%w: the LLM endpoint %s refused a test request for model %q (%d: %s): check --model, --temperature and --reasoning-effort", ErrLLMConfig, l.cfg.BaseURL, l.cfg.Model, status, msg)
}

// listModels returns up to 20 model ids the server lists, or "" when it
// lists none.
func (l *LLM) listModels(ctx context.Context) string {
	list, err := l.client(nil, 0).ListModels(ctx)
	if err != nil || len(list.Models) == 0 {
		return ""
	}
	var ids []string
	for _, m := range list.Models {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	more := ""
	if len(ids) > 20 {
		more = fmt.Sprintf(" and %d more", len(ids)-20)
		ids = ids[:20]
	}
	return strings.Join(ids, ", ") + more
}
