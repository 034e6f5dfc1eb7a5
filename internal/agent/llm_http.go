package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// llmTransport is the HTTP client go-openai talks through. It does two things
// the library cannot:
//
//   - it writes "temperature" into chat requests itself, because the library's
//     struct tag (omitempty) drops 0, and 0 is a setting users ask for;
//   - it retries network errors, timeouts, 408, 409, 429 and 5xx with
//     exponential backoff, honouring Retry-After, which only the HTTP
//     response carries (the library's error values lose the headers).
type llmTransport struct {
	client          *http.Client
	temperature     *float64
	reasoningEffort string
	maxRetries      int
	// patience, when set, bounds retries by time instead of maxRetries: no
	// retry starts once the time spent and the next wait would pass it.
	patience time.Duration
	timeout  time.Duration // per attempt
	sleep    func(context.Context, time.Duration) error
	onRetry  func(retryEvent) // may be nil
}

// retryEvent describes one retried attempt, for the transcript.
type retryEvent struct {
	Attempt int           // 1 for the first retry
	Reason  string        // "429 Too Many Requests", "network: ...", ...
	Wait    time.Duration // how long the transport slept before retrying
}

func (t *llmTransport) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("llm agent: reading request body: %w", err)
		}
		body = b
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/chat/completions") {
		var err error
		if body, err = t.rewriteChatBody(body); err != nil {
			return nil, err
		}
	}
	ctx := req.Context()
	start, waited := time.Now(), time.Duration(0)
	for attempt := 0; ; attempt++ {
		resp, err := t.attempt(ctx, req, body)
		if ctx.Err() != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return nil, ctx.Err()
		}
		reason, wait, retry := t.classify(resp, err, attempt)
		if !retry || t.spent(attempt, max(time.Since(start), waited)+wait) {
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		if t.onRetry != nil {
			t.onRetry(retryEvent{Attempt: attempt + 1, Reason: reason, Wait: wait})
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// spent reports whether the retries are used up after attempt (0 for the
// first), when the next retry would start after elapsed. The time is the
// larger of the wall clock and the sum of the waits, so that a test's
// instant sleep counts as the wait it stands for.
func (t *llmTransport) spent(attempt int, elapsed time.Duration) bool {
	if t.patience > 0 {
		return elapsed > t.patience
	}
	return attempt >= t.maxRetries
}

// attempt sends one copy of req with body under the per-attempt timeout. The
// timeout's context is released when the caller closes the response body.
func (t *llmTransport) attempt(ctx context.Context, req *http.Request, body []byte) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	r := req.Clone(actx)
	if len(body) == 0 {
		// http.NoBody says "no body" outright; an empty reader is a body of
		// unknown length that net/http has to probe.
		r.Body, r.ContentLength, r.GetBody = http.NoBody, 0, nil
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := t.client.Do(r)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// classify decides whether an attempt is worth repeating and how long to wait.
func (t *llmTransport) classify(resp *http.Response, err error, attempt int) (reason string, wait time.Duration, retry bool) {
	backoff := min(defaultBackoffBase<<min(attempt, 20), defaultBackoffCeiling)
	if err != nil {
		return "network: " + err.Error(), backoff, true
	}
	code := resp.StatusCode
	if code != http.StatusRequestTimeout && code != http.StatusConflict &&
		code != http.StatusTooManyRequests && code < 500 {
		return "", 0, false
	}
	if code == http.StatusTooManyRequests && quotaExhausted(resp) {
		return "", 0, false // no wait refills a quota: let the caller report it
	}
	if d, ok := retryAfter(resp.Header, time.Now()); ok {
		wait = min(d, defaultMaxRetryWait)
	} else {
		wait = backoff
	}
	return resp.Status, wait, true
}

// quotaExhausted peeks at a 429's body for OpenAI's insufficient_quota code,
// leaving the body readable for the caller.
func quotaExhausted(resp *http.Response) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return bytes.Contains(b, []byte("insufficient_quota"))
}

// retryAfter reads Retry-After (seconds or an HTTP date) or retry-after-ms.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// rewriteChatBody sets the fields go-openai cannot send as configured.
func (t *llmTransport) rewriteChatBody(body []byte) ([]byte, error) {
	if t.temperature == nil && t.reasoningEffort == "" {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("llm agent: chat request is not a JSON object: %w", err)
	}
	if t.temperature != nil {
		m["temperature"] = json.RawMessage(strconv.FormatFloat(*t.temperature, 'g', -1, 64))
	}
	if t.reasoningEffort != "" {
		m["reasoning_effort"], _ = json.Marshal(t.reasoningEffort)
	}
	return json.Marshal(m)
}
