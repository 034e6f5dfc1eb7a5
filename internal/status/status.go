// Package status shows what a running research loop is doing: one live line
// on a terminal (experiment n, phase, training progress, best so far,
// experiments per hour), plain log lines otherwise. New picks between them by
// whether the writer is a terminal; Finish erases the live line at the end.
package status

import "autoresearch/internal/results"

// Phase is the step an experiment is in.
type Phase string

const (
	Proposing  Phase = "proposing"
	Repairing  Phase = "repairing"
	Building   Phase = "building"
	WarmingUp  Phase = "warm-up" // the untimed warm-up steps before the budget counts
	Training   Phase = "training"
	Evaluating Phase = "evaluating"
)

// Reporter receives the loop's progress. Implementations must be safe for use
// from several goroutines.
type Reporter interface {
	// Start announces experiment n (0 is the baseline).
	Start(n int)
	// Phase announces the step experiment n is in now.
	Phase(p Phase)
	// Progress reports the training progress, 0 to 1.
	Progress(fraction float64)
	// Done reports the finished experiment's row and the best value kept so far.
	Done(row results.Row, best float64)
	// Logf prints a message on a line of its own.
	Logf(format string, args ...any)
}

// Nop is a Reporter that shows nothing.
type Nop struct{}

func (Nop) Start(int)                 {}
func (Nop) Phase(Phase)               {}
func (Nop) Progress(float64)          {}
func (Nop) Done(results.Row, float64) {}
func (Nop) Logf(string, ...any)       {}

// Resumed tells r the best value a resumed run has kept so far, or the
// best's value as a re-check re-estimated it, for a reporter that shows it
// (the live line); one that starts with the run learns it from Done.
func Resumed(r Reporter, best float64) {
	if b, ok := find[interface{ SetBest(float64) }](r); ok {
		b.SetBest(best)
	}
}

// Note sets a short note that the live line shows until the next one ("" clears
// it): news that holds for a while, such as a drift of the best. A reporter
// without a live line ignores it, so say it with Logf too.
func Note(r Reporter, note string) {
	if n, ok := find[interface{ SetNote(string) }](r); ok {
		n.SetNote(note)
	}
}

// find returns r, or the reporter it wraps (Unwrap), as a T.
func find[T any](r Reporter) (T, bool) {
	for r != nil {
		if t, ok := r.(T); ok {
			return t, true
		}
		u, ok := r.(interface{ Unwrap() Reporter })
		if !ok {
			break
		}
		r = u.Unwrap()
	}
	var zero T
	return zero, false
}
