package experiment

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"autoresearch/internal/agent"
)

// BenchmarkExperimentOverhead measures the time an experiment spends outside
// training, phase by phase, with the toy program (which trains for 50 ms and
// evaluates nothing: a real trainer's evaluation comes on top). Each
// experiment lowers VALUE and is kept, so it pays guard, commit, build,
// start, run, records and the push back to the user's repository; ns/op
// minus the 50 ms of training is the whole overhead.
//
//	go test -run '^$' -bench ExperimentOverhead -benchtime 10x ./internal/experiment/
func BenchmarkExperimentOverhead(b *testing.B) {
	user := newUserRepo(b)
	r, err := Setup(toyConfig(user, "bench"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if err := r.Baseline(context.Background()); err != nil {
		b.Fatal(err)
	}
	ideas := make([]idea, b.N)
	for i := range ideas {
		v := fmt.Sprintf("%g", 0.9-float64(i)*1e-4)
		ideas[i] = idea{desc: "VALUE -> " + v, edit: set(b, "VALUE", v)}
	}
	b.ResetTimer()
	if _, err := r.Loop(context.Background(), Options{Proposer: newScripted(b, ideas...), MaxExperiments: b.N}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	recs, err := ReadRecords(filepath.Join(r.Dir, RecordsFile))
	if err != nil {
		b.Fatal(err)
	}
	sum := map[string]float64{}
	n := 0.0
	for _, rec := range recs[1:] {
		wall := rec.End.Sub(rec.Start).Seconds()
		sum["total-minus-training"] += wall - rec.Figures["training_seconds"] - rec.Seconds["propose"]
		for k, v := range rec.Seconds {
			sum[k] += v
		}
		sum["exit"] += rec.Seconds["run"] - rec.Figures["training_seconds"] - rec.Seconds["startup"]
		n++
	}
	keys := make([]string, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "propose" {
			b.ReportMetric(sum[k]/n*1000, k+"-ms/op")
		}
	}
}

var _ agent.Proposer = (*scripted)(nil)
