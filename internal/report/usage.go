package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"time"

	"autoresearch/internal/cost"
)

// Usage is what a run spent, read from its experiments.jsonl.
type Usage struct {
	Lines   int // JSON objects read
	Skipped int // lines that were not JSON objects (a half-written last line, say)

	Start, End time.Time     // earliest start and latest end seen; zero if none
	Seconds    time.Duration // summed per-experiment durations, when no times are given

	PromptTokens, CompletionTokens int64
	HasTokens                      bool // some line reported LLM tokens

	// priced holds each line's tokens with the prices it recorded, for Cost.
	priced []linePrice
}

// linePrice is one line's tokens and the prices it recorded (zero if none).
type linePrice struct {
	prices             cost.Prices
	prompt, completion int64
}

// Cost is what the run's tokens cost under p; false when some tokens have
// no price (no prices recorded and none given).
func (u *Usage) Cost(p cost.Pricing) (float64, bool) {
	if u == nil || !u.HasTokens {
		return 0, false
	}
	total, ok := 0.0, true
	for _, l := range u.priced {
		c, priced := p.Of(l.prices, l.prompt, l.completion)
		total, ok = total+c, ok && priced
	}
	return total, ok
}

// Wall is the run's wall time: from the first start to the last end when the
// lines carry times, else the sum of their durations; 0 when unknown.
func (u *Usage) Wall() time.Duration {
	if !u.Start.IsZero() && u.End.After(u.Start) {
		return u.End.Sub(u.Start)
	}
	return u.Seconds
}

// The keys ReadUsage looks at; any other field is ignored, so the writer can
// add fields freely. Times are RFC 3339 strings or Unix seconds.
var (
	startKeys    = []string{"start", "started", "started_at", "start_time"}
	endKeys      = []string{"end", "ended", "ended_at", "end_time", "finished", "finished_at"}
	durationKeys = []string{"wall_seconds", "duration_seconds", "elapsed_seconds"}
)

// ReadUsage reads an experiments.jsonl leniently: one JSON object a line,
// unreadable lines counted and skipped. It takes the times from the keys
// above at the top level of each object, and the LLM tokens from the
// prompt_tokens and completion_tokens keys at the shallowest depth where an
// object holds them (top level, or nested objects such as "llm" or "usage"),
// so a per-call breakdown below a total is not counted twice. A line with
// neither but an "llm_tokens" number counts that as prompt tokens. The
// prices a line recorded ("prices": {"in", "out"}) price its tokens (Cost).
// It returns nil and no error when the file does not exist.
func ReadUsage(path string) (*Usage, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u := &Usage{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var obj map[string]any
		if json.Unmarshal(line, &obj) != nil || obj == nil {
			u.Skipped++
			continue
		}
		u.Lines++
		u.addTimes(obj)
		prompt, completion := u.PromptTokens, u.CompletionTokens
		u.addTokens(obj)
		if prompt != u.PromptTokens || completion != u.CompletionTokens {
			u.priced = append(u.priced, linePrice{prices: recordedPrices(obj), prompt: u.PromptTokens - prompt, completion: u.CompletionTokens - completion})
		}
	}
	return u, sc.Err()
}

// recordedPrices are the prices a line recorded under "prices" ({"in",
// "out"} in dollars per million tokens); zero when none.
func recordedPrices(obj map[string]any) cost.Prices {
	m, _ := obj["prices"].(map[string]any)
	in, _ := m["in"].(float64)
	out, _ := m["out"].(float64)
	return cost.Prices{In: in, Out: out}
}

func (u *Usage) addTimes(obj map[string]any) {
	start, okStart := firstTime(obj, startKeys)
	end, okEnd := firstTime(obj, endKeys)
	if okStart && (u.Start.IsZero() || start.Before(u.Start)) {
		u.Start = start
	}
	if okEnd && end.After(u.End) {
		u.End = end
	}
	if !okStart || !okEnd {
		for _, k := range durationKeys {
			if s, ok := obj[k].(float64); ok && s > 0 {
				u.Seconds += time.Duration(s * float64(time.Second))
				break
			}
		}
	}
}

func firstTime(obj map[string]any, keys []string) (time.Time, bool) {
	for _, k := range keys {
		switch v := obj[k].(type) {
		case string:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return t, true
			}
		case float64:
			if v > 0 {
				sec := int64(v)
				return time.Unix(sec, int64((v-float64(sec))*1e9)), true
			}
		}
	}
	return time.Time{}, false
}

// addTokens searches breadth-first for the shallowest objects holding token
// counts and adds theirs.
func (u *Usage) addTokens(obj map[string]any) {
	level := []map[string]any{obj}
	for depth := 0; depth < 4 && len(level) > 0; depth++ {
		var found bool
		var next []map[string]any
		for _, o := range level {
			p, okP := o["prompt_tokens"].(float64)
			c, okC := o["completion_tokens"].(float64)
			if okP || okC {
				u.PromptTokens += int64(p)
				u.CompletionTokens += int64(c)
				found = true
			}
			for _, v := range o {
				switch v := v.(type) {
				case map[string]any:
					next = append(next, v)
				case []any:
					for _, e := range v {
						if m, ok := e.(map[string]any); ok {
							next = append(next, m)
						}
					}
				}
			}
		}
		if found {
			u.HasTokens = true
			return
		}
		level = next
	}
	if n, ok := obj["llm_tokens"].(float64); ok {
		u.PromptTokens += int64(n)
		u.HasTokens = true
	}
}
