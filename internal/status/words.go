package status

import (
	"strconv"
	"unicode/utf8"
)

// What the reporters say of the task: the word for a run of its program
// (training for the GPT, running for most tasks) and the description of the
// change being tried.

// DefaultWord is what a run of the program is called when the task names
// no word.
const DefaultWord = string(Training)

// worder is implemented by the reporters that name a run of the program.
type worder interface{ setWord(string) }

// SetWord tells r the task's word for a run of its program ("training",
// "running"), shown where the phase is Training; "" keeps the default.
func SetWord(r Reporter, word string) {
	if v, ok := r.(worder); ok && word != "" {
		v.setWord(word)
	}
}

// trier is implemented by the reporters that show what is being tried.
type trier interface {
	trying(worker int, description string)
}

// Trying tells r the description of the change worker is trying (0: the
// only worker), once it is known: proposed, re-applied or repaired.
func Trying(r Reporter, worker int, description string) {
	if v, ok := r.(trier); ok {
		v.trying(worker, description)
	}
}

// The longest description the live line shows, with one worker and with
// several: the figures after it must fit too.
const (
	maxDescription       = 40
	maxWorkerDescription = 24
)

// cut shortens s to n runes, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// phaseText is how a phase reads: the task's word for Training, with the
// progress in percent when known (pct >= 0).
func phaseText(p Phase, pct int, word string) string {
	if p != Training {
		return string(p)
	}
	if word == "" {
		word = DefaultWord
	}
	if pct >= 0 {
		return word + " " + itoa(pct) + "%"
	}
	return word
}

func itoa(n int) string { return strconv.Itoa(n) }

func (l *Live) setWord(word string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.word = word
}

func (l *Live) trying(worker int, description string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if worker == 0 {
		l.desc = description
	} else {
		l.workerState(worker).desc = description
	}
	l.redraw()
}

func (p *Plain) setWord(word string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.word = word
}

func (p *Plain) trying(worker int, description string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if worker == 0 {
		p.printf("experiment %d: trying %s", p.n, description)
	} else {
		p.printf("worker %d: trying %s", worker, description)
	}
}
