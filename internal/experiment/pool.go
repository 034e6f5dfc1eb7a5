package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"autoresearch/internal/agent"
	"autoresearch/internal/cost"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/status"
)

// The pool of workers is the research loop, whether one experiment is in
// flight or many, and whether the program runs here or as cluster jobs
// (whose jobs outlive this process and are followed again on resume).
//
// Each worker owns a clone of the run's branch (workers/<i>/worktree), its
// binaries (workers/<i>/bin) and its share of the machine (a GPU, or 1/N of
// the cores). One goroutine, the coordinator, owns the run's state: it hands
// each idle worker its next job (a change waiting to be re-applied first,
// else a new proposal), and decides, records and publishes each experiment
// as it finishes, then resets the worker's clone to the last kept commit.
// Workers only touch their own clone; the run's own worktree holds the last
// kept commit.
//
// The keep rule with a moving best. An experiment starts from the last kept
// commit, its parent. When it finishes:
//
//   - it beats the best and its parent is still the last kept commit: kept,
//     its commit becomes the branch's tip;
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
// An experiment's number is its row, known only when it finishes; with one
// worker that is when it starts too, and its files are named by it
// (logs/5.log, transcripts/5.jsonl). With several, its files are named by
// worker and attempt while it runs (logs/w2-5.log). experiments.jsonl
// records the worker, the parent, the job and the timings, and links the
// files. inflight.json lists what each worker is doing (and the changes
// waiting): on resume, an experiment whose job may still run on a cluster is
// followed again; any other is recorded as interrupted (it was cut short with
// the process that ran it) and the worker starts afresh from the last kept
// commit.
//
// A proposal of experiment n is asked under number n plus the experiments
// in flight before it (with one worker, n itself): the sweep draws from that
// number, so the same seed proposes the same changes whatever the executor.

const maxReapply = 3

// worker is one slot of the pool: its clone, binaries, share of the machine
// and proposer.
type worker struct {
	id       int    // 1..N
	label    string // names the current experiment's files: its number, or w<id>-<k>
	dir      string // workers/<id>
	worktree string
	bin      string // the folder of its binaries
	scratch  string // the program's own folder (see runner.Spec.Scratch)
	env      []string
	repo     *gitops.Repo
	base     status.Reporter // the worker's reporter
	rep      status.Reporter // base, under the phase tap of the current job
	prop     agent.Proposer
	attach   string          // a job to follow instead of starting the program
	onJob    func(id string) // told the job id of a run as soon as it has one
	busy     bool
	count    int  // attempts started, for labels
	single   bool // the only worker: messages name the experiment
}

// logf says something about the worker's current experiment: with one
// worker named by its label ("experiment 5: ..."), with several by the
// worker's reporter ("worker 2: ...").
func (w *worker) logf(format string, args ...any) {
	if w.single {
		format = "experiment " + w.label + ": " + format
	}
	w.base.Logf(format, args...)
}

func (w *worker) vars() map[string]string {
	return map[string]string{runner.BinVar: filepath.Join(w.bin, "program"), runner.WorktreeVar: w.worktree}
}

func (w *worker) submitted(rec *Record, id string) {
	rec.Job = id
	if w.onJob != nil {
		w.onJob(id)
	}
}

func (w *worker) takeAttach() string {
	a := w.attach
	w.attach = ""
	return a
}

// reset makes the worker's clone the commit (fetched from the run's clone),
// clean, with the shared paths linked.
func (w *worker) reset(r *Run, commit string) error {
	if err := w.repo.Fetch(r.repo, commit); err != nil {
		return fmt.Errorf("worker %d: %w", w.id, err)
	}
	if err := w.repo.ResetHard(commit); err != nil {
		return fmt.Errorf("worker %d: %w", w.id, err)
	}
	return linkShared(r.Config.Repo, w.worktree, r.Config.Task.Shared)
}

// openWorker opens worker i's clone, or makes it from the run's worktree.
func (r *Run) openWorker(i int) (*worker, error) {
	return r.openClone(filepath.Join(r.Dir, WorkersDir, strconv.Itoa(i)), i)
}

// openClone opens the worker whose clone, binaries and scratch folder live
// in dir, making the clone from the run's worktree when it has none.
func (r *Run) openClone(dir string, i int) (*worker, error) {
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
	repo.Now = r.repo.Now // one clock stamps the run's commits (SetClock)
	w := &worker{id: i, dir: dir, worktree: wt, bin: filepath.Join(dir, binDir), repo: repo, scratch: filepath.Join(dir, scratchDir)}
	w.base, w.rep = r.reporter(), r.reporter()
	return w, linkShared(r.Config.Repo, wt, r.Config.Task.Shared)
}

// job is one piece of work for a worker: a proposal, a change to re-apply,
// or an experiment a stopped process left in flight.
type job struct {
	rec     *Record
	req     agent.Request
	reapply *Pending // a re-application
	patches []filePatch
	resume  *Flight // an experiment of a stopped process, committed already
}

type filePatch struct {
	path       string
	base, ours []byte
	hasOurs    bool
}

// finished is how a worker's job ended.
type finished struct {
	w         *worker
	j         *job
	a         *attemptResult
	err       error // a stop (ctx) or an error no experiment can fix
	exhausted error
	abandon   string
}

type pool struct {
	r       *Run
	o       Options
	workers []*worker
	queue   []Pending

	mu      sync.Mutex
	flights map[int]*Flight
	best    float64  // r.best, for the workers
	rule    KeepRule // r.KeepRule(o), for the workers

	measurer *Measurer // re-checks the best (recheck.go); nil before the first

	done, abandoned int
	exhausted       bool
	finishing       *finished // the experiment being recorded, for the reporter

	// spend is what the run's LLM cost so far (under mu: workers add their
	// proposals' tokens); costSaid, that the stop at MaxCost was announced.
	spend    cost.Spend
	costSaid bool
	real     status.Reporter // the run's reporter, for the spend
}

// pool is Loop's experiments: see the top of this file.
func (r *Run) pool(ctx context.Context, o Options) (StopReason, error) {
	n := max(o.Workers, 1)
	p := &pool{r: r, o: o, flights: map[int]*Flight{}}
	p.publish()
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
		if n > 1 {
			// The live status shows each worker; its messages name it.
			w.base = status.ForWorker(r.reporter(), i)
		}
		w.single = n == 1
		p.workers = append(p.workers, w)
	}
	saved, err := ReadInFlight(r.Dir)
	if err != nil {
		return "", err
	}
	p.queue = saved.Queue
	if p.spend, err = r.spendSoFar(o.Prices); err != nil {
		return "", err
	}
	real := r.reporter()
	p.real = real
	if o.Prices.Known() {
		status.Spent(real, p.spend)
	}
	r.Reporter = poolReporter{real, p}
	defer func() { r.Reporter, r.spend = real, p.spend }()
	return p.loop(ctx, saved.Flights)
}

// spendSoFar is what the run's recorded proposals cost, each at the prices
// it was recorded with, else at prices, with the experiments and kept
// changes decided so far.
func (r *Run) spendSoFar(prices cost.Prices) (cost.Spend, error) {
	s := cost.Spend{Experiments: max(len(r.rows)-1, 0)}
	for _, row := range r.rows[min(1, len(r.rows)):] {
		if row.Status == results.Keep {
			s.Keeps++
		}
	}
	recs, err := ReadRecords(r.path(RecordsFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	pricing := cost.Pricing{Default: prices}
	for _, rec := range recs {
		c, _ := pricing.Of(rec.Prices, int64(rec.PromptTokens), int64(rec.CompletionTokens))
		s.Dollars += c
	}
	return s, nil
}

// note records a proposal's tokens and transcript in rec, with the prices,
// and adds what the tokens cost to the run's spend.
func (p *pool) note(rec *Record, prop agent.Proposal, transcript string) {
	p.r.noteProposal(rec, prop, transcript)
	if !p.o.Prices.Known() || prop.PromptTokens+prop.CompletionTokens == 0 {
		return
	}
	rec.Prices = p.o.Prices
	p.mu.Lock()
	p.spend.Dollars += p.o.Prices.Of(int64(prop.PromptTokens), int64(prop.CompletionTokens))
	s := p.spend
	p.mu.Unlock()
	status.Spent(p.real, s)
}

// trying tells the live status what worker w tries.
func (p *pool) trying(w *worker, description string) {
	id := w.id
	if w.single {
		id = 0
	}
	status.Trying(p.real, id, description)
}

// spent is the run's spend so far.
func (p *pool) spent() cost.Spend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spend
}

func (p *pool) loop(ctx context.Context, saved []Flight) (StopReason, error) {
	r := p.r
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan *finished)
	busy := 0
	start := func(w *worker, j *job) {
		w.busy, busy = true, busy+1
		go func() { results <- p.work(wctx, w, j) }()
	}
	var fatal error
	for _, fl := range saved {
		fl := fl
		// A job on a cluster may still be running: it is followed again.
		// Anything else a stopped process left was cut short with it, and
		// is recorded so; the next proposal starts from the last kept commit.
		if fl.Job == "" || fl.Commit == "" || fl.Worker < 1 || fl.Worker > len(p.workers) || p.workers[fl.Worker-1].busy {
			rec := r.newRecord(len(r.rows), fl.Description, p.o.Proposer.Name())
			rec.Parent, rec.Worker, rec.Start, rec.Job, rec.Commit = fl.Parent, fl.Worker, fl.Start, fl.Job, fl.Commit
			r.reporter().Logf("run %s: rolling back an unfinished experiment %d (%q) to the last kept commit %s", r.Config.Tag, rec.N, fl.Description, short(r.kept))
			r.interrupted(rec)
			continue
		}
		j, err := p.resumeJob(p.workers[fl.Worker-1], &fl)
		if err != nil {
			fatal = err
			break
		}
		start(p.workers[fl.Worker-1], j)
	}
	if fatal == nil {
		// Every idle clone starts from the last kept commit.
		for _, w := range p.workers {
			if !w.busy {
				if err := w.reset(r, r.kept); err != nil {
					fatal = err
					break
				}
			}
		}
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
				if err := p.recheckIfDue(ctx, w); err != nil {
					fatal = err
					cancel()
					break
				}
				if ctx.Err() != nil {
					break
				}
				j, err := p.next(w, busy)
				if err != nil {
					fatal = err
					cancel()
					break
				}
				start(w, j)
			}
			p.save()
		}
		if busy == 0 {
			break
		}
		f := <-results
		busy--
		f.w.busy = false
		status.Idle(r.reporter(), f.w.id)
		if err := p.finish(ctx, f); err != nil && fatal == nil {
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
// The first stop at MaxCost is announced, with the spend.
func (p *pool) limit(busy int) StopReason {
	switch {
	case p.o.MaxExperiments > 0 && p.done+busy >= p.o.MaxExperiments:
		return StopMaxExperiments
	case p.o.MaxCost > 0 && p.spent().Dollars >= p.o.MaxCost:
		if !p.costSaid {
			p.costSaid = true
			finishing := ""
			if busy > 0 {
				finishing = fmt.Sprintf("; finishing the %d experiments in flight", busy)
				if busy == 1 {
					finishing = "; finishing the experiment in flight"
				}
			}
			p.r.reporter().Logf("max-cost %s reached: the LLM has cost %s; no new proposals%s", cost.Dollars(p.o.MaxCost), cost.Dollars(p.spent().Dollars), finishing)
		}
		return StopMaxCost
	case !p.o.Until.IsZero() && !time.Now().Before(p.o.Until):
		return StopUntil
	case p.exhausted && len(p.queue) == 0:
		return StopExhausted
	}
	return ""
}

// label names the files of worker w's next attempt: with one worker the
// experiment's number n, else w<id>-<k> with the first k no file has.
func (p *pool) label(w *worker, n int) string {
	if len(p.workers) == 1 {
		return strconv.Itoa(n)
	}
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

// next prepares worker w's next job, with busy experiments in flight: a
// change waiting to be re-applied, or a new proposal.
func (p *pool) next(w *worker, busy int) (*job, error) {
	r := p.r
	n := len(r.rows) + busy
	w.label = p.label(w, n)
	rec := r.newRecord(len(r.rows), "", p.o.Proposer.Name())
	rec.Worker = w.id
	j := &job{rec: rec}
	fl := &Flight{Worker: w.id, Label: w.label, Parent: r.kept, Start: rec.Start, Phase: string(status.Proposing)}
	if len(p.queue) > 0 {
		q := p.queue[0]
		p.queue = p.queue[1:]
		j.reapply = &q
		rec.Description = q.Description
		fl.Description, fl.Reapplied, fl.Phase = q.Description, q.Times, "re-applying"
		for _, path := range r.Config.Task.Editable {
			base, _, err := r.repo.LookupFile(q.Parent, path)
			if err != nil {
				return nil, err
			}
			ours, ok, err := r.repo.LookupFile(q.Commit, path)
			if err != nil {
				return nil, err
			}
			j.patches = append(j.patches, filePatch{path: path, base: base, ours: ours, hasOurs: ok})
		}
	}
	j.req = p.request(w, n)
	p.setFlight(fl)
	return j, nil
}

// resumeJob takes up an experiment a stopped process left in flight on a
// cluster: its commit is in the worker's clone, its job is followed again.
func (p *pool) resumeJob(w *worker, fl *Flight) (*job, error) {
	r := p.r
	if err := w.repo.ResetHard(fl.Commit); err != nil {
		return nil, fmt.Errorf("worker %d: taking up %s again: %w", w.id, short(fl.Commit), err)
	}
	if err := linkShared(r.Config.Repo, w.worktree, r.Config.Task.Shared); err != nil {
		return nil, err
	}
	w.label, w.attach = fl.Label, fl.Job
	rec := r.newRecord(len(r.rows), fl.Description, p.o.Proposer.Name())
	rec.Parent, rec.Worker, rec.Start, rec.Commit = fl.Parent, w.id, fl.Start, fl.Commit
	r.reporter().Logf("worker %d: following job %s of %q again", w.id, fl.Job, fl.Description)
	fl.Phase = string(status.Training)
	p.setFlight(fl)
	j := &job{rec: rec, resume: fl, req: p.request(w, len(r.rows))}
	if fl.Reapplied > 0 {
		j.reapply = &Pending{Description: fl.Description, Times: fl.Reapplied}
	}
	return j, nil
}

// request is what worker w's proposer may know now, for a proposal asked
// under number n.
func (p *pool) request(w *worker, n int) agent.Request {
	req := p.r.request(n, p.o, fmt.Sprintf("%s/%s.jsonl", TranscriptsDir, w.label))
	req.Worktree = w.worktree
	req.Check = p.r.checker(w)
	req.InFlight = p.inFlight()
	req.Note = w.logf
	return req
}

// work runs a job on worker w: propose (or re-apply), guard, commit, build,
// run, repair, re-measure; everything but the decision. It touches only w's
// clone.
func (p *pool) work(ctx context.Context, w *worker, j *job) *finished {
	r, rec := p.r, j.rec
	f := &finished{w: w, j: j}
	w.onJob = func(id string) { p.updateFlight(w.id, func(fl *Flight) { fl.Job = id }) }
	w.rep = phaseTap{w.base, func(ph status.Phase) { p.updateFlight(w.id, func(fl *Flight) { fl.Phase = string(ph) }) }}
	rep := w.rep
	rep.Start(rec.N)
	req := j.req
	committed := false
	if j.resume != nil || j.reapply != nil {
		p.trying(w, rec.Description)
	}
	switch {
	case j.resume != nil:
		committed = true
	case j.reapply != nil:
		for _, fp := range j.patches {
			path := filepath.Join(w.worktree, filepath.FromSlash(fp.path))
			cur, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				f.err = err
				return f
			}
			if !fp.hasOurs {
				os.Remove(path)
				continue
			}
			merged, ok := merge3(string(fp.base), string(fp.ours), string(cur))
			if !ok {
				f.abandon = fmt.Sprintf("%v: the change of experiment %d no longer applies on the current best (it touches lines a kept change touched)", agent.ErrAbandoned, j.reapply.From)
				return f
			}
			if err := os.WriteFile(path, []byte(merged), 0o644); err != nil {
				f.err = err
				return f
			}
		}
	default:
		rep.Phase(status.Proposing)
		var prop agent.Proposal
		err := r.timed(rec, "propose", func() (err error) { prop, err = w.prop.Propose(ctx, req); return })
		p.note(rec, prop, req.TranscriptPath)
		switch {
		case ctx.Err() != nil:
			f.err = ctx.Err()
			return f
		case errors.Is(err, agent.ErrAbandoned):
			f.abandon = err.Error()
			return f
		case errors.Is(err, agent.ErrExhausted):
			f.exhausted = err
			return f
		case err != nil:
			f.err = fmt.Errorf("the proposer %s failed: %w", p.o.Proposer.Name(), err)
			return f
		}
		rec.Description = results.CleanDescription(prop.Description)
		if other := p.claim(w.id, rec.Description); other != 0 {
			f.abandon = fmt.Sprintf("%v: %q is in flight on worker %d already", agent.ErrAbandoned, rec.Description, other)
			return f
		}
		p.trying(w, rec.Description)
	}

	var a *attemptResult
	for fix := 0; ; fix++ {
		if fix > 0 {
			rep.Phase(status.Repairing)
			req.TranscriptPath = r.path(fmt.Sprintf("%s/%s-fix%d.jsonl", TranscriptsDir, w.label, fix))
			req.Last = r.outcomeOf(rec, a)
			fail := agent.Failure{Kind: string(a.crash), Output: a.output, Attempt: fix}
			var rp agent.Proposal
			err := r.timed(rec, "repair", func() (err error) { rp, err = w.prop.Repair(ctx, req, fail); return })
			p.note(rec, rp, req.TranscriptPath)
			if err != nil {
				if ctx.Err() != nil {
					f.err = ctx.Err()
					return f
				}
				a.reason += "; no fix: " + err.Error()
				break
			}
			rec.FixAttempts = fix
			// The fixed change is what runs now: its description says
			// what results.tsv and the commit record.
			if strings.TrimSpace(rp.Description) != "" {
				rec.Description = results.CleanDescription(rp.Description)
				p.trying(w, rec.Description)
			}
			committed = false
		}
		if !committed {
			var gerr error
			r.timed(rec, "guard", func() error { gerr = w.repo.Guard(r.Config.BaseCommit, r.Config.Task.Editable); return nil })
			var ge *gitops.GuardError
			if errors.As(gerr, &ge) {
				a = &attemptResult{crash: "guard", reason: "rejected, never built: " + ge.Error()}
				rec.Commit = ""
				w.logf("%s %s", rec.Description, a.reason)
				break
			} else if gerr != nil {
				f.err = gerr
				return f
			}
			var h string
			err := r.timed(rec, "commit", func() (err error) {
				h, err = w.repo.Commit(rec.Description+"\n\nautoresearch experiment\n", rec.Parent, r.Config.Task.Editable)
				return
			})
			if errors.Is(err, gitops.ErrNoChange) {
				if fix == 0 {
					f.abandon = fmt.Sprintf("%v: it changed nothing", agent.ErrAbandoned)
					return f
				}
				a.reason += "; the fix changed nothing"
				break
			}
			if err != nil {
				f.err = err
				return f
			}
			rec.Commit = h
			p.updateFlight(w.id, func(fl *Flight) { fl.Commit, fl.Description = h, rec.Description })
		}
		suffix := ""
		if fix > 0 {
			suffix = fmt.Sprintf("-fix%d", fix)
		}
		attached := w.attach
		var err error
		a, err = r.attempt(ctx, w, rec, suffix)
		if err != nil && attached != "" && ctx.Err() == nil {
			// The job is gone without a trace: run the change again.
			w.logf("job %s cannot be followed (%v): running %q again", attached, err, rec.Description)
			a, err = r.attempt(ctx, w, rec, suffix)
		}
		if err != nil {
			f.err = err
			return f
		}
		if a.crash == "" || a.crash == runner.Timeout || a.crash == runner.ClusterCrash || fix >= p.o.FixAttempts {
			break
		}
	}
	// A change that may beat the best is measured again, against the best
	// and the noise as they are at each step.
	if err := r.remeasure(ctx, w, rec, a, p.ruleNow); err != nil {
		f.err = err
		return f
	}
	f.a = a
	return f
}

// ruleNow is the keep rule and the best as they stand, for the workers'
// goroutines.
func (p *pool) ruleNow() (KeepRule, float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rule, p.best
}

// publish makes the best and the keep rule of the coordinator's state the
// workers'.
func (p *pool) publish() {
	rule := p.r.KeepRule(p.o)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.best, p.rule = p.r.best, rule
}

// finish takes a worker's finished job (a stop, an error, an abandoned
// proposal or an experiment to decide on), then resets its clone to the last
// kept commit.
func (p *pool) finish(ctx context.Context, f *finished) error {
	defer p.setFlight(&Flight{Worker: f.w.id}) // the worker is free
	err := p.settle(ctx, f)
	if err == nil || ctx.Err() != nil {
		// Whatever happened, the worker's clone holds the last kept
		// commit again, clean, before its next job.
		if rerr := f.w.reset(p.r, p.r.kept); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// settle records f: an interruption, an abandonment, an experiment decided.
func (p *pool) settle(ctx context.Context, f *finished) error {
	r, rec := p.r, f.j.rec
	switch {
	case f.err != nil && ctx.Err() != nil:
		rec.N = len(r.rows)
		r.interrupted(rec)
		return nil
	case f.err != nil:
		return f.err
	case f.exhausted != nil:
		if !p.exhausted {
			r.reporter().Logf("%v", f.exhausted)
		}
		p.exhausted = true
		return nil
	case f.abandon != "":
		rec.N = len(r.rows)
		rec.Status, rec.Reason, rec.End, rec.Commit = "abandoned", f.abandon, time.Now(), ""
		r.abandonedWhy = f.abandon
		f.w.logf("%s", f.abandon)
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
	return p.decide(f)
}

// decide applies the keep rule with a moving best (see the top of this
// file) and records the experiment.
func (p *pool) decide(f *finished) error {
	r, rec, a, w := p.r, f.j.rec, f.a, f.w
	t := time.Now()
	rec.N = len(r.rows)
	row := results.Row{Commit: rec.Commit, Description: rec.Description}
	if rec.Commit == "" {
		row.Commit = noCommit
	} else if d, err := w.repo.Diff(rec.Parent, rec.Commit); err == nil {
		rec.Diff = d
	}
	if rec.Commit != "" {
		if err := r.repo.Fetch(w.repo, rec.Commit); err != nil {
			return err
		}
		if err := r.repo.SetRef(runs.ExperimentRef(r.Config.Tag, rec.N), rec.Commit); err != nil {
			return err
		}
	}
	keep, beats := false, false
	rule := r.KeepRule(p.o)
	nr := max(len(a.values), 1)
	rec.Threshold, rec.Sigma, rec.SigmaDF, rec.BestRuns = rule.Margin(1+rule.Remeasure), rule.Sigma, rule.DF, rule.BestRuns
	if a.crash == "" {
		// A verdict of remeasure here (the best or the noise moved during
		// the measurements, or a re-measurement failed) is a discard.
		v, m := rule.Judge(r.best, a.values)
		a.value, beats = m, v == VerdictKeep
		if rule.Sigma > 0 {
			rec.SE, rec.Margin = rule.SE(nr), rule.Bar(nr, v)
		}
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
		if f.j.reapply != nil {
			times = f.j.reapply.Times + 1
		}
		if times > maxReapply {
			a.reason = fmt.Sprintf("beat the best %.6f, but started from %s before %s was kept, and was re-applied %d times already: dropped",
				r.best, short(rec.Parent), short(r.kept), maxReapply)
			break
		}
		p.queue = append(p.queue, Pending{Description: rec.Description, Parent: rec.Parent, Commit: rec.Commit, From: rec.N, Times: times})
		a.reason = fmt.Sprintf("beat the best %.6f, but started from %s before %s was kept: re-applied on %s as a new experiment",
			r.best, short(rec.Parent), short(r.kept), short(r.kept))
		w.logf("%s", a.reason)
	default:
		row.Status, row.Value, row.MemoryGB = results.Discard, a.value, a.memory
	}
	if keep {
		if err := r.repo.Adopt(w.repo, rec.Commit); err != nil {
			return fmt.Errorf("keeping %s: %w", short(rec.Commit), err)
		}
		if err := linkShared(r.Config.Repo, r.Worktree(), r.Config.Task.Shared); err != nil {
			return err
		}
		r.kept, r.best = rec.Commit, a.value
	}
	rec.Seconds["decide"] += time.Since(t).Seconds()
	p.finishing = f
	err := r.record(row, rec, a)
	p.finishing = nil
	p.publish() // the record's runs are in the noise now
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.spend.Experiments++
	if keep {
		p.spend.Keeps++
	}
	s := p.spend
	p.mu.Unlock()
	if p.o.Prices.Known() {
		status.Spent(p.real, s)
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
	in := InFlight{Flights: []Flight{}, Queue: p.queue, Updated: time.Now().UTC()}
	for _, w := range p.workers {
		if f := p.flights[w.id]; f != nil {
			in.Flights = append(in.Flights, *f)
		}
	}
	if err := in.write(p.r.Dir); err != nil {
		p.r.reporter().Logf("writing %s: %v", FlightsFile, err)
	}
}

// poolReporter names the worker of each finished experiment when there are
// several.
type poolReporter struct {
	status.Reporter
	p *pool
}

func (pr poolReporter) Done(row results.Row, best float64) {
	n, w := len(pr.p.r.rows)-1, 0
	if f := pr.p.finishing; f != nil && len(pr.p.workers) > 1 {
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
