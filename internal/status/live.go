package status

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"autoresearch/internal/cost"
	"autoresearch/internal/results"
)

// New returns the reporter that suits w: a Live line when w is a terminal,
// Plain log lines otherwise (a file, a pipe, a CI log).
func New(w io.Writer) Reporter { return NewFor(w, isTerminal(w)) }

// NewFor returns a Live reporter when terminal is true, else a Plain one; for
// callers that decide themselves (a --no-live flag, tests).
func NewFor(w io.Writer, terminal bool) Reporter {
	if terminal {
		return NewLive(w)
	}
	return NewPlain(w)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Live keeps one status line at the bottom of a terminal, redrawn in place
// with a carriage return: the experiment, its phase and training progress,
// the best value so far and the experiments per hour. Finished experiments
// and messages are printed above it as permanent lines.
type Live struct {
	mu    sync.Mutex
	w     io.Writer
	now   func() time.Time
	width func() int // terminal columns; the line is cut to fit so it never wraps

	n        int
	phase    Phase
	pct      int // training progress in percent; -1 when not training
	best     float64
	done     int
	first    time.Time // the first experiment's start
	expStart time.Time // the current experiment's start
	shown    bool      // a status line is on screen
	note     string    // see Note
	workers  map[int]*worker
	spend    *cost.Spend // the LLM's cost so far, when priced
	word     string      // the task's word for a run of its program
	desc     string      // what the experiment tries, once known
}

// NewLive returns a Live reporter writing to w, sized to w's terminal when w
// is one (80 columns otherwise).
func NewLive(w io.Writer) *Live {
	l := &Live{w: w, now: time.Now, best: math.NaN(), pct: -1, width: func() int { return 80 }}
	if f, ok := w.(*os.File); ok {
		l.width = func() int {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
			return 80
		}
	}
	return l
}

// line is the status line's text.
func (l *Live) line() string {
	if len(l.workers) > 0 {
		return l.workersLine()
	}
	var parts []string
	switch {
	case l.n == 0:
		parts = append(parts, "baseline")
	case l.desc != "":
		parts = append(parts, fmt.Sprintf("experiment %d: %s", l.n, cut(l.desc, maxDescription)))
	default:
		parts = append(parts, fmt.Sprintf("experiment %d", l.n))
	}
	if l.phase != "" {
		parts = append(parts, phaseText(l.phase, l.pct, l.word))
	}
	parts = append(parts, shortDuration(l.now().Sub(l.expStart)))
	if !math.IsNaN(l.best) {
		parts = append(parts, fmt.Sprintf("best %.6f", l.best))
	}
	if l.note != "" {
		parts = append(parts, l.note)
	}
	// The rate means little in the first minute.
	if elapsed := l.now().Sub(l.first); l.done > 0 && elapsed >= time.Minute {
		hours := elapsed.Hours()
		parts = append(parts, fmt.Sprintf("%.1f/h", float64(l.done)/hours))
	}
	if l.spend != nil {
		parts = append(parts, shortSpend(*l.spend))
	}
	return strings.Join(parts, " · ")
}

// redraw writes the status line over the current one.
func (l *Live) redraw() {
	text := fit(l.line(), l.width()-1)
	fmt.Fprintf(l.w, "\r%s\x1b[K", text)
	l.shown = true
}

// println prints a permanent line where the status line is, then redraws
// the status line below it if one was shown.
func (l *Live) println(text string, keep bool) {
	if l.shown {
		io.WriteString(l.w, "\r\x1b[K")
	}
	fmt.Fprintf(l.w, "%s %s\n", l.now().Format("15:04:05"), text)
	l.shown = false
	if keep {
		l.redraw()
	}
}

func (l *Live) Start(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.first.IsZero() {
		l.first = now
	}
	l.n, l.phase, l.pct, l.expStart, l.desc = n, "", -1, now, ""
	l.redraw()
}

func (l *Live) Phase(p Phase) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.phase, l.pct = p, -1
	l.redraw()
}

// Progress redraws only when the whole percentage changes, so a trainer
// reporting every step does not flood the terminal.
func (l *Live) Progress(f float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pct := int(math.Round(100 * math.Max(0, math.Min(1, f))))
	if l.phase != Training {
		l.phase = Training
	} else if pct == l.pct {
		return
	}
	l.pct = pct
	l.redraw()
}

func (l *Live) Done(r results.Row, best float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	l.best = best
	name := fmt.Sprintf("experiment %d", l.n)
	if l.n == 0 {
		name = "baseline"
	}
	l.println(fmt.Sprintf("%s: %s %.6f (best %.6f) %s", name, r.Status, r.Value, best, results.CleanDescription(r.Description)), false)
}

// SetNote sets the note shown on the line after the best ("" clears it).
func (l *Live) SetNote(note string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.note = note
	if l.shown {
		l.redraw()
	}
}

// SetBest sets the best value shown before the first experiment of this
// process ends: that of a resumed run (see Resumed).
func (l *Live) SetBest(best float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.best = best
}

func (l *Live) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.println(fmt.Sprintf(format, args...), l.shown)
}

// Close erases the status line, leaving the terminal as it was before it;
// the reporter may be used again afterwards. See Finish.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		io.WriteString(l.w, "\r\x1b[K")
		l.shown = false
	}
	return nil
}

// Finish erases a live status line, if r keeps one; call it when the loop
// stops so the shell prompt does not land on the status line.
func Finish(r Reporter) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}

// fit cuts s to at most n runes, marking the cut with "…".
func fit(s string, n int) string {
	if n < 1 {
		n = 1
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shortDuration prints 42s, 3m05s or 1h02m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}
