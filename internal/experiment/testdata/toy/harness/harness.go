// Package harness is the toy task's locked part: the guard must keep it as it is.
package harness

import (
	"fmt"
	"os"
)

// Report prints the summary block and writes the figures as JSON where
// AUTORESEARCH_RESULT says.
func Report(valBPB, seconds float64) {
	fmt.Printf("---\nval_bpb:          %.6f\ntraining_seconds: %.1f\npeak_vram_mb:     0.0\npeak_rss_mb:      512.0\n", valBPB, seconds)
	if p := os.Getenv("AUTORESEARCH_RESULT"); p != "" {
		os.WriteFile(p, []byte(fmt.Sprintf(`{"val_bpb": %v, "training_seconds": %v, "peak_vram_mb": 0, "peak_rss_mb": 512, "tokens_per_sec": 1000, "curve": [{"progress": 1, "step": 4, "loss": %v}]}`, valBPB, seconds, valBPB)), 0o644)
	}
}
