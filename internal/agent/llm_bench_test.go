package agent_test

import (
	"autoresearch/internal/agent/llmtest"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkProposeScripted measures one proposal outside training against the
// scripted loopback server: read, edit, check, submit (4 requests, 4 tool
// calls, the transcript written). With check=go-build, Check is a real
// go build of the tiny worktree, run by check and again by submit.
func BenchmarkProposeScripted(b *testing.B) {
	for _, mode := range []string{"noop", "go-build"} {
		b.Run("check="+mode, func(b *testing.B) {
			wt, _ := worktree(b)
			srv := llmtest.NewServer(b)
			l, _ := newAgent(b, srv, nil)
			req := request(b, wt)
			if mode == "noop" {
				req.Check = func(context.Context) (string, bool) { return "", true }
			}
			train := filepath.Join(wt, "gpt", "train.go")
			var calls, tokens int
			for b.Loop() {
				b.StopTimer()
				if err := os.WriteFile(train, []byte(trainGo), 0o644); err != nil {
					b.Fatal(err)
				}
				srv.SetScript(
					srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))),
					srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "LearningRate = 0.01", "new_string", "LearningRate = 0.02"))),
					srv.Calls(llmtest.Tool("check", map[string]any{})),
					srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lr 0.02"))),
				)
				b.StartTimer()
				p, err := l.Propose(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				calls, tokens = p.ToolCalls, p.PromptTokens+p.CompletionTokens
			}
			b.ReportMetric(float64(calls), "toolcalls/op")
			b.ReportMetric(float64(tokens), "llmtokens/op")
		})
	}
}
