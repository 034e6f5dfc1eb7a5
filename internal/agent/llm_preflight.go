package agent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sashabaranov/go-openai"
)

// Preflight checks, before any experiment starts, that the endpoint answers,
// accepts the key, and takes a request like the real ones (the model, the
// tools, the temperature and reasoning effort): one tiny chat completion. A
// failure wraps ErrLLMConfig and says what to fix; a 404 lists the models
// the server does offer.
func (l *LLM) Preflight(ctx context.Context) error {
	client := l.client(nil, preflightMaxRetries)
	_, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: l.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "This request only checks that the endpoint works."},
			{Role: openai.ChatMessageRoleUser, Content: "Reply with the single word: ready"},
		},
		Tools: llmTools(),
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	status, _, msg := apiErrorParts(err)
	if status == 0 {
		return fmt.Errorf("%w: cannot reach the LLM endpoint %s: %v: check --base-url or %s, and that the server is running", ErrLLMConfig, l.cfg.BaseURL, err, EnvOpenAIBaseURL)
	}
	if kind, ferr := l.classify(err); kind == errFatal {
		if status == 404 {
			if ids := l.listModels(ctx); ids != "" {
				return fmt.Errorf("%w (the server offers: %s)", ferr, ids)
			}
		}
		return ferr
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
