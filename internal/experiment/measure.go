package experiment

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
	"autoresearch/internal/status"
)

// Re-measuring: running a commit of the run again, exactly as an experiment
// runs (built in a worker's clone, run through the run's sandbox, executor
// and a worker's share of the machine), without touching the run's branch,
// its worktree or its records: nothing is committed, results.tsv and
// experiments.jsonl get no line. Each run's output goes to its own log,
// logs/<label>.log. The audit measures with it; so can anything that needs
// a fresh value of a commit (a re-check of the best, a benchmark of where
// searches ended).
//
// A Measurer has slots, each a worker of its own: a clone under
// workers/<name>/<i>/ (made from the run's clone on first use and kept for
// the next), its binaries and scratch folder, its share of the machine. It
// runs as many measurements at once as it has slots.

// Measurement is one fresh run of a commit.
type Measurement struct {
	Commit string
	Label  string // the run's log is logs/<label>.log (or -take<k>, see logName)
	// Value is the metric; 0 when the run crashed, Crash and Reason then
	// saying how.
	Value   float64
	Crash   runner.Crash
	Reason  string
	Log     string // relative to the run folder
	Slot    int    // 1..Slots()
	Start   time.Time
	Seconds float64            // the build and the run, wall-clock
	Figures map[string]float64 // the program's whole summary
}

// MeasureJob asks for one run of Commit, its log named by Label.
type MeasureJob struct {
	Commit, Label string
}

// Measurer measures commits of an open run in slots of its own. Use it
// from the goroutine that owns the run (the loop's coordinator), or while no
// loop runs: it reads the run's clone.
type Measurer struct {
	r     *Run
	name  string
	slots []*worker
}

// NewMeasurer opens n slots (at least one) named name: their clones live
// in workers/<name>/<i>/ of the run folder, and slot i's runs get env[i-1]
// added to their environment (a GPU, or a share of the cores; see
// runner.Shares), none when env is shorter. name must be a plain folder
// name that is not a number (numbers are the loop's workers).
func (r *Run) NewMeasurer(name string, n int, env [][]string) (*Measurer, error) {
	if _, err := strconv.Atoi(name); err == nil || name == "" || filepath.Base(name) != name {
		return nil, fmt.Errorf("measurer name %q: give a plain folder name that is not a number, like audit", name)
	}
	m := &Measurer{r: r, name: name}
	for i := 1; i <= max(n, 1); i++ {
		w, err := r.openClone(filepath.Join(r.Dir, WorkersDir, name, strconv.Itoa(i)), i)
		if err != nil {
			return nil, err
		}
		if i-1 < len(env) {
			w.env = env[i-1]
		}
		w.base = status.ForWorker(r.reporter(), i)
		w.rep = w.base
		m.slots = append(m.slots, w)
	}
	return m, nil
}

// Slots is how many measurements m runs at once.
func (m *Measurer) Slots() int { return len(m.slots) }

// Run measures each job once, starting them in order, as many at once as m
// has slots, and hands each measurement to done as it finishes (in the
// caller's goroutine, one at a time; finish order may differ from start
// order). A program that crashes gives a measurement with Crash set. An
// error no run can fix (a commit the run's clone lacks, or one that changes
// a locked path; git; the executor), an error from done, or ctx ending stops
// it: the runs in flight are killed and handed to no one, and Run returns
// that error (ctx's when it ended).
func (m *Measurer) Run(ctx context.Context, jobs []MeasureJob, done func(Measurement) error) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		w   *worker
		m   Measurement
		err error
	}
	results := make(chan result)
	free := append([]*worker(nil), m.slots...)
	next, busy := 0, 0
	var first error
	for {
		for first == nil && wctx.Err() == nil && next < len(jobs) && len(free) > 0 {
			w, j := free[0], jobs[next]
			// The clone is set up here, one at a time: the run's clone is
			// read by one goroutine only.
			if err := m.checkout(w, j); err != nil {
				first = err
				cancel()
				break
			}
			free, next, busy = free[1:], next+1, busy+1
			go func() {
				meas, err := m.measure(wctx, w, j)
				results <- result{w, meas, err}
			}()
		}
		if busy == 0 {
			break
		}
		res := <-results
		busy--
		free = append(free, res.w)
		status.Idle(m.r.reporter(), res.w.id)
		switch {
		case first != nil:
		case res.err != nil:
			first = res.err
			cancel()
		default:
			if err := done(res.m); err != nil {
				first = err
				cancel()
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// Measure runs commit k times, as many at once as m has slots, and returns
// the measurements in the order they finished; their logs are
// logs/<name>-<commit>-<i>.log. Values gives the values of those that did
// not crash.
func (m *Measurer) Measure(ctx context.Context, commit string, k int) ([]Measurement, error) {
	jobs := make([]MeasureJob, k)
	for i := range jobs {
		jobs[i] = MeasureJob{Commit: commit, Label: fmt.Sprintf("%s-%s-%d", m.name, short(commit), i+1)}
	}
	var out []Measurement
	err := m.Run(ctx, jobs, func(ms Measurement) error {
		out = append(out, ms)
		return nil
	})
	return out, err
}

// Values returns the values of the measurements that did not crash.
func Values(ms []Measurement) []float64 {
	var vs []float64
	for _, m := range ms {
		if m.Crash == "" {
			vs = append(vs, m.Value)
		}
	}
	return vs
}

// checkout makes slot w's clone job j's commit (the run's clone must hold
// it: a full hash), checked against the locked paths.
func (m *Measurer) checkout(w *worker, j MeasureJob) error {
	r := m.r
	if !r.repo.HasCommit(j.Commit) {
		return fmt.Errorf("commit %s is not in run %s's clone: only the run's commits can be measured, named by their full hash", short(j.Commit), r.Config.Tag)
	}
	if err := w.reset(r, j.Commit); err != nil {
		return err
	}
	var ge *gitops.GuardError
	if err := w.repo.Guard(r.Config.BaseCommit, r.Config.Task.Editable); errors.As(err, &ge) {
		return fmt.Errorf("commit %s %v: it is not measured", short(j.Commit), ge)
	} else if err != nil {
		return err
	}
	return nil
}

// measure builds and runs job j in slot w, whose clone checkout made its
// commit, as an experiment is built and run.
func (m *Measurer) measure(ctx context.Context, w *worker, j MeasureJob) (Measurement, error) {
	r := m.r
	ms := Measurement{Commit: j.Commit, Label: j.Label, Slot: w.id, Start: time.Now()}
	w.label = j.Label
	w.rep.Start(0)
	rec := r.newRecord(-1, j.Label, "")
	rec.Commit = j.Commit
	a, err := r.attempt(ctx, w, rec, "")
	if err != nil {
		return ms, err
	}
	ms.Log, ms.Crash, ms.Reason = a.log, a.crash, a.reason
	ms.Seconds = time.Since(ms.Start).Seconds()
	if a.crash == "" {
		ms.Value = a.value
	}
	if a.res != nil {
		ms.Figures = a.res.Figures
	}
	return ms, nil
}
