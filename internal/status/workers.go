package status

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"autoresearch/internal/results"
)

// Several experiments in flight: each worker reports through ForWorker, and
// finished experiments through DoneAs. Live shows one part per worker on its
// line ("w1 training 40% 12s · w2 proposing 3s · best ... · 41.2/h"); Plain
// prefixes each line with the worker.

// workerView is implemented by the reporters that show workers.
type workerView interface {
	workerStart(id int)
	workerPhase(id int, p Phase)
	workerProgress(id int, f float64)
	workerIdle(id int)
	doneAs(n, worker int, r results.Row, best float64)
}

// ForWorker returns the reporter for the experiments of worker id (1..N).
// Start(n) begins its next task (n is not shown: an experiment's number is
// known when it finishes). On a reporter that does not show workers, phases
// and progress are dropped and messages pass through.
func ForWorker(rep Reporter, id int) Reporter { return workerReporter{rep, id} }

// Idle tells rep that worker id has nothing to do now.
func Idle(rep Reporter, id int) {
	if v, ok := rep.(workerView); ok {
		v.workerIdle(id)
	}
}

// DoneAs reports experiment n, finished on worker (0: no worker), and the
// best value kept so far.
func DoneAs(rep Reporter, n, worker int, r results.Row, best float64) {
	if v, ok := rep.(workerView); ok {
		v.doneAs(n, worker, r, best)
		return
	}
	rep.Done(r, best)
}

type workerReporter struct {
	rep Reporter
	id  int
}

func (w workerReporter) Start(int) {
	if v, ok := w.rep.(workerView); ok {
		v.workerStart(w.id)
	}
}

func (w workerReporter) Phase(p Phase) {
	if v, ok := w.rep.(workerView); ok {
		v.workerPhase(w.id, p)
	}
}

func (w workerReporter) Progress(f float64) {
	if v, ok := w.rep.(workerView); ok {
		v.workerProgress(w.id, f)
	}
}

func (w workerReporter) Done(r results.Row, best float64) { w.rep.Done(r, best) }

func (w workerReporter) Unwrap() Reporter { return w.rep }

func (w workerReporter) Logf(format string, args ...any) {
	w.rep.Logf("worker %d: %s", w.id, fmt.Sprintf(format, args...))
}

// worker is what the live line knows of one worker.
type worker struct {
	phase Phase
	pct   int
	since int64  // unix nanoseconds of its task's start
	desc  string // what it tries, once known
}

func (l *Live) workerState(id int) *worker {
	if l.workers == nil {
		l.workers = map[int]*worker{}
	}
	w := l.workers[id]
	if w == nil {
		w = &worker{pct: -1}
		l.workers[id] = w
	}
	return w
}

func (l *Live) workerStart(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.first.IsZero() {
		l.first = now
	}
	w := l.workerState(id)
	w.phase, w.pct, w.since, w.desc = "", -1, now.UnixNano(), ""
	l.redraw()
}

func (l *Live) workerPhase(id int, p Phase) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.workerState(id)
	w.phase, w.pct = p, -1
	l.redraw()
}

func (l *Live) workerProgress(id int, f float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.workerState(id)
	pct := int(math.Round(100 * math.Max(0, math.Min(1, f))))
	if w.phase == Training && pct == w.pct {
		return
	}
	w.phase, w.pct = Training, pct
	l.redraw()
}

func (l *Live) workerIdle(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.workerState(id)
	w.phase, w.pct, w.since, w.desc = "idle", -1, 0, ""
	l.redraw()
}

func (l *Live) doneAs(n, worker int, r results.Row, best float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done++
	l.best = best
	l.println(fmt.Sprintf("experiment %d%s: %s %.6f (best %.6f) %s", n, onWorker(worker), r.Status, r.Value, best, results.CleanDescription(r.Description)), len(l.workers) > 0)
}

// workersLine is the status line while workers are in flight.
func (l *Live) workersLine() string {
	ids := make([]int, 0, len(l.workers))
	for id := range l.workers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var parts []string
	for _, id := range ids {
		w := l.workers[id]
		s := fmt.Sprintf("w%d ", id)
		if w.desc != "" {
			s += cut(w.desc, maxWorkerDescription) + ": "
		}
		switch {
		case w.phase != "":
			s += phaseText(w.phase, w.pct, l.word)
		default:
			s += "starting"
		}
		if w.since != 0 {
			s += " " + shortDuration(l.now().Sub(unixNano(w.since)))
		}
		parts = append(parts, s)
	}
	if !math.IsNaN(l.best) {
		parts = append(parts, fmt.Sprintf("best %.6f", l.best))
	}
	if l.note != "" {
		parts = append(parts, l.note)
	}
	if elapsed := l.now().Sub(l.first); l.done > 0 && elapsed.Minutes() >= 1 {
		parts = append(parts, fmt.Sprintf("%.1f/h", float64(l.done)/elapsed.Hours()))
	}
	if l.spend != nil {
		parts = append(parts, shortSpend(*l.spend))
	}
	return strings.Join(parts, " · ")
}

func onWorker(worker int) string {
	if worker == 0 {
		return ""
	}
	return fmt.Sprintf(" (worker %d)", worker)
}

func (p *Plain) workerStart(id int) {}

func (p *Plain) workerPhase(id int, ph Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tenths == nil {
		p.tenths = map[int]int{}
	}
	p.tenths[id] = -1
	p.printf("worker %d: %s", id, phaseText(ph, -1, p.word))
}

func (p *Plain) workerProgress(id int, f float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tenths == nil {
		p.tenths = map[int]int{}
	}
	tenth := int(f * 10)
	if last, ok := p.tenths[id]; (!ok || tenth > last) && tenth > 0 {
		p.tenths[id] = tenth
		p.printf("worker %d: %s", id, phaseText(Training, tenth*10, p.word))
	}
}

func (p *Plain) workerIdle(id int) {}

func (p *Plain) doneAs(n, worker int, r results.Row, best float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printf("experiment %d%s: %s %.6f (best %.6f) %s", n, onWorker(worker), r.Status, r.Value, best, results.CleanDescription(r.Description))
}

func unixNano(ns int64) time.Time { return time.Unix(0, ns) }
