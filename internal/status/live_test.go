package status

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/results"
	"autoresearch/internal/testfs"
)

// clock is a settable time source for the reporters.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLive(w *bytes.Buffer, cols int) (*Live, *clock) {
	c := &clock{time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)}
	l := NewFor(w, true).(*Live)
	l.now = c.now
	l.width = func() int { return cols }
	return l, c
}

// screen replays what a terminal shows for output with \r, the erase-line
// sequence and newlines: the finished lines and the live line last.
func screen(out string) []string {
	lines := []string{""}
	for _, seg := range strings.SplitAfter(out, "\n") {
		for i, part := range strings.Split(strings.TrimSuffix(seg, "\n"), "\r") {
			if i > 0 {
				lines[len(lines)-1] = ""
			}
			lines[len(lines)-1] += strings.ReplaceAll(part, "\x1b[K", "")
		}
		if strings.HasSuffix(seg, "\n") {
			lines = append(lines, "")
		}
	}
	return lines
}

func TestLiveLine(t *testing.T) {
	var b bytes.Buffer
	l, c := newTestLive(&b, 200)
	l.Start(0)
	l.Phase(Training)
	l.Progress(0.5)
	c.advance(5 * time.Minute)
	l.Done(results.Row{Commit: "a1b2c3d", Value: 1.25, Status: results.Keep, Description: "baseline"}, 1.25)
	l.Start(1)
	l.Phase(Proposing)
	if got := screen(b.String()); got[len(got)-1] != "experiment 1 · proposing · 0s · best 1.250000 · 12.0/h" {
		t.Errorf("live line %q", got[len(got)-1])
	}
	l.Phase(Building)
	c.advance(65 * time.Second)
	l.Phase(Training)
	l.Progress(0.427)
	l.Logf("note: %s", "disk at 91%")
	s := screen(b.String())
	want := []string{
		"22:05:00 baseline: keep 1.250000 (best 1.250000) baseline",
		"22:06:05 note: disk at 91%",
		"experiment 1 · training 43% · 1m05s · best 1.250000 · 9.9/h",
	}
	if strings.Join(s, "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}
	if strings.Count(b.String(), "\n") != 2 {
		t.Errorf("the live line printed newlines: %q", b.String())
	}
}

// Progress redraws only when the whole percentage changes.
func TestLiveProgressIsThrottled(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 200)
	l.Start(3)
	l.Phase(Training)
	before := strings.Count(b.String(), "\r")
	for i := 0; i <= 1000; i++ {
		l.Progress(float64(i) / 1000)
	}
	// 0 % to 100 %: the phase alone shows no percentage.
	if n := strings.Count(b.String(), "\r") - before; n != 101 {
		t.Errorf("%d redraws for 1000 progress reports, want 101", n)
	}
	if s := screen(b.String()); !strings.HasPrefix(s[len(s)-1], "experiment 3 · training 100%") {
		t.Errorf("live line %q", s[len(s)-1])
	}
}

// The line is cut to the terminal's width, so it never wraps (a wrapped line
// cannot be redrawn with \r).
func TestLiveFitsTheTerminal(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 20)
	l.Start(12)
	l.Phase(Evaluating)
	s := screen(b.String())
	if got := s[len(s)-1]; got != "experiment 12 · ev…" {
		t.Errorf("line %q, want it cut to 19 columns", got)
	}
}

func TestNewPicksByTerminal(t *testing.T) {
	var b bytes.Buffer
	if _, ok := New(&b).(*Plain); !ok {
		t.Error("a buffer got a live line")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := New(f)
	if _, ok := r.(*Plain); !ok {
		t.Error("a file got a live line")
	}
	r.Start(1)
	r.Progress(0.5)
	f.Sync()
	raw := testfs.ReadFile(t, f.Name())
	if strings.Contains(string(raw), "\r") || !strings.Contains(string(raw), "experiment 1: training 50%\n") {
		t.Errorf("file output %q", raw)
	}
	if _, ok := NewFor(&b, true).(*Live); !ok {
		t.Error("NewFor(w, true) is not Live")
	}
}

func TestFinishErasesTheLine(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 80)
	l.Start(4)
	l.Phase(Building)
	Finish(l)
	if s := screen(b.String()); len(s) != 1 || s[0] != "" {
		t.Errorf("screen after Finish: %q", s)
	}
	Finish(l) // twice is harmless
	var p bytes.Buffer
	Finish(NewPlain(&p))
	if p.Len() != 0 {
		t.Errorf("Finish wrote %q to a plain reporter", p.String())
	}
}

func TestLiveShowsTheBestOfAResumedRun(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 200)
	Resumed(l, 0.987654)
	l.Start(12)
	l.Phase(Training)
	if got := screen(b.String()); got[len(got)-1] != "experiment 12 · training · 0s · best 0.987654" {
		t.Errorf("live line %q", got[len(got)-1])
	}
	Resumed(NewPlain(&b), 1) // a reporter without a best to show: nothing happens
	Resumed(Nop{}, 1)
}

// A note (a drift of the best) stays on the live line, reached through a
// reporter that wraps it, until cleared; with workers too.
func TestLiveLineShowsANote(t *testing.T) {
	var b bytes.Buffer
	l, _ := newTestLive(&b, 200)
	Resumed(wrapped{l}, 0.5)
	l.Start(3)
	Note(wrapped{l}, "best drifted +3.4 SE: re-measuring")
	if got := screen(b.String()); got[len(got)-1] != "experiment 3 · 0s · best 0.500000 · best drifted +3.4 SE: re-measuring" {
		t.Errorf("live line %q", got[len(got)-1])
	}
	w := ForWorker(l, 2)
	w.Start(0)
	if got := screen(b.String()); !strings.HasSuffix(got[len(got)-1], "best 0.500000 · best drifted +3.4 SE: re-measuring") || !strings.HasPrefix(got[len(got)-1], "w2 ") {
		t.Errorf("live line with a worker %q", got[len(got)-1])
	}
	Note(w, "")
	if got := screen(b.String()); strings.Contains(got[len(got)-1], "drifted") {
		t.Errorf("a cleared note is still shown: %q", got[len(got)-1])
	}
	Note(NewPlain(&b), "x") // a reporter without a live line: nothing happens
	Note(Nop{}, "x")
}

// wrapped is a reporter that wraps another, as the loop's do.
type wrapped struct{ Reporter }

func (w wrapped) Unwrap() Reporter { return w.Reporter }

func TestLiveLineShowsTheWarmup(t *testing.T) {
	var b bytes.Buffer
	l, c := newTestLive(&b, 200)
	l.Start(2)
	l.Phase(WarmingUp)
	c.advance(3 * time.Second)
	l.Phase(WarmingUp)
	if got := screen(b.String()); got[len(got)-1] != "experiment 2 · warm-up · 3s" {
		t.Errorf("live line %q", got[len(got)-1])
	}
}
