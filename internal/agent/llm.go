package agent

// The LLM agent. Terms used in this file:
//
//   - step: one Propose or one Repair call. Each step is a fresh conversation
//     (system: program + protocol; user: the run's context), bounded by
//     LLMConfig.MaxToolCalls and MaxTokens.
//   - nudge: the message sent back when a reply calls no tool (empty, plain
//     text, refused, or cut off). After MaxNudges of them the step is
//     abandoned.
//   - shrink: what a context-length error from the server triggers: old tool
//     results are elided, then the first user message is rebuilt with less
//     history (detailLevels), and the request is repeated.
//   - fatal: an error no retry can fix (bad key, unknown model, no quota). It
//     wraps ErrLLMConfig and should stop the loop; every other failure wraps
//     ErrAbandoned or ErrGaveUp and the loop goes on.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"
)

// LLM is the Proposer that asks a chat model, through tool calls, to edit the
// training program.
type LLM struct {
	cfg LLMConfig
	// proposed is the description of the last successful Propose, shown to
	// the model when the same change comes back for Repair.
	proposed string
}

// NewLLM returns the LLM agent for cfg, with the key and base URL taken from
// OPENAI_API_KEY and OPENAI_BASE_URL where cfg leaves them empty. It fails
// with a message naming the fix when the configuration cannot work; it does
// not contact the server (see Preflight).
func NewLLM(cfg LLMConfig) (*LLM, error) {
	c, err := cfg.resolve(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLLMConfig, err)
	}
	return &LLM{cfg: c}, nil
}

// Name is "llm:" and the model.
func (l *LLM) Name() string { return "llm:" + l.cfg.Model }

// Config returns the resolved configuration (the key included).
func (l *LLM) Config() LLMConfig { return l.cfg }

// Propose runs one conversation that ends with an edited, building program
// and its description. On any error the editable files are restored.
func (l *LLM) Propose(ctx context.Context, req Request) (Proposal, error) {
	p, err := l.step(ctx, req, nil)
	if err == nil {
		l.proposed = p.Description
	}
	return p, err
}

// Repair shows the model the failure and lets it fix the change (edit, check,
// submit) or give it up (an error wrapping ErrGaveUp).
func (l *LLM) Repair(ctx context.Context, req Request, f Failure) (Proposal, error) {
	p, err := l.step(ctx, req, &f)
	if err == nil {
		l.proposed = p.Description
	}
	return p, err
}

func (l *LLM) client(onRetry func(retryEvent), maxRetries int) *openai.Client {
	return openai.NewClientWithConfig(l.clientConfig(l.transport(onRetry, maxRetries)))
}

// transport is the retrying HTTP client of l's requests.
func (l *LLM) transport(onRetry func(retryEvent), maxRetries int) *llmTransport {
	return &llmTransport{
		client:          l.cfg.HTTPClient,
		temperature:     l.cfg.Temperature,
		reasoningEffort: l.cfg.ReasoningEffort,
		maxRetries:      maxRetries,
		timeout:         l.cfg.RequestTimeout,
		sleep:           l.cfg.Sleep,
		onRetry:         onRetry,
	}
}

func (l *LLM) clientConfig(t *llmTransport) openai.ClientConfig {
	cc := openai.DefaultConfig(l.cfg.APIKey)
	cc.BaseURL = l.cfg.BaseURL
	cc.HTTPClient = t
	return cc
}

// conversation is the state of one step.
type conversation struct {
	l        *LLM
	req      Request
	failure  *Failure
	ws       *editRoot
	tr       *transcript
	files    map[string]string // the editable files when the step began
	messages []openai.ChatCompletionMessage
	level    int
	prop     Proposal
	nudges   int
	ids      int    // tool-call ids made up for servers that send none
	proposed string // a repair: the description of the change that failed
}

func (l *LLM) step(ctx context.Context, req Request, failure *Failure) (prop Proposal, err error) {
	start := time.Now()
	phase := "propose"
	if failure != nil {
		phase = "repair"
	}
	ws, err := openEditRoot(req.Worktree, req.Task.Editable, req.Check)
	if err != nil {
		return Proposal{}, err
	}
	defer ws.Close()
	c := &conversation{l: l, req: req, failure: failure, ws: ws, tr: newTranscript(req.TranscriptPath, req.N, phase), files: map[string]string{}}
	for p, b := range ws.base {
		c.files[p] = string(b)
	}
	if failure != nil {
		// The loop's own record of the failing change wins over the memory
		// of the last proposal (they differ after a resume).
		c.proposed = l.proposed
		if req.Last != nil && req.Last.Description != "" {
			c.proposed = req.Last.Description
		}
	}
	defer func() {
		prop.PromptTokens, prop.CompletionTokens, prop.ToolCalls = c.prop.PromptTokens, c.prop.CompletionTokens, c.prop.ToolCalls
		end := TranscriptEntry{Kind: "end", Outcome: "submitted", Description: prop.Description,
			PromptTokens: prop.PromptTokens, CompletionTokens: prop.CompletionTokens, ToolCallCount: prop.ToolCalls,
			Seconds: time.Since(start).Seconds()}
		if err != nil {
			end.Outcome, end.Error = "failed", err.Error()
			switch {
			case errors.Is(err, ErrGaveUp):
				end.Outcome = "gave_up"
			case errors.Is(err, ErrAbandoned):
				end.Outcome = "abandoned"
			}
			if rerr := ws.restore(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("llm agent: restoring %s: %w", strings.Join(ws.editable, ", "), rerr))
			}
		}
		c.tr.add(end)
		if terr := c.tr.close(); terr != nil && err == nil {
			err = terr
		}
	}()
	return c.run(ctx)
}

func (c *conversation) run(ctx context.Context) (Proposal, error) {
	cfg := c.l.cfg
	client := c.l.client(c.logRetry, cfg.MaxRetries)
	c.messages = []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: systemPrompt(c.req, cfg, c.failure != nil)},
		{Role: openai.ChatMessageRoleUser, Content: userPrompt(c.req, c.files, 0, c.failure, c.proposed)},
	}
	for _, m := range c.messages {
		c.tr.add(TranscriptEntry{Kind: "message", Role: m.Role, Content: m.Content})
	}
	tools := llmTools(c.ws.editable[0])
	for {
		if c.prop.PromptTokens+c.prop.CompletionTokens >= cfg.MaxTokens {
			return c.prop, fmt.Errorf("%w: used %d tokens (the cap is %d) without submitting", ErrAbandoned, c.prop.PromptTokens+c.prop.CompletionTokens, cfg.MaxTokens)
		}
		resp, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: cfg.Model, Messages: c.messages, Tools: tools})
		if err != nil {
			if ctx.Err() != nil {
				return c.prop, ctx.Err()
			}
			c.tr.add(TranscriptEntry{Kind: "error", Error: err.Error()})
			kind, ferr := c.l.classify(err)
			switch kind {
			case errContextLength:
				if c.shrink() {
					continue
				}
				return c.prop, fmt.Errorf("%w: the context does not fit the model even at the smallest size: %v", ErrAbandoned, err)
			case errFatal:
				return c.prop, ferr
			}
			return c.prop, fmt.Errorf("%w: the LLM request failed: %v", ErrAbandoned, err)
		}
		c.prop.PromptTokens += resp.Usage.PromptTokens
		c.prop.CompletionTokens += resp.Usage.CompletionTokens
		if len(resp.Choices) == 0 {
			c.tr.add(TranscriptEntry{Kind: "message", Role: openai.ChatMessageRoleAssistant, Model: resp.Model,
				PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens})
			if err := c.nudge("Your reply was empty."); err != nil {
				return c.prop, err
			}
			continue
		}
		choice := resp.Choices[0]
		msg := choice.Message
		c.fixToolCalls(&msg)
		entry := TranscriptEntry{Kind: "message", Role: openai.ChatMessageRoleAssistant, Content: msg.Content, Reasoning: msg.ReasoningContent,
			FinishReason: string(choice.FinishReason), Model: resp.Model,
			PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens}
		if msg.Refusal != "" {
			entry.Content = strings.TrimSpace(msg.Content + "\n[refusal] " + msg.Refusal)
		}
		for _, tc := range msg.ToolCalls {
			entry.ToolCalls = append(entry.ToolCalls, TranscriptToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		c.tr.add(entry)
		// Reasoning text and refusals stay out of the history: several servers
		// reject reasoning_content in requests, and an assistant message with
		// neither content nor tool calls.
		if msg.Content != "" || len(msg.ToolCalls) > 0 {
			c.messages = append(c.messages, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: msg.Content, ToolCalls: msg.ToolCalls})
		}

		if len(msg.ToolCalls) == 0 {
			var why string
			switch {
			case msg.Refusal != "" || choice.FinishReason == openai.FinishReasonContentFilter:
				why = "Your reply was a refusal. This is legitimate machine-learning research: tuning a small language model's training program on public text."
			case choice.FinishReason == openai.FinishReasonLength:
				why = "Your reply was cut off by the length limit before it called a tool. Be brief."
			case strings.TrimSpace(msg.Content) == "":
				why = "Your reply was empty."
			default:
				why = "Your reply called no tool, so it had no effect."
			}
			if err := c.nudge(why); err != nil {
				return c.prop, err
			}
			continue
		}
		for _, tc := range msg.ToolCalls {
			if c.prop.ToolCalls >= cfg.MaxToolCalls {
				return c.prop, fmt.Errorf("%w: used all %d tool calls without submitting", ErrAbandoned, cfg.MaxToolCalls)
			}
			c.prop.ToolCalls++
			out := c.ws.exec(ctx, tc.Function.Name, tc.Function.Arguments)
			if ctx.Err() != nil {
				return c.prop, ctx.Err()
			}
			content := out.content
			if left := cfg.MaxToolCalls - c.prop.ToolCalls; left <= 3 && out.submit == "" && out.giveUp == "" {
				content += fmt.Sprintf("\n[%d tool calls left in this step: submit soon]", left)
			}
			c.tr.add(TranscriptEntry{Kind: "tool_result", ToolCallID: tc.ID, Tool: tc.Function.Name, Content: content, IsError: out.isError})
			c.messages = append(c.messages, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: tc.ID, Content: content})
			switch {
			case out.submit != "":
				c.prop.Description = out.submit
				return c.prop, nil
			case out.giveUp != "" && c.failure != nil:
				return c.prop, fmt.Errorf("%w: %s", ErrGaveUp, out.giveUp)
			case out.giveUp != "":
				return c.prop, fmt.Errorf("%w: the model gave up: %s", ErrAbandoned, out.giveUp)
			}
		}
	}
}

// nudge asks for a tool call after a reply without one, or abandons the step
// when the model has been nudged MaxNudges times already.
func (c *conversation) nudge(why string) error {
	c.nudges++
	if c.nudges > c.l.cfg.MaxNudges {
		return fmt.Errorf("%w: %d replies without a tool call", ErrAbandoned, c.nudges)
	}
	text := why + " Act through the tools only: read_file, edit_file, write_file, check, then submit(description)."
	if c.failure != nil {
		text += " If the idea cannot work, call give_up(reason)."
	}
	c.tr.add(TranscriptEntry{Kind: "message", Role: openai.ChatMessageRoleUser, Content: text})
	c.messages = append(c.messages, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: text})
	return nil
}

// fixToolCalls fills in what some compatible servers leave out: call ids and
// the type, both required when the calls are sent back.
func (c *conversation) fixToolCalls(m *openai.ChatCompletionMessage) {
	for i := range m.ToolCalls {
		tc := &m.ToolCalls[i]
		if tc.ID == "" {
			c.ids++
			tc.ID = fmt.Sprintf("call_%d", c.ids)
		}
		if tc.Type == "" {
			tc.Type = openai.ToolTypeFunction
		}
		tc.Index = nil
	}
}

// shrink makes the next request smaller after a context-length error: first
// by eliding earlier tool results (file reads, compiler output), then by
// rebuilding the first user message with less history, and last by eliding
// the latest tool result too. It reports false when nothing is left to cut.
func (c *conversation) shrink() bool {
	elide := func(keepLast bool) int {
		last := -1
		for i, m := range c.messages {
			if m.Role == openai.ChatMessageRoleTool {
				last = i
			}
		}
		n := 0
		for i := range c.messages {
			m := &c.messages[i]
			if m.Role != openai.ChatMessageRoleTool || len(m.Content) <= 2000 || (keepLast && i == last) {
				continue
			}
			m.Content = elidedToolResultMarker
			n++
		}
		return n
	}
	if n := elide(true); n > 0 {
		c.tr.add(TranscriptEntry{Kind: "shrink", Level: c.level, Content: fmt.Sprintf("elided %d earlier tool results", n)})
		return true
	}
	if c.level+1 < len(detailLevels) {
		c.level++
		c.messages[1].Content = userPrompt(c.req, c.files, c.level, c.failure, c.proposed)
		c.tr.add(TranscriptEntry{Kind: "shrink", Level: c.level, Content: c.messages[1].Content})
		return true
	}
	if n := elide(false); n > 0 {
		c.tr.add(TranscriptEntry{Kind: "shrink", Level: c.level, Content: "elided the latest tool result"})
		return true
	}
	return false
}

func (c *conversation) logRetry(e retryEvent) {
	c.tr.add(TranscriptEntry{Kind: "retry", Attempt: e.Attempt, WaitS: e.Wait.Seconds(), Error: e.Reason})
	// A server that went away would otherwise look like a hung "proposing".
	if c.req.Note != nil {
		c.req.Note("LLM request failed (%s): retry %d of %d in %s", e.Reason, e.Attempt, c.l.cfg.MaxRetries, e.Wait.Round(time.Second))
	}
}

type errKind int

const (
	errOther errKind = iota
	errContextLength
	errFatal
)

// classify sorts a failed request. For a fatal one it returns the error to
// show the user, wrapping ErrLLMConfig and naming the fix.
func (l *LLM) classify(err error) (errKind, error) {
	status, code, msg := apiErrorParts(err)
	lower := strings.ToLower(msg + " " + code)
	switch {
	case (status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status == 0) && isContextLength(lower):
		return errContextLength, nil
	case status == http.StatusUnauthorized:
		return errFatal, fmt.Errorf("%w: the server at %s refused the API key (%d: %s): check %s", ErrLLMConfig, l.cfg.BaseURL, status, msg, EnvOpenAIKey)
	case status == http.StatusForbidden:
		return errFatal, fmt.Errorf("%w: the server at %s denied access (%d: %s): check that the key may use model %q", ErrLLMConfig, l.cfg.BaseURL, status, msg, l.cfg.Model)
	case status == http.StatusNotFound:
		return errFatal, fmt.Errorf("%w: %s/chat/completions or model %q not found (%d: %s): check --base-url (it usually ends in /v1) and --model", ErrLLMConfig, l.cfg.BaseURL, l.cfg.Model, status, msg)
	case status == http.StatusTooManyRequests && strings.Contains(lower, "insufficient_quota"):
		return errFatal, fmt.Errorf("%w: the API quota of this key is exhausted (%s): add credit or use another key", ErrLLMConfig, msg)
	}
	return errOther, nil
}

// apiErrorParts extracts the HTTP status, error code and message from
// go-openai's error types; status 0 means no HTTP answer.
func apiErrorParts(err error) (status int, code, msg string) {
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Code != nil {
			code = fmt.Sprint(apiErr.Code)
		}
		return apiErr.HTTPStatusCode, code, apiErr.Message
	case errors.As(err, &reqErr):
		body := strings.TrimSpace(string(reqErr.Body))
		if len(body) > 300 {
			body = body[:300] + "..."
		}
		if body == "" {
			body = reqErr.HTTPStatus
		}
		return reqErr.HTTPStatusCode, "", body
	}
	return 0, "", err.Error()
}

// isContextLength recognises the wordings of context-length errors used by
// OpenAI, vLLM, Ollama, OpenRouter and Anthropic's compatible endpoint.
func isContextLength(lower string) bool {
	for _, s := range []string{
		"context_length_exceeded", "context length", "maximum context", "context window",
		"prompt is too long", "too many tokens", "reduce the length", "input is too long",
		"exceeds the maximum", "maximum input length",
	} {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}
