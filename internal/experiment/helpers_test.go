package experiment

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"autoresearch/internal/agent"
	"autoresearch/internal/contract"
	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/status"
	"autoresearch/internal/task"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var epoch = gittest.Epoch

// newUserRepo copies the toy task into a fresh git repository with one commit
// made at a fixed time, so that every hash after it is reproducible.
func newUserRepo(t testing.TB) string {
	t.Helper()
	return gittest.CommitTree(t, filepath.Join("testdata", "toy"), "the toy task")
}

// toyTask is the toy GPT-like task: a Go program that prints the summary
// block, a 1 s budget and a hard limit of 7 s, the GPT's lines.
func toyTask() task.Task {
	t := task.Task{
		Source:           "toy",
		Profile:          "smoke",
		Editable:         []string{"gpt/train.go"},
		Build:            task.Command{Argv: []string{"go", "build", "-buildvcs=false", "-o", runner.BinVar, "./gpt"}},
		Run:              task.Command{Argv: []string{runner.BinVar}, Env: []string{"AUTORESEARCH_PROFILE=smoke", "AUTORESEARCH_DEVICE=cpu"}},
		Device:           task.Device{Name: task.CPU},
		BudgetSeconds:    1,
		AllowanceSeconds: 1,
		HardLimitSeconds: 7,
		Metric:           task.Metric{Name: "val_bpb", LowerIsBetter: true},
		Memory:           task.Memory{Keys: []string{"peak_vram_mb", "peak_rss_mb"}},
		Progress:         contract.ProgressPattern,
		Warmup:           task.Warmup{Start: contract.WarmupLine, Done: contract.WarmupDoneLine},
		FailLine:         contract.FailLine,
	}
	t.Finish()
	return t
}

// toyConfig is the toy task's run configuration.
func toyConfig(repo, tag string) Config {
	return Config{Tag: tag, Repo: repo, Created: epoch, Task: toyTask()}
}

// fixClock stamps the run's commits one minute apart from epoch.
func fixClock(r *Run) {
	var mu sync.Mutex
	n := 0
	r.SetClock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return epoch.Add(time.Duration(n) * time.Minute)
	})
}

// setConst sets a constant of the toy's gpt/train.go.
func setConst(t testing.TB, dir, name, value string) {
	t.Helper()
	p := filepath.Join(dir, "gpt", "train.go")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\t` + name + ` +=\s*)([^/\n]*?)(\s*//.*)?$`)
	if !re.Match(b) {
		t.Fatalf("no constant %s in %s", name, p)
	}
	if err := os.WriteFile(p, re.ReplaceAll(b, []byte("${1}"+value+"${3}")), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t testing.TB, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// idea is one scripted proposal: its edit, and the fixes its Repair applies
// in turn (none left: it gives up), described as fixDesc (empty: Repair
// returns no description).
type idea struct {
	desc    string
	edit    func(req agent.Request)
	fixes   []func(req agent.Request)
	fixDesc string
}

// scripted is a proposer that plays a list of ideas, then says it is done.
type scripted struct {
	t        testing.TB
	ideas    []idea
	next     int
	fix      int
	failures map[int][]agent.Failure // by experiment number
	requests map[int]agent.Request   // the proposals' requests, by experiment number
}

func newScripted(t testing.TB, ideas ...idea) *scripted {
	return &scripted{t: t, ideas: ideas, failures: map[int][]agent.Failure{}, requests: map[int]agent.Request{}}
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Propose(ctx context.Context, req agent.Request) (agent.Proposal, error) {
	if s.next >= len(s.ideas) {
		return agent.Proposal{}, fmt.Errorf("script over: %w", agent.ErrExhausted)
	}
	s.requests[req.N] = req
	i := s.ideas[s.next]
	s.next++
	s.fix = 0
	i.edit(req)
	return agent.Proposal{Description: i.desc, PromptTokens: 100, CompletionTokens: 10, ToolCalls: 2}, nil
}

func (s *scripted) Repair(ctx context.Context, req agent.Request, f agent.Failure) (agent.Proposal, error) {
	s.failures[req.N] = append(s.failures[req.N], f)
	i := s.ideas[s.next-1]
	if s.fix >= len(i.fixes) {
		return agent.Proposal{}, fmt.Errorf("no idea how to fix it: %w", agent.ErrGaveUp)
	}
	i.fixes[s.fix](req)
	s.fix++
	return agent.Proposal{Description: i.fixDesc, PromptTokens: 50}, nil
}

// set returns an edit setting constants, given as name, value pairs.
func set(t testing.TB, kv ...string) func(agent.Request) {
	return func(req agent.Request) {
		for i := 0; i < len(kv); i += 2 {
			setConst(t, req.Worktree, kv[i], kv[i+1])
		}
	}
}

// recorder is a status.Reporter that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	logs   []string
	phases []string
	onProg func(float64)
	best   []float64 // what SetBest was told
	notes  []string  // what SetNote was told
}

func (r *recorder) SetNote(note string) { r.add(&r.notes, note) }

func (r *recorder) SetBest(v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.best = append(r.best, v)
}

func (r *recorder) Start(n int)          { r.add(&r.phases, fmt.Sprint("start ", n)) }
func (r *recorder) Phase(p status.Phase) { r.add(&r.phases, string(p)) }
func (r *recorder) Progress(f float64) {
	if r.onProg != nil {
		r.onProg(f)
	}
}
func (r *recorder) Done(row results.Row, best float64) { r.add(&r.phases, "done "+string(row.Status)) }
func (r *recorder) Logf(format string, args ...any)    { r.add(&r.logs, fmt.Sprintf(format, args...)) }
func (r *recorder) add(list *[]string, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, s)
}
func (r *recorder) logged(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func sigAt(when time.Time) *object.Signature {
	return &object.Signature{Name: "user", Email: "user@example.org", When: when}
}
