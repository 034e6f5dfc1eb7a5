package experiment

import (
	"context"
	"strings"
	"testing"

	"autoresearch/internal/cost"
)

// --max-cost stops proposing once the run's LLM spend reaches it: the
// scripted proposer reports 100 prompt and 10 completion tokens a proposal,
// $0.11 at $1000 per million; a limit of $0.20 is reached by the second
// proposal, whose experiment is finished and recorded, with the prices.
// Resumed with the same limit, the run's whole spend counts, at the prices
// its records hold: it stops before proposing.
func TestLoopStopsAtMaxCost(t *testing.T) {
	user := newUserRepo(t)
	rep := &recorder{}
	r, err := Setup(toyConfig(user, "cost"), rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := newScripted(t,
		idea{desc: "VALUE 1.0 -> 0.9", edit: set(t, "VALUE", "0.9")},
		idea{desc: "VALUE 0.9 -> 0.8", edit: set(t, "VALUE", "0.8")},
		idea{desc: "VALUE 0.8 -> 0.7", edit: set(t, "VALUE", "0.7")},
	)
	prices := cost.Prices{In: 1000, Out: 1000}
	stop, err := r.Loop(context.Background(), Options{Proposer: p, Prices: prices, MaxCost: 0.2})
	if err != nil || stop != StopMaxCost {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}
	if n := len(r.Rows()); n != 3 || p.next != 2 {
		t.Fatalf("%d rows after %d proposals, want the baseline and 2 experiments", n, p.next)
	}
	perProposal := prices.Of(100, 10)
	want := cost.Spend{Dollars: 2 * perProposal, Experiments: 2, Keeps: 2}
	if got := r.Spend(); got != want {
		t.Errorf("spend %+v, want %+v", got, want)
	}
	if !rep.logged("max-cost $0.20 reached: the LLM has cost $0.22; no new proposals") {
		t.Errorf("the stop was not announced: %q", rep.logs)
	}
	recs, err := ReadRecords(r.path(RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[1:] {
		if rec.Prices != prices {
			t.Errorf("experiment %d recorded prices %+v, want %+v", rec.N, rec.Prices, prices)
		}
	}
	if recs[0].Prices.Known() {
		t.Errorf("the baseline, which cost nothing, recorded prices %+v", recs[0].Prices)
	}

	// Resumed at other prices: the records' own prices price their tokens.
	stop, err = r.Loop(context.Background(), Options{Proposer: p, Prices: cost.Prices{In: 1, Out: 1}, MaxCost: 0.2})
	if err != nil || stop != StopMaxCost || len(r.Rows()) != 3 || p.next != 2 {
		t.Errorf("resumed: %q, %v, %d rows, %d proposals; want a stop before any proposal", stop, err, len(r.Rows()), p.next)
	}
}

// With two workers, the experiment in flight when the limit is reached is
// finished and recorded, and the stop says so; nothing new starts.
func TestMaxCostFinishesTheExperimentsInFlight(t *testing.T) {
	user := newUserRepo(t)
	rep := &keepSignal{kept: make(chan struct{})}
	r, err := Setup(toyConfig(user, "cost2"), rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := &turns{list: []turn{
		{desc: "VALUE 1.0 -> 0.9", edit: set(t, "VALUE", "0.9"), tokens: 1000},
		{desc: "VALUE 1.0 -> 1.5", edit: set(t, "VALUE", "1.5"), after: rep.kept},
		{desc: "VALUE 1.0 -> 0.5", edit: set(t, "VALUE", "0.5")},
	}}
	stop, err := r.Loop(context.Background(), Options{Proposer: p, Workers: 2, Prices: cost.Prices{In: 10}, MaxCost: 0.01})
	if err != nil || stop != StopMaxCost {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}
	var got []string
	for _, row := range r.Rows() {
		got = append(got, string(row.Status)+" "+row.Description)
	}
	if want := []string{"keep baseline", "keep VALUE 1.0 -> 0.9", "discard VALUE 1.0 -> 1.5"}; strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("rows %q, want %q", got, want)
	}
	if len(p.list) != 1 {
		t.Errorf("%d turns left, want the one never proposed", len(p.list))
	}
	if !rep.logged("max-cost $0.01 reached: the LLM has cost $0.01; no new proposals; finishing the experiment in flight") {
		t.Errorf("the stop did not say it finishes the experiment in flight: %q", rep.logs)
	}
	if s := r.Spend(); s.Experiments != 2 || s.Keeps != 1 {
		t.Errorf("spend %+v", s)
	}
}
