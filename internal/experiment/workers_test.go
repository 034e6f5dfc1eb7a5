package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"autoresearch/internal/agent"
	"autoresearch/internal/results"
	"autoresearch/internal/status"
)

// turn is one proposal of a concurrent script: it waits for after (when
// set) before editing, so that a test decides what finishes first.
type turn struct {
	desc   string
	after  <-chan struct{}
	edit   func(agent.Request)
	tokens int // prompt tokens the proposal reports
}

// turns is a proposer safe for several workers: each Propose takes the
// next turn; none left, it is exhausted.
type turns struct {
	mu       sync.Mutex
	list     []turn
	inFlight [][]string // what each Propose was told is in flight
}

func (s *turns) Name() string { return "turns" }

func (s *turns) Propose(ctx context.Context, req agent.Request) (agent.Proposal, error) {
	s.mu.Lock()
	if len(s.list) == 0 {
		s.mu.Unlock()
		return agent.Proposal{}, fmt.Errorf("script over: %w", agent.ErrExhausted)
	}
	t := s.list[0]
	s.list = s.list[1:]
	s.inFlight = append(s.inFlight, req.InFlight)
	s.mu.Unlock()
	if t.after != nil {
		select {
		case <-t.after:
		case <-ctx.Done():
			return agent.Proposal{}, ctx.Err()
		}
	}
	t.edit(req)
	return agent.Proposal{Description: t.desc, PromptTokens: t.tokens}, nil
}

func (s *turns) Repair(context.Context, agent.Request, agent.Failure) (agent.Proposal, error) {
	return agent.Proposal{}, agent.ErrGaveUp
}

// keepSignal is a reporter that closes kept when the first experiment after
// the baseline is kept.
type keepSignal struct {
	recorder
	once sync.Once
	kept chan struct{}
}

func (k *keepSignal) Done(row results.Row, best float64) {
	k.recorder.Done(row, best)
	if row.Status == results.Keep && row.Description != "baseline" {
		k.once.Do(func() { close(k.kept) })
	}
}

// The keep rule with a moving best, on a concrete case. Two workers start
// from the baseline (1.0). Worker B's "VALUE 1.0 -> 0.9" finishes first and
// is kept. Worker A's change (report VALUE-0.2, on another line) started
// from the baseline and finishes after B's keep with 0.8: better than the
// best 0.9, but never measured on top of it, so its row is a discard, and
// the change is re-applied on B's commit and measured again: 0.7, kept. The
// branch is baseline -> B -> A-on-B, each commit kept because it beat its
// parent.
func TestWorkersReapplyChangeThatBeatsAMovedBest(t *testing.T) {
	user := newUserRepo(t)
	rep := &keepSignal{kept: make(chan struct{})}
	r, err := Setup(toyConfig(user, "par"), rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const reportLine = "harness.Report(VALUE, time.Since(start).Seconds())"
	bonus := func(req agent.Request) {
		p := filepath.Join(req.Worktree, "gpt", "train.go")
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), reportLine) {
			t.Errorf("the toy program lacks %q (%v)", reportLine, err)
			return
		}
		b = []byte(strings.Replace(string(b), reportLine, "harness.Report(VALUE-0.2, time.Since(start).Seconds())", 1))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Error(err)
		}
	}
	p := &turns{list: []turn{
		{desc: "report VALUE-0.2", after: rep.kept, edit: bonus},
		{desc: "VALUE 1.0 -> 0.9", edit: set(t, "VALUE", "0.9")},
	}}
	stop, err := r.Loop(context.Background(), Options{Proposer: p, Workers: 2})
	if err != nil || stop != StopExhausted {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}
	rows := r.Rows()
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%s %.1f %s", row.Status, row.Value, row.Description))
	}
	want := []string{"keep 1.0 baseline", "keep 0.9 VALUE 1.0 -> 0.9", "discard 0.8 report VALUE-0.2", "keep 0.7 report VALUE-0.2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	recs, err := ReadRecords(r.path(RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	byN := map[int]Record{}
	for _, rec := range recs {
		if rec.Status == "keep" || rec.Status == "discard" || rec.Status == "crash" {
			byN[rec.N] = rec
		}
	}
	base, b, a, again := byN[0], byN[1], byN[2], byN[3]
	if b.Parent != base.Commit || a.Parent != base.Commit {
		t.Errorf("parents: B %s, A %s; both started from the baseline %s", short(b.Parent), short(a.Parent), short(base.Commit))
	}
	if again.Parent != b.Commit {
		t.Errorf("the re-applied change's parent is %s, want B's %s", short(again.Parent), short(b.Commit))
	}
	if !strings.Contains(a.Reason, "re-applied on "+short(b.Commit)) {
		t.Errorf("A's reason %q does not say it was re-applied on B", a.Reason)
	}
	if a.Worker == 0 || b.Worker == 0 || a.Worker == b.Worker {
		t.Errorf("workers: A %d, B %d; want two different ones", a.Worker, b.Worker)
	}
	for _, rec := range []Record{a, b, again} {
		if len(rec.Logs) == 0 || !strings.HasPrefix(rec.Logs[0], fmt.Sprintf("logs/w%d-", rec.Worker)) {
			t.Errorf("experiment %d's logs %v are not its worker's", rec.N, rec.Logs)
		}
	}

	// The branch: baseline <- B <- A re-applied, nothing else.
	repo, err := git.PlainOpen(user)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("autoresearch/par"), true)
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	for h := ref.Hash(); ; {
		chain = append(chain, h.String())
		c, err := repo.CommitObject(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ParentHashes) != 1 || h.String() == base.Commit {
			break
		}
		h = c.ParentHashes[0]
	}
	if want := []string{again.Commit, b.Commit, base.Commit}; strings.Join(chain, " ") != strings.Join(want, " ") {
		t.Errorf("the branch is %v, want %v", chain, want)
	}

	// What the proposals saw: the second one, made while the first was
	// waiting (before it had a description), or after it, knows of it.
	fl, err := ReadInFlight(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(fl.Flights) != 0 || len(fl.Queue) != 0 {
		t.Errorf("inflight.json after the run: %+v, want nothing in flight", fl)
	}
}

// Workers on the status: each finished experiment names its worker.
func TestWorkersStatusNamesWorker(t *testing.T) {
	user := newUserRepo(t)
	var out strings.Builder
	var mu sync.Mutex
	rep := status.NewPlain(lockedWriter{&mu, &out})
	r, err := Setup(toyConfig(user, "st"), rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := &turns{list: []turn{
		{desc: "VALUE 1.0 -> 0.9", edit: set(t, "VALUE", "0.9")},
		{desc: "VALUE 1.0 -> 1.1", edit: set(t, "VALUE", "1.1")},
	}}
	if _, err := r.Loop(context.Background(), Options{Proposer: p, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"worker 1: training", "worker 2: training", "experiment 1 (worker ", "experiment 2 (worker "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the status output lacks %q:\n%s", want, out.String())
		}
	}
	if len(p.inFlight) != 2 {
		t.Fatalf("%d proposals, want 2", len(p.inFlight))
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// One seeding rule for the sweep: a proposal is drawn under the number of
// its experiment (the rows so far plus the experiments in flight before it),
// so the same --seed proposes the same changes with one worker or two. No
// change is kept here (an impossible threshold), so the state each proposal
// sees is the same too: with two workers, the other's change in flight
// counts as tried, as its result does with one.
func TestTheSweepProposesTheSameChangesWithOneWorkerOrTwo(t *testing.T) {
	t.Parallel()
	proposals := func(workers int) []string {
		r, err := Setup(toyConfig(newUserRepo(t), fmt.Sprintf("w%d", workers)), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		o := Options{Proposer: agent.NewSweep(11), MaxExperiments: 4, MinDelta: 100, Workers: workers}
		if _, err := r.Loop(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		var descs []string
		for _, row := range r.Rows()[1:] {
			descs = append(descs, row.Description)
		}
		slices.Sort(descs)
		return descs
	}
	one, two := proposals(1), proposals(2)
	if len(one) != 4 || !slices.Equal(one, two) {
		t.Errorf("the same seed proposed\n  %v with one worker\n  %v with two", one, two)
	}
}
