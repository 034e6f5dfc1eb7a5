package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// The environment variables the LLM agent reads. The key is never a flag: a
// flag would show in process listings and shell history.
const (
	EnvOpenAIKey     = "OPENAI_API_KEY"
	EnvOpenAIBaseURL = "OPENAI_BASE_URL"
)

// Defaults of LLMConfig.
const (
	DefaultLLMModel        = "gpt-5"
	DefaultLLMBaseURL      = "https://api.openai.com/v1"
	DefaultMaxToolCalls    = 40
	DefaultMaxTokens       = 400_000
	DefaultMaxNudges       = 3
	DefaultMaxRetries      = 7
	DefaultRequestTimeout  = 10 * time.Minute
	defaultMaxRetryWait    = 10 * time.Minute // longest Retry-After honoured
	defaultBackoffBase     = time.Second
	defaultBackoffCeiling  = time.Minute
	maxDescriptionRunes    = 200
	maxToolOutputBytes     = 24_000 // compiler output and logs sent back to the model
	maxReadFileBytes       = 100_000
	elidedToolResultMarker = "[elided to fit the model's context window; read the file again if you need it]"
)

// LLMConfig configures the LLM agent. The zero value of every field means its
// default; NewLLM fills the key and base URL from the environment.
type LLMConfig struct {
	Model   string // model name as the server knows it, e.g. gpt-5, qwen3-coder, claude-sonnet-4-5
	BaseURL string // OpenAI-compatible endpoint ending in /v1; empty: $OPENAI_BASE_URL, else OpenAI
	APIKey  string // empty: $OPENAI_API_KEY; may stay empty only for a server on loopback
	// Temperature is sent as is when set, 0 included; nil leaves the server's
	// default (which reasoning models require).
	Temperature     *float64
	ReasoningEffort string // sent as reasoning_effort when set: minimal, low, medium, high

	MaxToolCalls int // tool calls per proposal (or repair) before it is abandoned
	MaxTokens    int // prompt+completion tokens per proposal (or repair) before it is abandoned
	MaxNudges    int // replies without a tool call tolerated per proposal
	MaxRetries   int // retries of one request on network errors, 429 and 5xx

	RequestTimeout time.Duration // one HTTP attempt; a timeout is retried like a network error

	// HTTPClient sends the requests; nil means a plain http.Client.
	HTTPClient *http.Client
	// Sleep waits between retries; nil means a real, cancellable sleep. Tests
	// inject one that records the waits and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
}

// AddFlags binds the flags of the LLM agent to c. The API key stays in the
// environment only.
func (c *LLMConfig) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Model, "model", DefaultLLMModel, "LLM model name as the server knows it")
	fs.StringVar(&c.BaseURL, "base-url", "", "OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 for Ollama (default $"+EnvOpenAIBaseURL+", else OpenAI)")
	fs.Var(&optionalFloat{&c.Temperature}, "temperature", "sampling temperature, 0 included (default: the server's)")
	fs.StringVar(&c.ReasoningEffort, "reasoning-effort", "", "reasoning effort for models that take one: minimal, low, medium or high")
	c.MaxToolCalls, c.MaxTokens = DefaultMaxToolCalls, DefaultMaxTokens
	fs.Var((*positiveInt)(&c.MaxToolCalls), "max-tool-calls", "tool calls allowed per proposal before it is abandoned")
	fs.Var((*positiveInt)(&c.MaxTokens), "max-tokens", "LLM tokens (prompt + completion) allowed per proposal before it is abandoned")
}

// positiveInt is an int flag that must be at least 1: in LLMConfig a zero
// means the default, which a user who types 0 does not mean.
type positiveInt int

func (p *positiveInt) String() string { return strconv.Itoa(int(*p)) }
func (p *positiveInt) Type() string   { return "int" }

func (p *positiveInt) Set(s string) error {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not a whole number: %q", s)
	}
	if v < 1 {
		return fmt.Errorf("%d is not allowed: give at least 1", v)
	}
	*p = positiveInt(v)
	return nil
}

// optionalFloat is a float flag that remembers whether it was given, so that
// 0 can mean "temperature 0" rather than "unset".
type optionalFloat struct{ p **float64 }

func (f *optionalFloat) String() string {
	if f.p == nil || *f.p == nil {
		return ""
	}
	return strconv.FormatFloat(**f.p, 'g', -1, 64)
}

func (f *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	*f.p = &v
	return nil
}

func (f *optionalFloat) Type() string { return "float" }

// resolve returns a copy of c with the environment and defaults filled in, or
// an error naming the bad setting and its fix.
func (c LLMConfig) resolve(getenv func(string) string) (LLMConfig, error) {
	if c.Model == "" {
		c.Model = DefaultLLMModel
	}
	ep, err := ResolveEndpoint(c.BaseURL, c.APIKey, getenv)
	c.BaseURL, c.APIKey = ep.BaseURL, ep.APIKey
	if err != nil {
		return c, err
	}
	if t := c.Temperature; t != nil && (*t < 0 || *t > 2) {
		return c, fmt.Errorf("--temperature %g is out of range: use a value from 0 to 2", *t)
	}
	for _, v := range []struct {
		name string
		p    *int
		def  int
	}{
		{"--max-tool-calls", &c.MaxToolCalls, DefaultMaxToolCalls},
		{"--max-tokens", &c.MaxTokens, DefaultMaxTokens},
		{"max nudges", &c.MaxNudges, DefaultMaxNudges},
		{"max retries", &c.MaxRetries, DefaultMaxRetries},
	} {
		if *v.p < 0 {
			return c, fmt.Errorf("%s must not be negative (got %d)", v.name, *v.p)
		}
		if *v.p == 0 {
			*v.p = v.def
		}
	}
	if c.APIKey == "" && !ep.Local {
		return c, fmt.Errorf("no API key for %s: set %s (or use --agent sweep, which needs no LLM)", c.BaseURL, EnvOpenAIKey)
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	return c, nil
}

// Endpoint is the server the LLM agent talks to.
type Endpoint struct {
	BaseURL string // the API root, without a trailing slash
	APIKey  string // may be empty
	Local   bool   // the server is on this machine, where a key is often not needed
}

// ResolveEndpoint finds the endpoint as the agent uses it: baseURL, else
// $OPENAI_BASE_URL, else OpenAI; apiKey, else $OPENAI_API_KEY. The error
// says how to fix a base URL that is not an http(s) URL. The doctor checks
// the endpoint this returns, so the two never disagree.
func ResolveEndpoint(baseURL, apiKey string, getenv func(string) string) (Endpoint, error) {
	if baseURL == "" {
		baseURL = getenv(EnvOpenAIBaseURL)
	}
	if baseURL == "" {
		baseURL = DefaultLLMBaseURL
	}
	if apiKey == "" {
		apiKey = getenv(EnvOpenAIKey)
	}
	ep := Endpoint{BaseURL: strings.TrimRight(baseURL, "/"), APIKey: apiKey}
	u, err := url.Parse(ep.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ep, fmt.Errorf("base URL %q is not an http(s) URL: set --base-url or %s to the server's API root, e.g. http://localhost:11434/v1", ep.BaseURL, EnvOpenAIBaseURL)
	}
	ep.Local = isLoopback(u.Hostname())
	return ep, nil
}

// isLoopback reports whether host names this machine: localhost, a name
// under .localhost, or a loopback address (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrLLMConfig is wrapped by errors that no retry can fix: a refused key, an
// unknown model, an exhausted quota, an unreachable endpoint at preflight. The
// loop should stop and show the message, which names the fix.
var ErrLLMConfig = errors.New("llm agent")
