package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/cost"
	"autoresearch/internal/results"
)

// The live line speaks of a task file's program in its own word, says what
// the experiment tries, and, with prices, what the LLM has cost.
func TestLiveLineSaysWhatIsTriedInTheTasksWordsAndWhatItCost(t *testing.T) {
	var b bytes.Buffer
	l, c := newTestLive(&b, 200)
	SetWord(l, "running")
	Spent(l, cost.Spend{})
	l.Start(0)
	l.Phase(Training)
	l.Progress(0.5)
	if got := screen(b.String()); got[len(got)-1] != "baseline · running 50% · 0s · $0.00" {
		t.Errorf("live line %q", got[len(got)-1])
	}
	c.advance(2 * time.Minute)
	l.Done(results.Row{Value: 0.5, Status: results.Keep, Description: "baseline"}, 0.5)
	l.Start(1)
	l.Phase(Proposing)
	Spent(l, cost.Spend{Dollars: 0.12})
	Trying(l, 0, "LAGS 4 -> 8, a longer memory for the autoregression")
	l.Phase(Training)
	l.Progress(0.25)
	if got := screen(b.String()); got[len(got)-1] != "experiment 1: LAGS 4 -> 8, a longer memory for the au… · running 25% · 0s · best 0.500000 · 30.0/h · $0.12" {
		t.Errorf("live line %q", got[len(got)-1])
	}
	l.Done(results.Row{Value: 0.4, Status: results.Keep, Description: "LAGS 4 -> 8"}, 0.4)
	Spent(l, cost.Spend{Dollars: 0.12, Experiments: 1, Keeps: 1})
	l.Start(2)
	if got := screen(b.String()); got[len(got)-1] != "experiment 2 · 0s · best 0.400000 · 60.0/h · $0.12 ($0.12/exp, $0.12/keep)" {
		t.Errorf("a new experiment still shows the last one's description: %q", got[len(got)-1])
	}
}

// Without a word the program trains, as the GPT does.
func TestLiveLineTrainsByDefault(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 200)
	SetWord(l, "")
	l.Start(1)
	l.Progress(0.4)
	if got := screen(b.String()); got[len(got)-1] != "experiment 1 · training 40% · 0s" {
		t.Errorf("live line %q", got[len(got)-1])
	}
}

func TestLiveWorkersLineSaysWhatEachTries(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 200)
	SetWord(l, "running")
	w1, w2 := ForWorker(l, 1), ForWorker(l, 2)
	w1.Start(1)
	w2.Start(2)
	Trying(l, 1, "RIDGE 1.0 -> 0.5")
	w1.Progress(0.3)
	w2.Phase(Proposing)
	if got := screen(b.String()); got[len(got)-1] != "w1 RIDGE 1.0 -> 0.5: running 30% 0s · w2 proposing 0s" {
		t.Errorf("workers line %q", got[len(got)-1])
	}
}

func TestPlainSaysWhatIsTriedAndWhatItCost(t *testing.T) {
	var b strings.Builder
	p := NewPlain(&b)
	p.now = func() time.Time { return time.Date(2026, 11, 26, 3, 4, 5, 0, time.UTC) }
	SetWord(p, "running")
	Spent(p, cost.Spend{})
	p.Start(1)
	Trying(p, 0, "LAGS 4 -> 8")
	p.Phase(Training)
	p.Progress(0.5)
	Spent(p, cost.Spend{Dollars: 0.03}) // a proposal's tokens: no line
	p.Done(results.Row{Value: 0.4, Status: results.Keep, Description: "LAGS 4 -> 8"}, 0.4)
	Spent(p, cost.Spend{Dollars: 0.03, Experiments: 1, Keeps: 1})
	want := `03:04:05 LLM cost so far: $0.00
03:04:05 experiment 1
03:04:05 experiment 1: trying LAGS 4 -> 8
03:04:05 experiment 1: running
03:04:05 experiment 1: running 50%
03:04:05 experiment 1: keep 0.400000 (best 0.400000) LAGS 4 -> 8
03:04:05 LLM cost so far: $0.03: $0.03 per experiment, $0.03 per kept change
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
