// Package audit is a run's audit: fresh runs of the baseline, the final best
// and, when asked, every kept commit, measured after the run as its
// experiments were, and what they say about the gains the run logged. It
// holds the file (audit.json in the run folder), the statistics and the
// table; package experiment measures, report and the commands show.
//
// Its terms, for a metric where lower is better (val_bpb); for one where
// higher is better every sign turns:
//
//   - program: a kept commit of the run, named by its experiment number (0
//     is the baseline, the last kept the final best), with the value the run
//     logged for it (results.tsv's, the mean of its runs) and its fresh runs.
//   - fresh runs: the audit's measurements, R of each program, interleaved
//     (round k measures every program once, in the branch's order on even
//     rounds and backwards on odd ones), so that a drift of the machine over
//     the audit hits every program alike and cancels from their differences
//     when it is linear.
//   - gain: how much the final best beat the baseline, positive when better;
//     logged from results.tsv, fresh from the means of the fresh runs.
//   - held: the fresh gain over the logged gain. Its interval is Welch's
//     t-interval of the fresh gain (the two programs' variances unequal),
//     divided by the logged gain, which is taken as the claim to check.
//   - step: a kept change against its parent, the kept commit before it.
//     A step held when its fresh delta is better than zero by at least one
//     standard error of that delta; one that did not is named plainly. The
//     audit never changes the branch.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/runs"
)

// File is the audit's file in the run folder.
const File = runs.AuditFile

// Version is the audit.json format this package writes and reads.
const Version = 1

// DefaultRuns is how many fresh runs of each program an audit asks for.
const DefaultRuns = 5

// Audit is audit.json: what was asked, and every fresh run so far. It is
// rewritten, whole and atomically, after every run, so an audit cut short
// keeps what it measured.
type Audit struct {
	Version       int    `json:"version"`
	Tag           string `json:"tag"`
	Metric        string `json:"metric"`
	LowerIsBetter bool   `json:"lower_is_better"`
	// Runs is the fresh runs asked of each program; Each says whether every
	// kept commit is a program, or only the baseline and the final best.
	Runs int  `json:"runs"`
	Each bool `json:"each"`
	// Workers is how many runs were measured at once, Executor and Device
	// where ("" for local).
	Workers  int       `json:"workers"`
	Executor string    `json:"executor,omitempty"`
	Device   string    `json:"device,omitempty"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	// Complete says every run asked for was measured.
	Complete bool `json:"complete"`
	// Seconds is the wall time spent measuring, over every sitting;
	// RunSeconds the run's own wall time when the audit began (first
	// experiment's start to last's end), to set it against.
	Seconds    float64 `json:"seconds"`
	RunSeconds float64 `json:"run_seconds,omitempty"`
	// Programs are the kept commits measured, in the branch's order: the
	// baseline first, the final best last.
	Programs []Program `json:"programs"`
}

// Program is one kept commit of the run.
type Program struct {
	N           int    `json:"n"` // its experiment number; 0 is the baseline
	Commit      string `json:"commit"`
	Description string `json:"description"`
	// Logged is the value results.tsv holds for it, the mean of LoggedRuns
	// (the runs the keep rule decided on).
	Logged     float64   `json:"logged"`
	LoggedRuns []float64 `json:"logged_runs,omitempty"`
	Fresh      []Run     `json:"fresh"`
}

// Run is one fresh run of a program.
type Run struct {
	Value   float64            `json:"value"` // 0 when it crashed
	Crash   string             `json:"crash,omitempty"`
	Reason  string             `json:"reason,omitempty"`
	Log     string             `json:"log"` // relative to the run folder
	Worker  int                `json:"worker,omitempty"`
	Start   time.Time          `json:"start"`
	Seconds float64            `json:"seconds"` // build and run
	Figures map[string]float64 `json:"figures,omitempty"`
}

// Path is the audit file of the run folder dir.
func Path(dir string) string { return filepath.Join(dir, File) }

// Read reads the audit of the run folder dir; nil and no error when it has
// none.
func Read(dir string) (*Audit, error) {
	path := Path(dir)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a Audit
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): remove it and run \"autoresearch audit\" again", path, err)
	}
	if a.Version != Version {
		return nil, fmt.Errorf("%s has format version %d; this autoresearch reads version %d: run \"autoresearch audit\" again to replace it", path, a.Version, Version)
	}
	return &a, nil
}

// Write writes a into the run folder dir, atomically.
func (a *Audit) Write(dir string) error {
	a.Version = Version
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(Path(dir), append(b, '\n'), 0o644)
}

// Planned is how many fresh runs the audit asks for.
func (a *Audit) Planned() int { return a.Runs * len(a.Programs) }

// Measured is how many fresh runs it holds, crashed ones included.
func (a *Audit) Measured() int {
	n := 0
	for _, p := range a.Programs {
		n += len(p.Fresh)
	}
	return n
}

// Find returns the index of the program of experiment n; false when the
// audit did not measure it.
func (a *Audit) Find(n int) (int, bool) {
	for i, p := range a.Programs {
		if p.N == n {
			return i, true
		}
	}
	return -1, false
}

// Job is one fresh run to measure: of Programs[Program], its Index-th
// (1-based).
type Job struct {
	Program, Index int
}

// Plan is the order of the runs still to measure: R rounds, each measuring
// every program once, forwards on even rounds and backwards on odd ones, so
// that a linear drift of the machine cancels from each pair's difference.
// The runs a program holds already fill its first places in that order,
// so an audit cut short goes on as if it had not been.
func (a *Audit) Plan() []Job {
	done := make([]int, len(a.Programs))
	for i, p := range a.Programs {
		done[i] = len(p.Fresh)
	}
	seen := make([]int, len(a.Programs))
	var jobs []Job
	for round := 0; round < a.Runs; round++ {
		for k := range a.Programs {
			i := k
			if round%2 == 1 {
				i = len(a.Programs) - 1 - k
			}
			seen[i]++
			if seen[i] > done[i] {
				jobs = append(jobs, Job{Program: i, Index: seen[i]})
			}
		}
	}
	return jobs
}

// Same reports whether a and b audit the same programs with the same
// options: an incomplete a can then be continued as b.
func (a *Audit) Same(b *Audit) bool {
	if a.Runs != b.Runs || a.Each != b.Each || len(a.Programs) != len(b.Programs) {
		return false
	}
	for i := range a.Programs {
		if a.Programs[i].Commit != b.Programs[i].Commit || a.Programs[i].N != b.Programs[i].N {
			return false
		}
	}
	return true
}
