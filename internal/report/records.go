package report

import (
	"time"

	"autoresearch/harness"
	"autoresearch/internal/cost"
	"autoresearch/internal/gitops"
	"autoresearch/internal/results"
)

// Record is what the page shows of an experiment's line of
// experiments.jsonl (the fields the run writes; see package experiment).
type Record struct {
	N            int                  `json:"n"`
	Status       string               `json:"status"`
	Crash        string               `json:"crash"`
	Reason       string               `json:"reason"`
	Commit       string               `json:"commit"`
	Parent       string               `json:"parent"`
	Description  string               `json:"description"`
	Value        float64              `json:"value"`
	Best         float64              `json:"best"`
	Threshold    float64              `json:"threshold"`
	Sigma        float64              `json:"sigma"`
	Measurements []float64            `json:"measurements"`
	MemoryGB     float64              `json:"memory_gb"`
	Figures      map[string]float64   `json:"figures"`
	Curve        []harness.CurvePoint `json:"curve"`
	Start        time.Time            `json:"start"`
	End          time.Time            `json:"end"`
	Seconds      map[string]float64   `json:"seconds"`
	Diff         gitops.DiffStat      `json:"diff"`
	FixAttempts  int                  `json:"fix_attempts"`
	Worker       int                  `json:"worker"`
	Job          string               `json:"job"`
	Proposer     string               `json:"proposer"`
	PromptTokens int                  `json:"prompt_tokens"`
	Completion   int                  `json:"completion_tokens"`
	ToolCalls    int                  `json:"tool_calls"`
	Prices       cost.Prices          `json:"prices"`
	Logs         []string             `json:"logs"`
	Transcripts  []string             `json:"transcripts"`
}

// Duration is how long the experiment took: from its start to its end, else
// the sum of its phases.
func (r *Record) Duration() time.Duration {
	if !r.Start.IsZero() && r.End.After(r.Start) {
		return r.End.Sub(r.Start)
	}
	var s float64
	for _, v := range r.Seconds {
		s += v
	}
	return time.Duration(s * float64(time.Second))
}

// valid reports whether the record is an experiment's, with a results.tsv
// row: kept, discarded or crashed, not abandoned or interrupted.
func (r *Record) valid() bool { return results.Status(r.Status).Valid() }
