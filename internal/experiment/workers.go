package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"autoresearch/internal/agent"
	"autoresearch/internal/atomicfile"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/status"
)

// Several experiments in flight: run --workers N, and every run whose
// executor is a cluster's (its jobs outlive this process, so they are
// followed the same way).
//
// Each worker owns a clone of the run's branch (workers/<i>/worktree), its
// binaries (workers/<i>/bin) and its share of the machine (a GPU, or
// 1/N of the cores). One goroutine, the coordinator, owns the run's state:
// it hands each idle worker its next task (a re-application waiting in the
// queue first, else a new proposal), and decides, records and publishes
// each experiment as it finishes. Workers only touch their own clone.
//
// The keep rule with a moving best. An experiment starts from the last kept
// commit, its parent. When it finishes:
//
//   - it beats the best and its parent is still the last kept commit: kept,
//     its commit becomes the branch's tip, exactly as with one worker;
//   - it beats the best, but another experiment was kept while it ran: its
//     row is a discard (it was not measured on top of the current best, so
//     it cannot be kept as it is), and its change is re-applied on the
//     current best (a three-way merge of the editable files) and measured
//     again as a new experiment, before any new proposal. A change that no
//     longer applies (it touches the lines a kept change touched) is
//     abandoned; a change re-applied three times is dropped;
//   - otherwise: discard or crash.
//
// So the branch stays a line of commits, each kept because it beat its
// parent, and results.tsv has one row per measurement, in finish order.
//
// An experiment's number is its row, known only when it finishes, so while
// it runs its files are named by worker and attempt: logs/w2-5.log,
// transcripts/w2-5.jsonl. experiments.jsonl records the worker, the parent,
// the job and the timings, and links the files. inflight.json lists what
// each worker is doing (and the re-applications waiting): on resume, an
// experiment whose training had started is run again, or, when its job
// still runs on the cluster, waited for; one still being proposed is
// recorded as interrupted.

const (
	WorkersDir  = runs.WorkersDir
	FlightsFile = runs.FlightsFile
	maxReapply  = 3
)

// workspace is where one experiment is built and run: the run's own
// worktree, or a worker's clone.
type workspace struct {
	id       int    // the worker, 1..N; 0 for the run's own worktree
	label    string // names the experiment's files: its number, or w<id>-<k>
	worktree string
	bin      string // the folder of its binaries
	env      []string
	rep      status.Reporter
	repo     *gitops.Repo
	scratch  string          // the program's own folder (see runner.Spec.Scratch)
	attach   string          // a job to follow instead of starting the program
	onJob    func(id string) // told the job id of a run as soon as it has one
}

func (r *Run) mainSpace(n int) *workspace {
	return &workspace{label: strconv.Itoa(n), worktree: r.Worktree(), bin: filepath.Join(r.Dir, binDir), rep: r.reporter(),
		repo: r.repo, scratch: r.path(scratchDir), env: r.mainEnv}
}

func (w *workspace) vars() map[string]string {
	return map[string]string{runner.BinVar: filepath.Join(w.bin, "train"), runner.WorktreeVar: w.worktree}
}

func (w *workspace) submitted(rec *Record, id string) {
	rec.Job = id
	if w.onJob != nil {
		w.onJob(id)
	}
}

func (w *workspace) takeAttach() string {
	a := w.attach
	w.attach = ""
	return a
}

func (r *Run) executor() runner.Executor {
	if r.Executor == nil {
		return runner.Local{}
	}
	return r.Executor
}

// Flight is one worker's experiment in flight, as inflight.json lists it.
type Flight struct {
	Worker      int       `json:"worker"`
	Label       string    `json:"label"`
	Phase       string    `json:"phase"`
	Parent      string    `json:"parent"`
	Commit      string    `json:"commit,omitempty"`
	Description string    `json:"description,omitempty"`
	Job         string    `json:"job,omitempty"`
	Start       time.Time `json:"start"`
	Reapplied   int       `json:"reapplied,omitempty"` // how often this change was re-applied
}

// Reapply is a change waiting to be re-applied on the current best.
type Reapply struct {
	Description string `json:"description"`
	Parent      string `json:"parent"` // the change is Parent -> Commit
	Commit      string `json:"commit"`
	From        int    `json:"from"` // the experiment that measured it
	Times       int    `json:"times"`
}

// Flights is inflight.json.
type Flights struct {
	Flights []Flight  `json:"flights"`
	Queue   []Reapply `json:"queue,omitempty"`
	Updated time.Time `json:"updated"`
}

// ReadFlights reads a run's inflight.json; none is no error.
func ReadFlights(runDir string) (Flights, error) {
	var f Flights
	b, err := os.ReadFile(filepath.Join(runDir, FlightsFile))
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s is damaged: %v", filepath.Join(runDir, FlightsFile), err)
	}
	return f, nil
}

type worker struct {
	workspace
	base  status.Reporter // the worker's reporter, under the phase tap of each task
	prop  agent.Proposer
	dir   string
	busy  bool
	count int // attempts started, for labels
}

// task is one piece of work for a worker.
type task struct {
	rec     *Record
	req     agent.Request // a proposal
	reapply *Reapply      // a re-application
	patches []filePatch
	resume  *Flight // an experiment of a stopped process, committed already
}

type filePatch struct {
	path       string
	base, ours []byte
	hasOurs    bool
}

// outcome is how a task ended.
type outcome struct {
	w         *worker
	t         *task
	a         *attemptResult
	err       error // a stop (ctx) or an error no experiment can fix
	exhausted error
	abandon   string
}

type pool struct {
	r       *Run
	o       Options
	workers []*worker
	queue   []Reapply
	seq     int // the number proposals are asked under (the sweep draws from it)

	mu      sync.Mutex
	flights map[int]*Flight
	best    float64 // r.best, for the workers

	done, abandoned int
	exhausted       bool
	finishing       *outcome // the outcome being recorded, for the reporter
}

// parallel is Loop with workers: see the top of this file.
func (r *Run) parallel(ctx context.Context, o Options) (StopReason, error) {
	n := max(o.Workers, 1)
	p := &pool{r: r, o: o, seq: len(r.rows), flights: map[int]*Flight{}, best: r.best}
	for i := 1; i <= n; i++ {
		w, err := r.openWorker(i)
		if err != nil {
			return "", err
		}
		if i-1 < len(o.WorkerEnv) {
			w.env = o.WorkerEnv[i-1]
		}
		w.prop = o.Proposer
		if i-1 < len(o.WorkerProposers) && o.WorkerProposers[i-1] != nil {
			w.prop = o.WorkerProposers[i-1]
		}
		p.workers = append(p.workers, w)
	}
	saved, err := ReadFlights(r.Dir)
	if err != nil {
		return "", err
	}
	p.queue = saved.Queue
	real := r.Reporter
	r.Reporter = poolReporter{r.reporter(), p}
	defer func() { r.Reporter = real }()
	return p.loop(ctx, saved.Flights)
}

// openWorker opens worker i's clone, or makes it from the run's worktree.
func (r *Run) openWorker(i int) (*worker, error) {
	dir := filepath.Join(r.Dir, WorkersDir, strconv.Itoa(i))
	wt := filepath.Join(dir, WorktreeDir)
	repo, err := gitops.Open(wt)
	if err != nil {
		if err := os.RemoveAll(wt); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if repo, err = gitops.CloneRun(r.repo, wt); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, binDir), 0o755); err != nil {
		return nil, err
	}
	w := &worker{dir: dir}
	w.id, w.worktree, w.bin, w.repo, w.scratch = i, wt, filepath.Join(dir, binDir), repo, filepath.Join(dir, scratchDir)
	w.base = status.ForWorker(r.reporter(), i)
	w.rep = w.base
	return w, linkShared(r.Config.Repo, wt, r.Config.Shared)
}

func (p *pool) loop(ctx context.Context, saved []Flight) (StopReason, error) {
	r := p.r
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outcomes := make(chan *outcome)
	busy := 0
	start := func(w *worker, t *task) {
		w.busy, busy = true, busy+1
		go func() { outcomes <- p.work(wctx, w, t) }()
	}
	var fatal error
	for _, fl := range saved {
		fl := fl
		if fl.Worker < 1 || fl.Worker > len(p.workers) || fl.Commit == "" || p.workers[fl.Worker-1].busy {
			rec := r.newRecord(len(r.rows), fl.Description, p.o.Proposer.Name())
			rec.Parent, rec.Worker, rec.Start, rec.Job = fl.Parent, fl.Worker, fl.Start, fl.Job
			r.interrupted(rec)
			continue
		}
		t, err := p.resumeTask(p.workers[fl.Worker-1], &fl)
		if err != nil {
			fatal = err
			break
		}
		start(p.workers[fl.Worker-1], t)
	}
	p.save()
	var stop StopReason
	for {
		if fatal == nil && ctx.Err() == nil {
			for _, w := range p.workers {
				if w.busy {
					continue
				}
				if stop = p.limit(busy); stop != "" {
					break
				}
				t, err := p.next(w)
				if err != nil {
					fatal = err
					cancel()
					break
				}
				start(w, t)
			}
			p.save()
		}
		if busy == 0 {
			break
		}
		out := <-outcomes
		busy--
		out.w.busy = false
		status.Idle(r.reporter(), out.w.id)
		if err := p.finish(ctx, out); err != nil && fatal == nil {
			fatal = err
			cancel()
		}
		p.save()
	}
	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case fatal != nil:
		return "", fatal
	}
	if stop == "" {
		stop = p.limit(0)
	}
	return stop, nil
}

// limit says why no new experiment may start, given busy ones in flight.
func (p *pool) limit(busy int) StopReason {
	switch {
	case p.o.MaxExperiments > 0 && p.done+busy >= p.o.MaxExperiments:
		return StopMaxExperiments
	case !p.o.Until.IsZero() && !time.Now().Before(p.o.Until):
		return StopUntil
	case p.exhausted && len(p.queue) == 0:
		return StopExhausted
	}
	return ""
}

// label names the files of worker w's next attempt.
func (p *pool) label(w *worker) string {
	for {
		w.count++
		l := fmt.Sprintf("w%d-%d", w.id, w.count)
		_, e1 := os.Stat(p.r.path(fmt.Sprintf("%s/%s.log", LogsDir, l)))
		_, e2 := os.Stat(p.r.path(fmt.Sprintf("%s/%s.jsonl", TranscriptsDir, l)))
		if errors.Is(e1, os.ErrNotExist) && errors.Is(e2, os.ErrNotExist) {
			return l
		}
	}
}

// next prepares worker w's next task: its clone at the last kept commit,
// then a re-application waiting in the queue, or a new proposal.
func (p *pool) next(w *worker) (*task, error) {
	r := p.r
	if err := w.repo.Fetch(r.repo, r.kept); err != nil {
		return nil, fmt.Errorf("worker %d: %w", w.id, err)
	}
	if err := w.repo.ResetHard(r.kept); err != nil {
		return nil, fmt.Errorf("worker %d: %w", w.id, err)
	}
	if err := linkShared(r.Config.Repo, w.worktree, r.Config.Shared); err != nil {
		return nil, err
	}
	w.label = p.label(w)
	rec := r.newRecord(len(r.rows), "", p.o.Proposer.Name())
	rec.Worker = w.id
	t := &task{rec: rec}
	fl := &Flight{Worker: w.id, Label: w.label, Parent: r.kept, Start: rec.Start, Phase: string(status.Proposing)}
	if len(p.queue) > 0 {
		q := p.queue[0]
		p.queue = p.queue[1:]
		t.reapply = &q
		rec.Description = q.Description
		fl.Description, fl.Reapplied, fl.Phase = q.Description, q.Times, "re-applying"
		for _, path := range r.Config.Editable {
			base, _, err := r.repo.LookupFile(q.Parent, path)
			if err != nil {
				return nil, err
			}
			ours, ok, err := r.repo.LookupFile(q.Commit, path)
			if err != nil {
				return nil, err
			}
			t.patches = append(t.patches, filePatch{path: path, base: base, ours: ours, hasOurs: ok})
		}
	}
	t.req = p.request(w)
	p.setFlight(fl)
	return t, nil
}

// resumeTask takes up an experiment a stopped process left in flight: its
// commit is in the worker's clone; its job, if any, is followed again.
func (p *pool) resumeTask(w *worker, fl *Flight) (*task, error) {
	r := p.r
	if err := w.repo.ResetHard(fl.Commit); err != nil {
		return nil, fmt.Errorf("worker %d: taking up %s again: %w", w.id, short(fl.Commit), err)
	}
	if err := linkShared(r.Config.Repo, w.worktree, r.Config.Shared); err != nil {
		return nil, err
	}
	w.label, w.attach = fl.Label, fl.Job
	rec := r.newRecord(len(r.rows), fl.Description, p.o.Proposer.Name())
	rec.Parent, rec.Worker, rec.Start, rec.Commit = fl.Parent, w.id, fl.Start, fl.Commit
	if fl.Job != "" {
		r.reporter().Logf("worker %d: following job %s of %q again", w.id, fl.Job, fl.Description)
	} else {
		r.reporter().Logf("worker %d: running %q again: its training was cut short", w.id, fl.Description)
	}
	fl.Phase = string(status.Training)
	p.setFlight(fl)
	t := &task{rec: rec, resume: fl, req: p.request(w)}
	if fl.Reapplied > 0 {
		t.reapply = &Reapply{Description: fl.Description, Times: fl.Reapplied}
	}
	return t, nil
}

// request is what worker w's proposer may know now.
func (p *pool) request(w *worker) agent.Request {
	r := p.r
	req := r.request(p.seq, p.o, fmt.Sprintf("%s/%s.jsonl", TranscriptsDir, w.label))
	p.seq++
	req.Worktree = w.worktree
	if req.Check != nil {
		req.Check = w.check(r)
	}
	req.InFlight = p.inFlight()
	rep := w.base
	req.Note = func(format string, args ...any) { rep.Logf(format, args...) }
	return req
}

// check builds worker w's worktree as it is now.
func (w *worker) check(r *Run) func(context.Context) (string, bool) {
	return func(ctx context.Context) (string, bool) {
		if err := r.checkImports(&w.workspace); err != nil {
			return err.Error(), false
		}
		vars := map[string]string{runner.BinVar: filepath.Join(w.bin, "check"), runner.WorktreeVar: w.worktree}
		out, err := runner.Build(ctx, w.worktree, runner.Expand(r.Config.Build.Argv, vars), runner.Expand(r.Config.Build.Env, vars))
		if err != nil && out == "" {
			out = err.Error()
		}
		return out, err == nil
	}
}

// work runs a task on worker w: propose (or re-apply), guard, commit, build,
// train, repair; everything but the decision. It touches only w's clone.
func (p *pool) work(ctx context.Context, w *worker, t *task) *outcome {
	r, rec := p.r, t.rec
	out := &outcome{w: w, t: t}
	w.onJob = func(id string) { p.updateFlight(w.id, func(f *Flight) { f.Job = id }) }
	ws := &w.workspace
	ws.rep = phaseTap{w.base, func(ph status.Phase) { p.updateFlight(w.id, func(f *Flight) { f.Phase = string(ph) }) }}
	rep := ws.rep
	rep.Start(rec.N)
	req := t.req
	committed := false
	switch {
	case t.resume != nil:
		committed = true
	case t.reapply != nil:
		for _, fp := range t.patches {
			path := filepath.Join(w.worktree, filepath.FromSlash(fp.path))
			cur, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				out.err = err
				return out
			}
			if !fp.hasOurs {
				os.Remove(path)
				continue
			}
			merged, ok := merge3(string(fp.base), string(fp.ours), string(cur))
			if !ok {
				out.abandon = fmt.Sprintf("%v: the change of experiment %d no longer applies on the current best (it touches lines a kept change touched)", agent.ErrAbandoned, t.reapply.From)
				return out
			}
			if err := os.WriteFile(path, []byte(merged), 0o644); err != nil {
				out.err = err
				return out
			}
		}
	default:
		rep.Phase(status.Proposing)
		var prop agent.Proposal
		err := r.timed(rec, "propose", func() (err error) { prop, err = w.prop.Propose(ctx, req); return })
		r.noteProposal(rec, prop, req.TranscriptPath)
		switch {
		case ctx.Err() != nil:
			out.err = ctx.Err()
			return out
		case errors.Is(err, agent.ErrAbandoned):
			out.abandon = err.Error()
			return out
		case errors.Is(err, agent.ErrExhausted):
			out.exhausted = err
			return out
		case err != nil:
			out.err = fmt.Errorf("the proposer %s failed: %w", p.o.Proposer.Name(), err)
			return out
		}
		rec.Description = results.CleanDescription(prop.Description)
		if other := p.claim(w.id, rec.Description); other != 0 {
			out.abandon = fmt.Sprintf("%v: %q is in flight on worker %d already", agent.ErrAbandoned, rec.Description, other)
			return out
		}
	}

	var a *attemptResult
	for fix := 0; ; fix++ {
		if fix > 0 {
			rep.Phase(status.Repairing)
			req.TranscriptPath = r.path(fmt.Sprintf("%s/%s-fix%d.jsonl", TranscriptsDir, w.label, fix))
			req.Last = r.outcomeOf(rec, a)
			f := agent.Failure{Kind: string(a.crash), Output: a.output, Attempt: fix}
			var rp agent.Proposal
			err := r.timed(rec, "repair", func() (err error) { rp, err = w.prop.Repair(ctx, req, f); return })
			r.noteProposal(rec, rp, req.TranscriptPath)
			if err != nil {
				if ctx.Err() != nil {
					out.err = ctx.Err()
					return out
				}
				a.reason += "; no fix: " + err.Error()
				break
			}
			rec.FixAttempts = fix
			if strings.TrimSpace(rp.Description) != "" {
				rec.Description = results.CleanDescription(rp.Description)
			}
			committed = false
		}
		if !committed {
			var gerr error
			r.timed(rec, "guard", func() error { gerr = w.repo.Guard(r.Config.BaseCommit, r.Config.Editable); return nil })
			var ge *gitops.GuardError
			if errors.As(gerr, &ge) {
				a = &attemptResult{crash: "guard", reason: "rejected, never built: " + ge.Error()}
				rec.Commit = ""
				rep.Logf("%s %s", rec.Description, a.reason)
				break
			} else if gerr != nil {
				out.err = gerr
				return out
			}
			var h string
			err := r.timed(rec, "commit", func() (err error) {
				h, err = w.repo.Commit(rec.Description+fmt.Sprintf("\n\nautoresearch experiment by worker %d\n", w.id), rec.Parent, r.Config.Editable)
				return
			})
			if errors.Is(err, gitops.ErrNoChange) {
				if fix == 0 {
					out.abandon = fmt.Sprintf("%v: it changed nothing", agent.ErrAbandoned)
					return out
				}
				a.reason += "; the fix changed nothing"
				break
			}
			if err != nil {
				out.err = err
				return out
			}
			rec.Commit = h
			p.updateFlight(w.id, func(f *Flight) { f.Commit, f.Description = h, rec.Description })
		}
		suffix := ""
		if fix > 0 {
			suffix = fmt.Sprintf("-fix%d", fix)
		}
		attached := ws.attach
		var err error
		a, err = r.attemptIn(ctx, ws, rec, suffix)
		if err != nil && attached != "" && ctx.Err() == nil {
			// The job is gone without a trace: run the change again.
			rep.Logf("job %s cannot be followed (%v): running %q again", attached, err, rec.Description)
			a, err = r.attemptIn(ctx, ws, rec, suffix)
		}
		if err != nil {
			out.err = err
			return out
		}
		if a.crash == "" || a.crash == runner.Timeout || a.crash == runner.ClusterCrash || fix >= p.o.FixAttempts {
			break
		}
	}
	// A change that beats the best by less than the noise is measured
	// again, against the best as it is at each step.
	if err := r.remeasureIn(ctx, ws, rec, a, r.KeepRule(p.o), p.bestNow); err != nil {
		out.err = err
		return out
	}
	out.a = a
	return out
}

// bestNow is the best kept so far, for the workers' goroutines.
func (p *pool) bestNow() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.best
}

// finish takes a worker's outcome: a stop, an error, an abandoned proposal or
// an experiment to decide on.
func (p *pool) finish(ctx context.Context, out *outcome) error {
	r, rec := p.r, out.t.rec
	defer p.setFlight(&Flight{Worker: out.w.id}) // the worker is free
	switch {
	case out.err != nil && ctx.Err() != nil:
		rec.N = len(r.rows)
		r.interrupted(rec)
		return nil
	case out.err != nil:
		return out.err
	case out.exhausted != nil:
		if !p.exhausted {
			r.reporter().Logf("%v", out.exhausted)
		}
		p.exhausted = true
		return nil
	case out.abandon != "":
		rec.N = len(r.rows)
		rec.Status, rec.Reason, rec.End, rec.Commit = "abandoned", out.abandon, time.Now(), ""
		r.abandonedWhy = out.abandon
		out.w.rep.Logf("%s", out.abandon)
		if err := appendRecord(r.path(RecordsFile), *rec); err != nil {
			return err
		}
		if p.abandoned++; p.abandoned >= maxAbandonments {
			return fmt.Errorf("the proposer %s abandoned %d proposals in a row, the last with %q: see %s",
				p.o.Proposer.Name(), p.abandoned, r.abandonedWhy, r.path(RecordsFile))
		}
		return nil
	}
	p.abandoned = 0
	p.done++
	return p.decide(out)
}

// decide applies the keep rule with a moving best (see the top of this
// file) and records the experiment.
func (p *pool) decide(out *outcome) error {
	r, rec, a, w := p.r, out.t.rec, out.a, out.w
	t := time.Now()
	rec.N = len(r.rows)
	row := results.Row{Commit: rec.Commit, Description: rec.Description}
	if rec.Commit == "" {
		row.Commit = noCommit
	} else if d, err := w.repo.Diff(rec.Parent, rec.Commit); err == nil {
		rec.Diff = d
	}
	keep, beats := false, false
	rule := r.KeepRule(p.o)
	rec.Threshold, rec.Sigma = rule.Threshold(), rule.Sigma
	if a.crash == "" {
		// A verdict of remeasure here (the best moved during the
		// measurements) is a discard, as with one worker.
		v, m := rule.Judge(r.best, a.values)
		a.value, beats = m, v == VerdictKeep
	}
	switch {
	case a.crash != "":
		row.Status = results.Crash
	case beats && rec.Parent == r.kept:
		row.Status, row.Value, row.MemoryGB = results.Keep, a.value, a.memory
		keep = true
	case beats:
		row.Status, row.Value, row.MemoryGB = results.Discard, a.value, a.memory
		times := 1
		if out.t.reapply != nil {
			times = out.t.reapply.Times + 1
		}
		if times > maxReapply {
			a.reason = fmt.Sprintf("beat the best %.6f, but started from %s before %s was kept, and was re-applied %d times already: dropped",
				r.best, short(rec.Parent), short(r.kept), maxReapply)
			break
		}
		if err := r.repo.Fetch(w.repo, rec.Commit); err != nil {
			return err
		}
		p.queue = append(p.queue, Reapply{Description: rec.Description, Parent: rec.Parent, Commit: rec.Commit, From: rec.N, Times: times})
		a.reason = fmt.Sprintf("beat the best %.6f, but started from %s before %s was kept: re-applied on %s as a new experiment",
			r.best, short(rec.Parent), short(r.kept), short(r.kept))
		w.rep.Logf("experiment %d %s", rec.N, a.reason)
	default:
		row.Status, row.Value, row.MemoryGB = results.Discard, a.value, a.memory
	}
	if keep {
		if err := r.repo.Adopt(w.repo, rec.Commit); err != nil {
			return fmt.Errorf("keeping %s: %w", short(rec.Commit), err)
		}
		if err := linkShared(r.Config.Repo, r.Worktree(), r.Config.Shared); err != nil {
			return err
		}
		r.kept, r.best = rec.Commit, a.value
		p.mu.Lock()
		p.best = r.best
		p.mu.Unlock()
	}
	rec.Seconds["decide"] += time.Since(t).Seconds()
	p.finishing = out
	err := r.record(row, rec, a)
	p.finishing = nil
	if err != nil {
		return err
	}
	if keep {
		r.pushBack()
	}
	return nil
}

// inFlight lists the descriptions of the experiments in flight.
func (p *pool) inFlight() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, w := range p.workers {
		if f := p.flights[w.id]; f != nil && f.Description != "" {
			out = append(out, f.Description)
		}
	}
	return out
}

// claim sets worker id's description unless another worker has the same
// one in flight; it returns that worker, or 0.
func (p *pool) claim(id int, desc string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for other, f := range p.flights {
		if other != id && f != nil && strings.EqualFold(f.Description, desc) {
			return other
		}
	}
	if f := p.flights[id]; f != nil {
		f.Description = desc
	}
	p.saveLocked()
	return 0
}

func (p *pool) setFlight(f *Flight) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Label == "" {
		delete(p.flights, f.Worker)
	} else {
		p.flights[f.Worker] = f
	}
}

func (p *pool) updateFlight(id int, change func(*Flight)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.flights[id]; f != nil {
		change(f)
		p.saveLocked()
	}
}

func (p *pool) save() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saveLocked()
}

// saveLocked writes inflight.json; a failure is reported, never fatal (the
// file serves resume and the results command, not the results).
func (p *pool) saveLocked() {
	fs := Flights{Flights: []Flight{}, Queue: p.queue, Updated: time.Now().UTC()}
	for _, w := range p.workers {
		if f := p.flights[w.id]; f != nil {
			fs.Flights = append(fs.Flights, *f)
		}
	}
	b, err := json.MarshalIndent(fs, "", "  ")
	if err == nil {
		err = atomicfile.Write(p.r.path(FlightsFile), append(b, '\n'), 0o644)
	}
	if err != nil {
		p.r.reporter().Logf("writing %s: %v", FlightsFile, err)
	}
}

// poolReporter names the worker of each finished experiment.
type poolReporter struct {
	status.Reporter
	p *pool
}

func (pr poolReporter) Done(row results.Row, best float64) {
	n, w := len(pr.p.r.rows)-1, 0
	if f := pr.p.finishing; f != nil {
		w = f.w.id
	}
	status.DoneAs(pr.Reporter, n, w, row, best)
}

// phaseTap passes a reporter's phases on and tells f too.
type phaseTap struct {
	status.Reporter
	f func(status.Phase)
}

func (t phaseTap) Phase(ph status.Phase) {
	t.Reporter.Phase(ph)
	t.f(ph)
}
