package report

import (
	"autoresearch/internal/testfs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadWorkers(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.tsv")
	if w, err := ReadWorkers(results); w != nil || err != nil {
		t.Fatalf("a run without workers: %+v, %v; want nil", w, err)
	}
	recs := `{"n":0,"status":"keep"}
{"n":1,"status":"keep","worker":2}
{"n":2,"status":"discard","worker":1}
{"n":2,"status":"abandoned","worker":1}
{"n":3,"status":"crash","worker":1}
`
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	flights := `{"flights":[{"worker":2,"label":"w2-4","phase":"training","description":"DEPTH 8 -> 9","job":"4411","start":"2026-12-01T10:00:00Z"}],"queue":[{"description":"x"}]}`
	testfs.WriteFile(t, filepath.Join(dir, "experiments.jsonl"), []byte(recs), 0o644)
	testfs.WriteFile(t, filepath.Join(dir, "inflight.json"), []byte(flights), 0o644)
	w, err := ReadWorkers(results)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(w.Lines(start.Add(3*time.Minute)), "\n")
	want := `worker 1: 2 experiments (0 kept, 1 discarded, 1 crashed)
worker 2: 1 experiment (1 kept, 0 discarded, 0 crashed); now training "DEPTH 8 -> 9" (job 4411), for 3 min
1 change waiting to be re-applied on the current best`
	if got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
}
