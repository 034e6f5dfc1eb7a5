package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"autoresearch/internal/agent"
	"autoresearch/internal/results"
	"autoresearch/internal/testfs"
)

// One run through every way an experiment can end. Its results.tsv is
// compared byte for byte with testdata/loop.tsv (go test -update rewrites it).
func TestLoopKeepsDiscardsAndCrashes(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	rep := &recorder{}
	r, err := Setup(toyConfig(user, "t1"), rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fixClock(r)
	var checks []bool
	check := func(req agent.Request) {
		_, ok := req.Check(context.Background())
		checks = append(checks, ok)
	}
	p := newScripted(t,
		idea{desc: "VALUE 1.0 -> 0.9", edit: func(req agent.Request) { set(t, "VALUE", "0.9")(req); check(req) }},
		idea{desc: "VALUE 0.9 -> 0.95", edit: set(t, "VALUE", "0.95")},
		idea{desc: "VALUE 0.9 -> 0.90 (equal is not better)", edit: set(t, "VALUE", "0.90")},
		idea{desc: "a typo, fixed on the second attempt",
			edit:  func(req agent.Request) { set(t, "VALUE", "0.8 +")(req); check(req) },
			fixes: []func(agent.Request){set(t, "VALUE", "0.8 ++"), set(t, "VALUE", "0.8")}},
		idea{desc: "index past the end", edit: set(t, "MODE", `"panic"`)},
		idea{desc: "loss goes NaN", edit: set(t, "MODE", `"fail"`)},
		idea{desc: "never ends", edit: set(t, "MODE", `"hang"`), fixes: []func(agent.Request){set(t, "MODE", `"ok"`)}},
		idea{desc: "forgets the summary", edit: set(t, "MODE", `"nosummary"`)},
		idea{desc: "edits the harness", edit: func(req agent.Request) {
			set(t, "VALUE", "0.1")(req)
			appendTo(t, filepath.Join(req.Worktree, "harness", "harness.go"), "\nvar Cheat = true\n")
		}},
		// The repair's description names the change as it ran: it replaces the first one.
		idea{desc: "VALUE 0.7, with a panic", edit: set(t, "MODE", `"panic"`, "VALUE", "0.7"), fixes: []func(agent.Request){set(t, "MODE", `"ok"`)},
			fixDesc: "a panic, fixed"},
		idea{desc: "changes nothing", edit: func(agent.Request) {}},
		idea{desc: "VALUE 0.7 -> 0.75", edit: set(t, "VALUE", "0.75")},
	)
	stop, err := r.Loop(context.Background(), Options{Proposer: p, FixAttempts: 3})
	if err != nil || stop != StopExhausted {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}

	got := testfs.ReadFile(t, filepath.Join(r.Dir, ResultsFile))
	golden := filepath.Join("testdata", "loop.tsv")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("results.tsv differs from %s:\n got:\n%s\nwant:\n%s", golden, got, want)
	}

	recs, err := ReadRecords(filepath.Join(r.Dir, RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	byN := map[int]Record{}
	abandoned := 0
	for _, rec := range recs {
		if rec.Status == "abandoned" {
			abandoned++
			continue
		}
		byN[rec.N] = rec
	}
	if len(byN) != 12 || abandoned != 1 {
		t.Fatalf("%d numbered records and %d abandoned, want 12 and 1", len(byN), abandoned)
	}
	if !rep.logged("experiment 11: proposal abandoned: it changed nothing") {
		t.Errorf("the abandoned proposal was logged as %q", rep.logs)
	}
	crashes := map[int]string{5: "runtime", 6: "runtime", 7: "timeout", 8: "runtime", 9: "guard"}
	for n, kind := range crashes {
		if byN[n].Status != "crash" || byN[n].Crash != kind {
			t.Errorf("experiment %d: %s/%s, want crash/%s (%s)", n, byN[n].Status, byN[n].Crash, kind, byN[n].Reason)
		}
	}
	for n, sub := range map[int]string{5: "index out of range", 6: "FAIL", 7: "hard limit", 8: "no summary", 9: "harness/harness.go"} {
		if !strings.Contains(byN[n].Reason, sub) {
			t.Errorf("experiment %d reason %q lacks %q", n, byN[n].Reason, sub)
		}
	}
	if rec := byN[4]; rec.Status != "keep" || rec.FixAttempts != 2 ||
		!reflect.DeepEqual(rec.Logs, []string{"logs/4.log", "logs/4-fix1.log", "logs/4-fix2.log"}) || rec.PromptTokens != 200 {
		t.Errorf("the fixed typo: %+v", rec)
	}
	if f := p.failures[4]; len(f) != 2 || f[0].Kind != "build" || f[1].Attempt != 2 || !strings.Contains(f[0].Output, "syntax error") {
		t.Errorf("repairs of the typo saw %+v", f)
	}
	if f := p.failures[5]; len(f) != 1 || f[0].Kind != "runtime" || !strings.Contains(f[0].Output, "index out of range") {
		t.Errorf("the panic's repair saw %+v", f)
	}
	if f, ok := p.failures[7]; ok {
		t.Errorf("a timeout went to Repair: %+v", f)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "logs", "9.log")); !os.IsNotExist(err) {
		t.Errorf("the guard violation was built or run: %v", err)
	}
	if rec := byN[10]; rec.Status != "keep" || rec.FixAttempts != 1 || rec.Value != 0.7 || rec.Diff.Files != 1 {
		t.Errorf("the fixed panic: %+v", rec)
	}
	if rec := byN[1]; rec.Figures["training_seconds"] <= 0 || rec.Source != "json" || rec.MemoryGB != 0.5 || rec.Seconds["build"] <= 0 {
		t.Errorf("experiment 1's figures and timings: %+v", rec)
	}
	// How training went reaches the record and the next proposals: the
	// last experiment's and the best's curves.
	if rec := byN[1]; len(rec.Curve) != 1 || rec.Curve[0].Loss != 0.9 || rec.Figures["tokens_per_sec"] != 1000 {
		t.Errorf("experiment 1's curve %v, figures %v", rec.Curve, rec.Figures)
	}
	if req := p.requests[3]; req.Last == nil || req.Best == nil || len(req.Last.Curve) != 1 || req.Last.Curve[0].Loss != 0.95 ||
		req.Best.Value != 0.9 || len(req.Best.Curve) != 1 || req.Best.Curve[0].Loss != 0.9 {
		t.Errorf("experiment 3 was proposed knowing last %+v and best %+v", req.Last, req.Best)
	}
	if !slices.Contains(rep.phases, "warm-up") {
		t.Errorf("the reporter never heard of the warm-up: %v", rep.phases)
	}
	if !reflect.DeepEqual(checks, []bool{true, false}) {
		t.Errorf("Check results %v, want a build then a compile error", checks)
	}

	// The branch holds exactly the kept commits, and the user's repository has it.
	var kept []string
	for _, n := range []int{10, 4, 1} {
		kept = append(kept, byN[n].Commit)
	}
	kept = append(kept, r.Config.BaseCommit)
	wt, _ := git.PlainOpen(r.Worktree())
	head, _ := wt.Head()
	var chain []string
	for h := head.Hash(); ; {
		chain = append(chain, h.String())
		if h.String() == r.Config.BaseCommit {
			break
		}
		c, err := wt.CommitObject(h)
		if err != nil {
			t.Fatal(err)
		}
		h = c.ParentHashes[0]
	}
	if !reflect.DeepEqual(chain, kept) {
		t.Errorf("branch history %v\nwant kept commits %v", chain, kept)
	}
	u, _ := git.PlainOpen(user)
	ref, err := u.Reference(plumbing.NewBranchReferenceName("autoresearch/t1"), false)
	if err != nil || ref.Hash().String() != kept[0] {
		t.Errorf("the user's autoresearch/t1 is %v (%v), want %s", ref, err, kept[0])
	}
	if err := r.repo.Guard(r.Kept(), nil); err != nil {
		t.Errorf("the worktree is not the last kept commit: %v", err)
	}
	if best, _ := r.Best(); best != 0.7 {
		t.Errorf("best %v", best)
	}
}

func TestBaselineCrashRecordsNothing(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	setConst(t, user, "MODE", `"panic"`)
	w, _ := git.PlainOpen(user)
	wt, _ := w.Worktree()
	if _, err := wt.Add("gpt/train.go"); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("broken", &git.CommitOptions{Author: sigAt(epoch)}); err != nil {
		t.Fatal(err)
	}
	r, err := Setup(toyConfig(user, "t1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.Baseline(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the baseline crashed (runtime: panic: runtime error: index out of range") ||
		!strings.Contains(err.Error(), "logs/0.log") {
		t.Fatalf("baseline error: %v", err)
	}
	f, rerr := results.ReadFile(filepath.Join(r.Dir, ResultsFile))
	if rerr != nil || len(f.Rows) != 0 {
		t.Errorf("rows %v (%v) after a crashed baseline", f.Rows, rerr)
	}
	if !strings.Contains(err.Error(), "set up run t1 again") {
		t.Errorf("the error does not say how to go on: %v", err)
	}
	r.Close()

	// The fix committed, the same tag is set up afresh from the new HEAD.
	setConst(t, user, "MODE", `"ok"`)
	if _, err := wt.Add("gpt/train.go"); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("fixed", &git.CommitOptions{Author: sigAt(epoch.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	rep := &recorder{}
	r2, err := Setup(toyConfig(user, "t1"), rep)
	if err != nil {
		t.Fatalf("setting the tag up again: %v", err)
	}
	defer r2.Close()
	if !rep.logged("run t1 never recorded a baseline; setting it up again") {
		t.Errorf("no message about the reuse: %v", rep.logs)
	}
	if err := r2.Baseline(context.Background()); err != nil {
		t.Fatalf("the fixed baseline: %v", err)
	}
	if _, err := Setup(toyConfig(user, "t1"), nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a run with a baseline was set up again: %v", err)
	}
}

// unreachable is a proposer whose every proposal is abandoned, like an LLM
// agent whose server went away during the night.
type unreachable struct{}

func (unreachable) Name() string { return "llm:gone" }
func (unreachable) Propose(_ context.Context, req agent.Request) (agent.Proposal, error) {
	req.Note("LLM request failed (connection refused): retry %d of %d in %s", 1, 1, "1s")
	return agent.Proposal{}, fmt.Errorf("%w: the LLM request failed: connection refused", agent.ErrAbandoned)
}
func (unreachable) Repair(context.Context, agent.Request, agent.Failure) (agent.Proposal, error) {
	return agent.Proposal{}, agent.ErrGaveUp
}

func TestLoopStopsAfterAbandonmentsAndSaysWhy(t *testing.T) {
	t.Parallel()
	rep := &recorder{}
	r, err := Setup(toyConfig(newUserRepo(t), "t1"), rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Loop(context.Background(), Options{Proposer: unreachable{}})
	if err == nil || !strings.Contains(err.Error(), "abandoned 5 proposals in a row, the last with \"proposal abandoned: the LLM request failed: connection refused\"") {
		t.Errorf("loop ended with %v", err)
	}
	// The proposer's notes reach the user while it works.
	if !rep.logged("experiment 1: LLM request failed (connection refused): retry 1 of 1 in 1s") {
		t.Errorf("logged %q", rep.logs)
	}
}
