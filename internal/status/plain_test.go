package status

import (
	"strings"
	"testing"
	"time"

	"autoresearch/internal/results"
)

func TestPlainWritesOneLinePerEvent(t *testing.T) {
	var b strings.Builder
	p := NewPlain(&b)
	p.now = func() time.Time { return time.Date(2026, 11, 26, 3, 4, 5, 0, time.UTC) }
	var r Reporter = p
	r.Start(3)
	r.Phase(Training)
	for _, f := range []float64{0.01, 0.05, 0.12, 0.13, 0.5, 1} {
		r.Progress(f)
	}
	r.Done(results.Row{Commit: "abc1234", Value: 0.99, Status: results.Keep, Description: "halve\tLR"}, 0.99)
	r.Logf("stopped: %s", "interrupt")
	want := `03:04:05 experiment 3
03:04:05 experiment 3: training
03:04:05 experiment 3: training 10%
03:04:05 experiment 3: training 50%
03:04:05 experiment 3: training 100%
03:04:05 experiment 3: keep 0.990000 (best 0.990000) halve LR
03:04:05 stopped: interrupt
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
