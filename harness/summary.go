package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/contract"
)

// Summary holds the figures of one training run. Print writes them as the
// block the original autoresearch prints (a machine reads it: keep the keys and
// formats); WriteJSON writes the same figures under the same keys.
type Summary struct {
	ValBPB          float64 `json:"val_bpb"`
	TrainingSeconds float64 `json:"training_seconds"`
	TotalSeconds    float64 `json:"total_seconds"`
	PeakVRAMMB      float64 `json:"peak_vram_mb"`
	MFUPercent      float64 `json:"mfu_percent"`
	TotalTokensM    float64 `json:"total_tokens_M"`
	NumSteps        int     `json:"num_steps"`
	NumParamsM      float64 `json:"num_params_M"`
	Depth           int     `json:"depth"`
	PeakRSSMB       float64 `json:"peak_rss_mb,omitempty"` // CPU runs only
	// How training went, after the original's keys: the training throughput
	// on the budget clock and the smoothed loss at every tenth of the budget
	// (Budget.TokensPerSec and Budget.Curve).
	TokensPerSec float64      `json:"tokens_per_sec"`
	Curve        []CurvePoint `json:"curve,omitempty"`
}

// Print writes the summary block, key for key as the original.
func (s Summary) Print(w io.Writer) error {
	_, err := fmt.Fprintf(w, contract.SummaryStart+"\n"+
		"val_bpb:          %.6f\n"+
		"training_seconds: %.1f\n"+
		"total_seconds:    %.1f\n"+
		"peak_vram_mb:     %.1f\n"+
		"mfu_percent:      %.2f\n"+
		"total_tokens_M:   %.1f\n"+
		"num_steps:        %d\n"+
		"num_params_M:     %.1f\n"+
		"depth:            %d\n",
		s.ValBPB, s.TrainingSeconds, s.TotalSeconds, s.PeakVRAMMB, s.MFUPercent,
		s.TotalTokensM, s.NumSteps, s.NumParamsM, s.Depth)
	if err == nil && s.PeakRSSMB > 0 {
		_, err = fmt.Fprintf(w, "peak_rss_mb:      %.1f\n", s.PeakRSSMB)
	}
	if err == nil && s.TokensPerSec > 0 {
		_, err = fmt.Fprintf(w, "tokens_per_sec:   %.0f\n", s.TokensPerSec)
	}
	if err == nil && len(s.Curve) > 0 {
		_, err = fmt.Fprintf(w, "curve:            %s\n", FormatCurve(s.Curve))
	}
	return err
}

// FormatCurve writes a training curve on one line, each point as the share of
// the budget, the smoothed loss and the step: "10% 3.912 @7, 20% 3.204 @13, ...".
func FormatCurve(c []CurvePoint) string { return contract.FormatCurve(c) }

// PeakRSSMB is the process's peak resident memory in MiB (0 where unknown):
// the peak memory of a CPU run.
func PeakRSSMB() float64 { return peakRSSMB() }

// WriteJSON writes the summary as a JSON object to path, atomically.
func (s Summary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644)
}

// Report prints the summary to w and, when AUTORESEARCH_RESULT is set, writes
// it there as JSON too. Training programs call it once, at the end.
func (s Summary) Report(w io.Writer) error {
	if err := s.Print(w); err != nil {
		return err
	}
	if path := os.Getenv(EnvResult); path != "" {
		if err := s.WriteJSON(path); err != nil {
			return fmt.Errorf("writing the result file %s: %w", path, err)
		}
	}
	return nil
}
