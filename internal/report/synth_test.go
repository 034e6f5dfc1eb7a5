package report

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"autoresearch/harness"
	"autoresearch/internal/gitops"
	"autoresearch/internal/gitops/gittest"
	"autoresearch/internal/results"
	"autoresearch/internal/runs"
)

// synthOptions shapes a generated run.
type synthOptions struct {
	n           int
	higher      bool   // a higher-is-better metric (a Sharpe ratio) instead of val_bpb
	task        string // run.json's task file; "" for the built-in GPT task
	onlyCrashes bool
	workers     int  // parallel workers; 0 for one
	llm         bool // proposed by an LLM (tokens, transcripts) instead of the sweep
	inFlight    bool // inflight.json names an experiment of worker 1
}

// synthStart is when generated runs begin.
var synthStart = time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)

// synthConsts are the knobs of the generated editable file.
var synthConsts = []string{"LR", "DEPTH", "WARMUP", "DECAY", "BATCH", "HEADS"}

// synthRun makes a run folder as "autoresearch run" leaves it: run.json,
// results.tsv, experiments.jsonl with every field the page shows, and the
// run's clone holding every experiment's commit under its reference, each
// changing one constant of train.go. It returns the results file's path and
// the time the run ended.
func synthRun(t testing.TB, o synthOptions) (string, time.Time) {
	t.Helper()
	tag := "synth"
	src := t.TempDir()
	vals := map[string]int{}
	for i, c := range synthConsts {
		vals[c] = 10 * (i + 1)
	}
	if err := os.WriteFile(filepath.Join(src, "train.go"), trainFile(vals), 0o644); err != nil {
		t.Fatal(err)
	}
	user := gittest.CommitTree(t, src, "the project")
	dir := runs.RunDir(user, tag)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clone, err := gitops.Clone(user, filepath.Join(dir, runs.WorktreeDir), "autoresearch/"+tag)
	if err != nil {
		t.Fatal(err)
	}
	base, err := clone.Head()
	if err != nil {
		t.Fatal(err)
	}
	// The experiments' commits are written as objects, without checking
	// them out: a long run is made in a second.
	repo, err := git.PlainOpen(clone.Dir())
	if err != nil {
		t.Fatal(err)
	}

	metric, sign, best := "val_bpb", 1.0, 1.0 // sign: +1 when lower is better
	if o.higher {
		metric, sign, best = "sharpe", -1.0, -0.12
	}
	const sigma, threshold = 0.0015, 0.003
	source, profile := o.task, ""
	if source == "" {
		source, profile = "gpt", "smoke"
	}
	cfg := map[string]any{
		"version": 2, "tag": tag, "repo": user, "branch": "autoresearch/" + tag, "base_commit": base, "created": synthStart,
		"noise": map[string]any{"values": []float64{best - sigma, best, best + sigma}, "sigma": sigma, "mean": best},
		"task": map[string]any{
			"source": source, "profile": profile, "device": map[string]any{"name": "cpu"}, "editable": []string{"train.go"},
			"metric": map[string]any{"name": metric, "lower_is_better": !o.higher}, "budget_seconds": 300,
		},
	}
	writeJSON(t, filepath.Join(dir, runs.ConfigFile), cfg)

	rng := rand.New(rand.NewPCG(7, uint64(o.n)))
	var tsv, jsonl strings.Builder
	tsv.WriteString(results.Header(metric) + "\n")
	parent, bestVals := base, vals
	lanes := max(o.workers, 1)
	clock := make([]time.Time, lanes)
	for i := range clock {
		clock[i] = synthStart
	}
	proposer := "sweep"
	if o.llm {
		proposer = "llm:test-model"
	}
	for n := range o.n {
		worker := 0
		if o.workers > 0 {
			worker = n%o.workers + 1
		}
		lane := max(worker-1, 0)
		start := clock[lane]
		took := time.Duration(240+rng.IntN(120)) * time.Second
		clock[lane] = start.Add(took)
		rec := map[string]any{"n": n, "parent": parent, "metric": metric, "threshold": threshold, "sigma": sigma,
			"start": start, "end": start.Add(took), "proposer": proposer, "worker": worker,
			"seconds": map[string]float64{"propose": 3, "commit": 0.2, "build": 4.5, "run": took.Seconds() - 8},
			"logs":    []string{fmt.Sprintf("logs/%d.log", n)}}
		cand := map[string]int{}
		for k, v := range bestVals {
			cand[k] = v
		}
		desc := "baseline"
		commit := base
		if n > 0 {
			knob := synthConsts[rng.IntN(len(synthConsts))]
			cand[knob] = bestVals[knob] + 1 + rng.IntN(5)
			desc = fmt.Sprintf("%s %d -> %d", knob, bestVals[knob], cand[knob])
			if n%50 == 7 {
				desc += ` <script>alert("x")</script> & more`
			}
			commit = commitFile(t, repo, parent, trainFile(cand), desc, start)
			rec["diff"] = map[string]int{"files": 1, "additions": 1, "deletions": 1}
		}
		if err := clone.SetRef(runs.ExperimentRef(tag, n), commit); err != nil {
			t.Fatal(err)
		}
		rec["commit"], rec["description"] = commit, desc

		row := results.Row{Commit: commit[:7], Description: desc, MemoryGB: 0.5}
		switch {
		case o.onlyCrashes || (n > 0 && n%13 == 5):
			row.Status = results.Crash
			rec["crash"], rec["reason"] = "runtime", "out of memory: <tensor> needs 12 GB"
			if !o.higher {
				row.MemoryGB = 0
			}
		case n == 0:
			row.Status, row.Value = results.Keep, best
		default:
			// Mostly a little worse than the best, sometimes better by more
			// than the threshold.
			row.Value = best + sign*(0.004-0.01*rng.Float64())
			row.Status = results.Discard
			if sign*(best-row.Value) > threshold {
				row.Status, best = results.Keep, row.Value
				parent, bestVals = commit, cand
				rec["measurements"] = []float64{row.Value - sigma/2, row.Value + sigma/2}
			}
		}
		rec["status"], rec["value"], rec["best"], rec["memory_gb"] = string(row.Status), row.Value, best, row.MemoryGB
		if row.Status != results.Crash {
			var curve []harness.CurvePoint
			for k := 1; k <= 10; k++ {
				curve = append(curve, harness.CurvePoint{Progress: float64(k) / 10, Step: 40 * k, Loss: 3.5 - 2.5*float64(k)/10 + 0.05*rng.Float64()})
			}
			rec["curve"] = curve
			rec["figures"] = map[string]float64{"mfu": 0.12, "tokens_per_sec": 21000 + float64(rng.IntN(500))}
		}
		if o.llm {
			rec["prompt_tokens"], rec["completion_tokens"], rec["tool_calls"] = 9000+n, 700+n, 4
			rec["transcripts"] = []string{fmt.Sprintf("transcripts/%d.json", n)}
		}
		tsv.WriteString(row.Format() + "\n")
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		jsonl.Write(append(b, '\n'))
	}
	resultsPath := filepath.Join(dir, runs.ResultsFile)
	writeFile(t, resultsPath, tsv.String())
	writeFile(t, filepath.Join(dir, runs.ExperimentsFile), jsonl.String())
	end := synthStart
	for _, c := range clock {
		if c.After(end) {
			end = c
		}
	}
	if o.inFlight {
		writeJSON(t, filepath.Join(dir, runs.FlightsFile), map[string]any{"flights": []map[string]any{
			{"worker": 1, "phase": "training", "description": "DEPTH 8 -> 9", "start": end.Add(-2 * time.Minute)}}})
	}
	return resultsPath, end
}

// commitFile stores a commit of parent whose tree holds train.go with the
// given content, and returns its hash.
func commitFile(t testing.TB, repo *git.Repository, parent string, content []byte, msg string, when time.Time) string {
	t.Helper()
	store := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := repo.Storer.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			t.Fatal(err)
		}
		h, err := repo.Storer.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	blob := repo.Storer.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	w, err := blob.Writer()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	w.Close()
	blobHash, err := repo.Storer.SetEncodedObject(blob)
	if err != nil {
		t.Fatal(err)
	}
	tree := store(&object.Tree{Entries: []object.TreeEntry{{Name: "train.go", Mode: filemode.Regular, Hash: blobHash}}})
	sig := object.Signature{Name: "autoresearch", Email: "autoresearch@localhost", When: when}
	return store(&object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: []plumbing.Hash{plumbing.NewHash(parent)}}).String()
}

// trainFile is the generated editable file with the given constants.
func trainFile(vals map[string]int) []byte {
	var b strings.Builder
	b.WriteString("package main\n\n// Hyperparameters: edit these directly.\nconst (\n")
	for _, c := range synthConsts {
		fmt.Fprintf(&b, "\t%s = %d\n", c, vals[c])
	}
	b.WriteString(")\n\nfunc main() {}\n")
	return []byte(b.String())
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b)+"\n")
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
