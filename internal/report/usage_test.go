package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/cost"
)

func writeJSONL(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "experiments.jsonl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadUsage(t *testing.T) {
	path := writeJSONL(t, `{"n":0,"start":"2026-11-26T22:00:00Z","end":"2026-11-26T22:06:00Z","proposer":"baseline","future_field":[1,2]}
{"n":1,"start":"2026-11-26T22:06:00Z","end":"2026-11-26T22:13:30Z","llm":{"prompt_tokens":12000,"completion_tokens":800,"calls":[{"prompt_tokens":6000,"completion_tokens":300}]}}

not json at all
{"n":2,"start":"2026-11-26T22:13:30Z","end":"2026-11-27T06:30:00Z","prompt_tokens":1000,"completion_tokens":200,"usage":{"prompt_tokens":999999}}
{"n":3,"start":"2026-11-27T06:30:00Z","llm_tokens":500}
{"n":4,"start":"2026-11-27T06:3`)
	u, err := ReadUsage(path)
	if err != nil {
		t.Fatal(err)
	}
	if u.Lines != 4 || u.Skipped != 2 {
		t.Errorf("lines %d skipped %d, want 4 and 2", u.Lines, u.Skipped)
	}
	// A total beside a per-call breakdown counts once; the shallowest wins.
	if u.PromptTokens != 12000+1000+500 || u.CompletionTokens != 800+200 || !u.HasTokens {
		t.Errorf("tokens %d + %d", u.PromptTokens, u.CompletionTokens)
	}
	if want := 8*time.Hour + 30*time.Minute; u.Wall() != want {
		t.Errorf("wall %v, want %v", u.Wall(), want)
	}
}

func TestReadUsageDurationsAndAbsence(t *testing.T) {
	u, err := ReadUsage(writeJSONL(t, "{\"wall_seconds\": 90}\n{\"duration_seconds\": 30.5, \"prompt_tokens\": 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Wall() != 120500*time.Millisecond || !u.HasTokens {
		t.Errorf("wall %v tokens %v", u.Wall(), u.HasTokens)
	}
	u, err = ReadUsage(filepath.Join(t.TempDir(), "experiments.jsonl"))
	if u != nil || err != nil {
		t.Errorf("missing file: %v, %v; want nil, nil", u, err)
	}
}

func TestMarkdownShowsUsage(t *testing.T) {
	u, err := ReadUsage(writeJSONL(t, `{"start":"2026-11-26T22:00:00Z","end":"2026-11-27T08:30:00Z","prompt_tokens":1234567,"completion_tokens":89012}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, load(t, "crashes"), u, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| wall time | 10 h 30 min, 0.7 experiments per hour |",
		"| LLM tokens | 1,323,579 (1,234,567 prompt, 89,012 completion) |",
		"# autoresearch run\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteMarkdown(&b, load(t, "crashes"), &Usage{}, MarkdownOptions{})
	if strings.Contains(b.String(), "wall time") || strings.Contains(b.String(), "LLM tokens") {
		t.Errorf("unknown usage shown:\n%s", b.String())
	}
}

// Each line's tokens are priced at the prices it recorded; a line without
// prices at the default; prices given to override price every line.
func TestUsageCost(t *testing.T) {
	u, err := ReadUsage(writeJSONL(t, `{"n":0}
{"n":1,"prompt_tokens":1000000,"completion_tokens":100000,"prices":{"in":2.5,"out":10}}
{"n":2,"prompt_tokens":2000000,"completion_tokens":0}
`))
	if err != nil {
		t.Fatal(err)
	}
	recorded := cost.Prices{In: 2.5, Out: 10}
	def := cost.Prices{In: 1, Out: 4}
	if _, ok := u.Cost(cost.Pricing{}); ok {
		t.Error("tokens recorded without prices were priced with none given")
	}
	if got, ok := u.Cost(cost.Pricing{Default: def}); !ok || got != recorded.Of(1e6, 1e5)+def.Of(2e6, 0) {
		t.Errorf("cost %v %v", got, ok)
	}
	if got, ok := u.Cost(cost.Pricing{Default: def, Override: true}); !ok || got != def.Of(3e6, 1e5) {
		t.Errorf("cost priced anew %v %v", got, ok)
	}
}

func TestMarkdownShowsCost(t *testing.T) {
	u, err := ReadUsage(writeJSONL(t, `{"prompt_tokens":1000000,"completion_tokens":100000,"prices":{"in":2.5,"out":10}}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := load(t, "crashes")
	var b bytes.Buffer
	if err := WriteMarkdown(&b, a, u, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	spend := a.Spend(3.5) // $2.50 + $1.00
	if spend.Experiments != len(a.Rows)-1 || spend.Keeps != a.Keeps-1 {
		t.Fatalf("spend %+v counts the baseline", spend)
	}
	if want := "| LLM cost | " + spend.String() + " |"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
	u, _ = ReadUsage(writeJSONL(t, `{"prompt_tokens":1000000}`+"\n"))
	b.Reset()
	WriteMarkdown(&b, a, u, MarkdownOptions{})
	if strings.Contains(b.String(), "LLM cost") || !strings.Contains(b.String(), "LLM tokens") {
		t.Errorf("tokens without prices were priced:\n%s", b.String())
	}
}
