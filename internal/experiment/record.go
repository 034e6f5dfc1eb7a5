package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"autoresearch/internal/agent"
	"autoresearch/internal/contract"
	"autoresearch/internal/cost"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
)

// Record is one line of experiments.jsonl: everything about an experiment
// that results.tsv has no column for. Status is keep, discard or crash for an
// experiment with a results.tsv row; abandoned, interrupted and recheck
// lines (a re-check of the best, see recheck.go) have no row (and share N
// with the experiment that follows them).
type Record struct {
	N           int    `json:"n"`
	Status      string `json:"status"`
	Crash       string `json:"crash,omitempty"` // build, runtime, timeout or guard
	Reason      string `json:"reason,omitempty"`
	Commit      string `json:"commit,omitempty"` // full hash; empty when nothing was committed
	Parent      string `json:"parent"`           // the kept commit it started from
	Description string `json:"description"`

	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Best   float64 `json:"best"` // the best after this experiment
	// Threshold is the least a change could be kept by then: the margin
	// after the most runs (KeepRule.Margin). Margin is the bar the decision
	// rested on (KeepRule.Bar): the margin after the change's runs, or, for
	// a change dropped before its last run, the gain it needed to be
	// measured again. Sigma is the pooled noise the decision used, SigmaDF
	// its degrees of freedom, BestRuns the runs behind the best, SE the
	// standard error of the difference, and Measurements every run of the
	// change (the baseline's repeats; a candidate's re-measurements), Value
	// being their mean.
	Threshold    float64   `json:"threshold"`
	Margin       float64   `json:"margin,omitempty"`
	Sigma        float64   `json:"sigma,omitempty"`
	SigmaDF      int       `json:"sigma_df,omitempty"`
	BestRuns     int       `json:"best_runs,omitempty"`
	SE           float64   `json:"se,omitempty"`
	Measurements []float64 `json:"measurements,omitempty"`
	// Drift is, on a re-check's line (status recheck), how many standard
	// errors its run lay from the best's estimate (positive: a higher
	// value), and Rebaselined whether that was past DriftLimit, so that the
	// best was measured afresh and its runs (Measurements) restarted the
	// pooled sigma.
	Drift       float64            `json:"drift,omitempty"`
	Rebaselined bool               `json:"rebaselined,omitempty"`
	MemoryGB    float64            `json:"memory_gb"`
	Figures     map[string]float64 `json:"figures,omitempty"` // the whole summary: tokens, mfu, memory...
	Source      string             `json:"figures_from,omitempty"`
	// Curve is the smoothed training loss at every tenth of the budget.
	Curve []contract.CurvePoint `json:"curve,omitempty"`

	Start   time.Time          `json:"start"`
	End     time.Time          `json:"end"`
	Seconds map[string]float64 `json:"seconds"` // per phase: propose, guard, commit, build, run, ...

	Diff        gitops.DiffStat `json:"diff"`
	FixAttempts int             `json:"fix_attempts"`

	// Worker is the worker that ran it (1..N) when a run has several; Job
	// the executor's id of its last training run (a Slurm job).
	Worker int    `json:"worker,omitempty"`
	Job    string `json:"job,omitempty"`

	Proposer         string `json:"proposer,omitempty"`
	PromptTokens     int    `json:"prompt_tokens,omitempty"`
	CompletionTokens int    `json:"completion_tokens,omitempty"`
	ToolCalls        int    `json:"tool_calls,omitempty"`
	// Prices are the LLM's prices the run was given (run --price-in and
	// --price-out), so that its reports price its tokens as it did.
	Prices cost.Prices `json:"prices,omitzero"`

	// Logs and Transcripts are relative to the run folder, one per attempt.
	Logs        []string `json:"logs,omitempty"`
	Transcripts []string `json:"transcripts,omitempty"`
}

// appendRecord appends rec as one JSON line and flushes it.
func appendRecord(path string, rec Record) error {
	rec.Value, rec.Best, rec.MemoryGB = finite(rec.Value), finite(rec.Best), finite(rec.MemoryGB)
	figs := make(map[string]float64, len(rec.Figures))
	for k, v := range rec.Figures {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			figs[k] = v
		}
	}
	rec.Figures = figs
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // descriptions like "LR 0.04 -> 0.02" stay readable
	if err := enc.Encode(rec); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	// One write call: a process killed here leaves the whole line or none.
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("appending to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadRecords reads experiments.jsonl.
func ReadRecords(path string) ([]Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []Record
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// cutTornLine removes a last line without its newline: what a process killed
// in the middle of a write, or a lost power supply, can leave.
func cutTornLine(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 || b[len(b)-1] == '\n' {
		return false, err
	}
	return true, os.Truncate(path, int64(bytes.LastIndexByte(b, '\n')+1))
}

// outcome is how the record's experiment ended, as a proposer sees it.
func (rec Record) outcome() *agent.Outcome {
	o := &agent.Outcome{Description: rec.Description, Status: results.Status(rec.Status), Value: rec.Value, Crash: rec.Crash}
	if rec.Crash == "" {
		o.Figures, o.Curve = rec.Figures, rec.Curve
	}
	return o
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// record appends the row to results.tsv and the record to experiments.jsonl.
func (r *Run) record(row results.Row, rec *Record, a *attemptResult) error {
	t := time.Now()
	rec.Status, rec.Value, rec.MemoryGB, rec.Best = string(row.Status), row.Value, row.MemoryGB, r.best
	if a != nil {
		rec.Crash, rec.Reason = string(a.crash), a.reason
		if a.crash == "" {
			rec.Measurements = a.values
		}
		if a.res != nil {
			rec.Figures, rec.Source, rec.Curve = a.res.Figures, a.res.Source, a.res.Curve
		}
	}
	if err := results.Append(r.path(ResultsFile), row); err != nil {
		return err
	}
	r.rows = append(r.rows, row)
	r.last = r.outcomeOf(rec, a)
	if row.Status == results.Keep {
		r.bestOutcome = r.last
	}
	rec.End = time.Now()
	rec.Seconds["record"] += time.Since(t).Seconds()
	if err := appendRecord(r.path(RecordsFile), *rec); err != nil {
		return err
	}
	r.learn(*rec)
	r.reporter().Done(row, r.best)
	return nil
}

func (r *Run) newRecord(n int, desc, proposer string) *Record {
	return &Record{N: n, Parent: r.kept, Description: desc, Metric: r.Config.Task.Metric.Name,
		Proposer: proposer, Start: time.Now(), Seconds: map[string]float64{}}
}

// timed runs f and adds its duration to the record's phase.
func (r *Run) timed(rec *Record, phase string, f func() error) error {
	t := time.Now()
	err := f()
	rec.Seconds[phase] += time.Since(t).Seconds()
	return err
}

// interrupted notes an experiment cut short by a stop; it has no row.
func (r *Run) interrupted(rec *Record) {
	rec.Status, rec.End = "interrupted", time.Now()
	if err := appendRecord(r.path(RecordsFile), *rec); err != nil {
		r.reporter().Logf("recording the interruption: %v", err)
	}
	r.reporter().Logf("experiment %d interrupted: rolled back to %s", rec.N, short(r.kept))
}
