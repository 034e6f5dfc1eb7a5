package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/agent/llmtest"
	"autoresearch/internal/cost"
	"autoresearch/internal/experiment"
	"autoresearch/internal/results"
)

// edit is the scripted LLM's edit_file call on gpt/train.go, submit its submit.
func edit(old, new string) llmtest.Call {
	return llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", old, "new_string", new))
}

func submit(description string) llmtest.Call {
	return llmtest.Tool("submit", llmtest.Args("description", description))
}

// TestRunLLMAgentThreeExperiments drives "run --agent llm" for three
// experiments against a scripted OpenAI-compatible server on loopback: the
// real go-openai client, the real loop, real builds and runs of the toy task.
//
//	experiment 1: read, edit VALUE 1.0 -> 0.9, check, submit: kept
//	experiment 2: VALUE 0.8 and MODE panic, submit: crashes; the repair sets
//	              MODE back to ok and submits: kept at 0.8
//	experiment 3: MODE fail, submit: crashes; the repair gives up: crash row
func TestRunLLMAgentThreeExperiments(t *testing.T) {
	repo := toyRepo(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Text("ready"), // the preflight
		srv.Calls(llmtest.Tool("read_file", llmtest.Args("path", "gpt/train.go"))),
		srv.Calls(edit("VALUE = 1.0", "VALUE = 0.9")),
		srv.Calls(llmtest.Tool("check", map[string]any{})),
		srv.Calls(submit("lower VALUE to 0.9")),

		srv.Calls(edit("VALUE = 0.9", "VALUE = 0.8"), edit(`MODE  = "ok"`, `MODE  = "panic"`)),
		srv.Calls(submit("VALUE 0.8 in panic mode")),
		srv.Calls(edit(`MODE  = "panic"`, `MODE  = "ok"`)),
		srv.Calls(submit("VALUE 0.8, mode back to ok")),

		srv.Calls(edit(`MODE  = "ok"`, `MODE  = "fail"`)),
		srv.Calls(submit("try the fail mode")),
		srv.Calls(llmtest.Tool("give_up", llmtest.Args("reason", "the fail mode can never report a value"))),
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", llmtest.Key)
	program, err := filepath.Abs(filepath.Join("..", "..", "programs", "program.md"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "run", "--repo", repo, "--tag", "llm1", "--device", "cpu", "--agent", "llm", "--model", "test-model",
		"--temperature", "0", "--program", program, "--max-experiments", "3")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "stopped: max-experiments reached. 4 experiments, best val_bpb 0.800000") {
		t.Errorf("run said:\n%s", out)
	}
	if n := srv.Remaining(); n != 0 {
		t.Errorf("%d scripted replies were never asked for", n)
	}

	dir := filepath.Join(repo, ".autoresearch", "llm1")
	f, err := results.ReadFile(filepath.Join(dir, experiment.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.Rows {
		got = append(got, fmt.Sprintf("%s %.6f", r.Status, r.Value))
	}
	if want := []string{"keep 1.000000", "keep 0.900000", "keep 0.800000", "crash 0.000000"}; !slices.Equal(got, want) {
		t.Errorf("results.tsv rows %v, want %v", got, want)
	}
	if f.Rows[1].Description != "lower VALUE to 0.9" || f.Rows[3].Description != "try the fail mode" {
		t.Errorf("descriptions %q, %q", f.Rows[1].Description, f.Rows[3].Description)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "worktree", "gpt", "train.go")); err != nil ||
		!strings.Contains(string(b), "VALUE = 0.8") || !strings.Contains(string(b), `MODE  = "ok"`) {
		t.Errorf("the worktree is not at the last kept change:\n%s", b)
	}

	reqs := srv.Requests()
	if len(reqs) != 12 {
		t.Fatalf("%d chat requests, want 12", len(reqs))
	}
	if !strings.Contains(reqs[0].Messages[1].Content, "ready") || len(reqs[0].Tools) != 6 {
		t.Errorf("the first request is not the preflight: %+v", reqs[0].Messages)
	}
	if !strings.Contains(srv.RawBodies()[1], `"temperature":0`) {
		t.Errorf("--temperature 0 did not reach the server")
	}
	if sys := reqs[1].Messages[0].Content; !strings.HasPrefix(sys, "# Research program") || !strings.Contains(sys, "# Protocol") {
		t.Errorf("the system message is not program.md plus the protocol:\n%.200s", sys)
	}
	for _, c := range []struct {
		req  int
		want string
	}{
		{1, "Experiment 1 on the GPT training program gpt/train.go (profile smoke)."},
		{1, "Device: cpu"},
		{5, "- " + f.Rows[1].Commit + " 0.900000 (-0.100000) lower VALUE to 0.9"},
		{5, `"lower VALUE to 0.9": keep, val_bpb 0.900000`},
		{7, `Your change "VALUE 0.8 in panic mode" crashed while running (repair attempt 1)`},
		{7, "index out of range"},
		{9, "Experiment 3 on"},
		{11, `Your change "try the fail mode" crashed while running`},
		{11, "FAIL"},
	} {
		if u := reqs[c.req].Messages[1].Content; !strings.Contains(u, c.want) {
			t.Errorf("request %d's context lacks %q:\n%s", c.req, c.want, u)
		}
	}

	// experiments.jsonl: tokens, tool calls and transcripts per experiment.
	usage := srv.Replies()
	sum := func(from, to int) (p, c int) {
		for _, u := range usage[from : to+1] {
			p, c = p+u.Prompt, c+u.Completion
		}
		return
	}
	recs := readRecords(t, filepath.Join(dir, experiment.RecordsFile))
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for _, c := range []struct {
		n, from, to, calls int
		transcripts        []string
	}{
		{1, 1, 4, 4, []string{"transcripts/1.jsonl"}},
		{2, 5, 8, 5, []string{"transcripts/2.jsonl", "transcripts/2-fix1.jsonl"}},
		{3, 9, 11, 3, []string{"transcripts/3.jsonl", "transcripts/3-fix1.jsonl"}},
	} {
		r := recs[c.n]
		p, comp := sum(c.from, c.to)
		if r.PromptTokens != p || r.CompletionTokens != comp || r.ToolCalls != c.calls || r.Proposer != "llm:test-model" {
			t.Errorf("experiment %d record: %d+%d tokens, %d tool calls, proposer %q; the server reported %d+%d, want %d calls",
				c.n, r.PromptTokens, r.CompletionTokens, r.ToolCalls, r.Proposer, p, comp, c.calls)
		}
		if !slices.Equal(r.Transcripts, c.transcripts) {
			t.Errorf("experiment %d transcripts %v, want %v", c.n, r.Transcripts, c.transcripts)
		}
		for _, tr := range r.Transcripts {
			if _, err := os.Stat(filepath.Join(dir, tr)); err != nil {
				t.Errorf("experiment %d: %v", c.n, err)
			}
		}
		outside := r.End.Sub(r.Start).Seconds() - r.Seconds["run"]
		t.Logf("experiment %d: %d tool calls, %d+%d tokens, %.2f s outside training (propose %.2f s, repair %.2f s, build %.2f s, run %.2f s)",
			c.n, r.ToolCalls, r.PromptTokens, r.CompletionTokens, outside, r.Seconds["propose"], r.Seconds["repair"], r.Seconds["build"], r.Seconds["run"])
	}
	if recs[3].FixAttempts != 0 || !strings.Contains(recs[3].Reason, "gave up: the fail mode can never report a value") {
		t.Errorf("experiment 3 record: fix attempts %d, reason %q", recs[3].FixAttempts, recs[3].Reason)
	}
}

func readRecords(t *testing.T, path string) []experiment.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []experiment.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r experiment.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestRunLLMPreflightFailsBeforeSetup: a refused key stops "run" before the
// run is set up or any experiment starts, with the fix in the message.
func TestRunLLMPreflightFailsBeforeSetup(t *testing.T) {
	repo := toyRepo(t)
	srv := llmtest.NewServer(t, llmtest.Fail(http.StatusUnauthorized, "Incorrect API key provided", "invalid_api_key"))
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", llmtest.Key)
	program := filepath.Join(t.TempDir(), "program.md")
	if err := os.WriteFile(program, []byte("lower val_bpb"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, "run", "--repo", repo, "--tag", "llm2", "--device", "cpu", "--program", program)
	if err == nil || !strings.Contains(err.Error(), "refused the API key") || !strings.Contains(err.Error(), "OPENAI_API_KEY") || exitCode(err) != 1 {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(repo, ".autoresearch", "llm2")); !os.IsNotExist(err) {
		t.Errorf("a failed preflight left a run behind (stat: %v)", err)
	}
}

// TestRunLLMPreflightWaitsForABusyEndpoint: an endpoint that answers the
// first requests with a 503 and a 429 (Retry-After: 1) is waited for, each
// retry shown, and the run goes on once it answers.
func TestRunLLMPreflightWaitsForABusyEndpoint(t *testing.T) {
	repo := toyRepo(t)
	srv := llmtest.NewServer(t,
		llmtest.Fail(http.StatusServiceUnavailable, "The server is overloaded", ""),
		llmtest.Fail(http.StatusTooManyRequests, "Rate limit reached", "rate_limit_exceeded", "Retry-After", "1"))
	srv.Append(
		srv.Text("ready"),
		srv.Calls(llmtest.Tool("edit_file", llmtest.Args("path", "gpt/train.go", "old_string", "VALUE = 1.0", "new_string", "VALUE = 0.9"))),
		srv.Calls(llmtest.Tool("submit", llmtest.Args("description", "lower VALUE to 0.9"))),
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", llmtest.Key)
	program := filepath.Join(t.TempDir(), "program.md")
	if err := os.WriteFile(program, []byte("lower val_bpb"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := runCLI(t, "run", "--repo", repo, "--tag", "busy", "--device", "cpu", "--model", "test-model",
		"--program", program, "--max-experiments", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"LLM endpoint " + srv.URL() + " did not take the test request (503 Service Unavailable): retry 1 in 1s (it is given up to 5m0s; Ctrl-C stops)",
		"did not take the test request (429 Too Many Requests): retry 2 in 1s",
		"stopped: max-experiments reached. 2 experiments, best val_bpb 0.900000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run does not say %q:\n%s", want, out)
		}
	}
	t.Logf("the run took %s in all; it said:\n%s", time.Since(start).Round(10*time.Millisecond), out)
}

// TestRunLLMStopsAtMaxCost: with prices, "run" stops proposing once the
// LLM's cost reaches --max-cost, finishing the experiment it was in, and
// says so; results and report price the run as it was priced, or anew.
func TestRunLLMStopsAtMaxCost(t *testing.T) {
	repo := toyRepo(t)
	srv := llmtest.NewServer(t)
	srv.SetScript(
		srv.Text("ready"), // the preflight
		srv.Calls(edit("VALUE = 1.0", "VALUE = 0.9")),
		srv.Calls(submit("lower VALUE to 0.9")),
		srv.Calls(edit("VALUE = 0.9", "VALUE = 0.8")),
		srv.Calls(submit("lower VALUE to 0.8")),
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	t.Setenv("OPENAI_API_KEY", llmtest.Key)
	program := filepath.Join(t.TempDir(), "program.md")
	if err := os.WriteFile(program, []byte("lower val_bpb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "run", "--repo", repo, "--tag", "cost", "--device", "cpu", "--model", "test-model",
		"--program", program, "--max-cost", "1"); err == nil || !strings.Contains(err.Error(), "--max-cost needs the LLM's prices") {
		t.Fatalf("--max-cost without prices: %v", err)
	}
	out, err := runCLI(t, "run", "--repo", repo, "--tag", "cost", "--device", "cpu", "--model", "test-model",
		"--program", program, "--price-in", "2.5", "--price-out", "10", "--max-cost", "0.001")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := srv.Remaining(); n != 2 {
		t.Errorf("%d scripted replies left, want the second experiment's 2: it was proposed after the limit", n)
	}
	t.Logf("run said:\n%s", out)
	// The experiment's tokens as the server counted them, at the prices.
	prices := cost.Prices{In: 2.5, Out: 10}
	var prompt, completion int64
	for _, u := range srv.Replies()[1:] {
		prompt, completion = prompt+int64(u.Prompt), completion+int64(u.Completion)
	}
	spent := cost.Dollars(prices.Of(prompt, completion))
	for _, want := range []string{
		"max-cost $0.001 reached: the LLM has cost " + spent + "; no new proposals",
		"stopped: max-cost reached (" + spent + " of --max-cost $0.001). 2 experiments, best val_bpb 0.900000",
		"LLM cost " + spent + ": " + spent + " per experiment, " + spent + " per kept change",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run does not say %q:\n%s", want, out)
		}
	}

	t.Chdir(repo)
	line := "LLM cost: " + spent + ": " + spent + " per experiment, " + spent + " per kept change"
	if out, err := runCLI(t, "results"); err != nil || !strings.Contains(out, line) {
		t.Errorf("results (%v) lacks %q:\n%s", err, line, out)
	} else {
		t.Logf("results said:\n%s", out)
	}
	// Prices given to results price the run anew.
	anew := cost.Dollars(cost.Prices{In: 100, Out: 100}.Of(prompt, completion))
	if out, err := runCLI(t, "results", "--price-in", "100", "--price-out", "100"); err != nil || !strings.Contains(out, "LLM cost: "+anew+":") {
		t.Errorf("results priced anew (%v) lacks %s:\n%s", err, anew, out)
	}
	out, err = runCLI(t, "report", "-o", filepath.Join(t.TempDir(), "progress.png"))
	if err != nil || !strings.Contains(out, "| LLM cost | "+spent+": "+spent+" per experiment, "+spent+" per kept change |") {
		t.Errorf("report (%v):\n%s", err, out)
	}
	page := filepath.Join(t.TempDir(), "cost.html")
	if out, err := runCLI(t, "report", "--html", "--out", page); err != nil {
		t.Fatalf("report --html: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), `<p class="cost">`+line+`</p>`) ||
		!strings.Contains(string(b), `<td class="num">`+spent+`</td>`) {
		t.Errorf("the page (%v) does not show the cost %s", err, spent)
	}
}
