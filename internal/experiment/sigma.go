package experiment

import (
	"fmt"
	"math"

	"autoresearch/internal/results"
)

// SigmaPool is the run's noise as it stands: the pooled within-program
// variance of every program measured more than once (the baseline's
// repeats, the re-measured changes, the re-checks of the best). Each program
// adds the squared deviations of its runs from its own mean and its runs
// less one as degrees of freedom, so a program weighs by its runs and a
// difference between programs never counts as noise. Programs are named by
// their commit; runs of the same program measured at different times join.
type SigmaPool struct {
	progs map[string]*poolProgram
	ss    float64 // the sum of the programs' squared deviations
	df    int     // the sum of their runs less one
	runs  int     // the runs of the programs with more than one
}

type poolProgram struct {
	n        int
	mean, m2 float64 // Welford's running mean and sum of squared deviations
}

// Add adds runs of the program named prog.
func (p *SigmaPool) Add(prog string, values ...float64) {
	if p.progs == nil {
		p.progs = map[string]*poolProgram{}
	}
	q := p.progs[prog]
	if q == nil {
		q = &poolProgram{}
		p.progs[prog] = q
	}
	for _, x := range values {
		q.n++
		d := x - q.mean
		q.mean += d / float64(q.n)
		step := d * (x - q.mean)
		q.m2 += step
		p.ss += step
		switch {
		case q.n == 2:
			p.df, p.runs = p.df+1, p.runs+2
		case q.n > 2:
			p.df, p.runs = p.df+1, p.runs+1
		}
	}
}

// Reset forgets every program.
func (p *SigmaPool) Reset() { *p = SigmaPool{} }

// Sigma is the pooled standard deviation, sqrt(sum of squared deviations /
// degrees of freedom); 0 before any program was measured twice.
func (p *SigmaPool) Sigma() float64 {
	if p.df == 0 {
		return 0
	}
	return math.Sqrt(math.Max(p.ss, 0) / float64(p.df))
}

// DF is Sigma's degrees of freedom: the runs less one per program.
func (p *SigmaPool) DF() int { return p.df }

// Runs is how many runs Sigma rests on: those of the programs measured more
// than once.
func (p *SigmaPool) Runs() int { return p.runs }

// KeepState is what the keep rule knows as a run goes: the pooled sigma and
// the runs behind the best. The loop keeps one (rebuilt from
// experiments.jsonl on resume, line by line, see Run.learn); the keep-rule
// simulation (tools/keepsim) keeps one the same way.
type KeepState struct {
	Pool SigmaPool
	// BestRuns are the runs behind the best's value: the kept program's
	// runs and the re-checks since, or the fresh runs of a re-estimate.
	BestRuns []float64
	// BestProgram names the best (its commit).
	BestProgram string
}

// Baseline takes in the baseline prog's runs: the first best, and the
// first program of the pool. From minOutlierRuns runs on, outliers are left
// out as NewNoise leaves them out: they measured the machine, not the
// program.
func (s *KeepState) Baseline(prog string, values []float64) {
	if nz := NewNoise(values); nz != nil {
		values = nz.Kept()
	}
	s.Pool.Add(prog, pooled(values)...)
	s.BestRuns, s.BestProgram = append([]float64(nil), values...), prog
}

// Decided takes in the runs of a change that was decided on: measured more
// than once, they join the pool; kept, they become the best's.
func (s *KeepState) Decided(prog string, values []float64, kept bool) {
	s.Pool.Add(prog, pooled(values)...)
	if kept && len(values) > 0 {
		s.BestRuns, s.BestProgram = append([]float64(nil), values...), prog
	}
}

// Rechecked takes in fresh runs of the best: they join its runs and, with
// them, the pool.
func (s *KeepState) Rechecked(values []float64) {
	s.Pool.Add(s.BestProgram, values...)
	s.BestRuns = append(s.BestRuns, values...)
}

// Rebaselined starts afresh from runs of the best measured after a drift:
// they alone are the best's runs and the pool (outliers left out as in
// Baseline).
func (s *KeepState) Rebaselined(values []float64) {
	prog := s.BestProgram
	s.Pool.Reset()
	s.Baseline(prog, values)
}

// Best is the best's value: the mean of its runs.
func (s *KeepState) Best() float64 { return mean(s.BestRuns) }

// Rule is k with the noise as it stands: the pooled sigma and its degrees of
// freedom, and the best's runs.
func (s *KeepState) Rule(k KeepRule) KeepRule {
	k.Sigma, k.DF, k.BestRuns = s.Pool.Sigma(), s.Pool.DF(), max(len(s.BestRuns), 1)
	return k
}

// Drift is how many standard errors (of k, as Rule made it) one fresh run v
// of the best lies from the best's value; positive when v is higher.
func (s *KeepState) Drift(k KeepRule, v float64) float64 {
	se := k.SE(1)
	if se <= 0 {
		return 0
	}
	return (v - s.Best()) / se
}

// pooled is values when they are more than one run (a program measured once
// says nothing about the noise), else none.
func pooled(values []float64) []float64 {
	if len(values) < 2 {
		return nil
	}
	return values
}

// noiseState is the run's KeepState, the kept experiment's number and when
// the best was last re-checked.
type noiseState struct {
	KeepState
	bestN int // the kept experiment's number
	// checkedAt is the number of rows of results.tsv when the best was last
	// re-checked (1, the baseline's, before the first).
	checkedAt int
}

// learn takes in a line of experiments.jsonl.
func (r *Run) learn(rec Record) {
	s := &r.noise
	prog := rec.Commit
	if prog == "" {
		prog = fmt.Sprintf("experiment %d", rec.N)
	}
	switch rec.Status {
	case string(results.Keep), string(results.Discard):
		if rec.Crash != "" {
			return
		}
		values := rec.Measurements
		if len(values) == 0 {
			values = []float64{rec.Value}
		}
		if rec.N == 0 {
			s.Baseline(prog, values)
			s.checkedAt = 1
		} else {
			s.Decided(prog, values, rec.Status == string(results.Keep))
		}
		if rec.Status == string(results.Keep) {
			s.bestN = rec.N
		}
	case statusRecheck:
		s.checkedAt = rec.N
		switch {
		case rec.Crash != "" || len(rec.Measurements) == 0 || rec.Commit != s.BestProgram:
		case rec.Rebaselined:
			s.Rebaselined(rec.Measurements)
		default:
			s.Rechecked(rec.Measurements)
		}
	}
}

// relearn rebuilds the noise and the best's runs from the run's records, on
// resume. Where the records do not end at the kept commit (an older run, a
// record lost to a torn line), the best stays results.tsv's value, as if
// measured once, and the pool what the records hold (the baseline's noise
// of run.json when they hold nothing).
func (r *Run) relearn(recs []Record) {
	r.noise = noiseState{checkedAt: 1}
	for _, rec := range recs {
		r.learn(rec)
	}
	if nz := r.Config.Noise; nz != nil && r.noise.Pool.DF() == 0 {
		r.noise.Pool.Add(r.Config.BaseCommit, nz.Kept()...)
	}
	if math.IsNaN(r.best) {
		return
	}
	if r.noise.BestProgram != r.kept || len(r.noise.BestRuns) == 0 {
		r.noise.BestRuns, r.noise.BestProgram = []float64{r.best}, r.kept
		for n, row := range r.rows {
			if row.Status == results.Keep {
				r.noise.bestN = n
			}
		}
		return
	}
	r.best = r.noise.Best()
}
