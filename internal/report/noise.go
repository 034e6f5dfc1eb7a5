package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"autoresearch/internal/runs"
)

// Noise is how noisy a run's metric is and how that shaped its decisions:
// the spread of its repeated baseline (run.json's "noise") and the
// thresholds and re-measurements of its experiments (experiments.jsonl).
type Noise struct {
	Sigma    float64 // standard deviation of the baseline's runs; 0 when measured once
	Runs     int     // the baseline's runs
	Min, Max float64 // their range
	Outliers int     // runs left out of sigma and the mean

	Threshold  float64 // what the latest experiment had to beat the best by
	Remeasured int     // experiments measured more than once (the baseline not counted)
	ExtraRuns  int     // their runs beyond the first
}

// ReadNoise reads the noise of the run whose results file is resultsPath
// from the run.json and experiments.jsonl beside it. It returns nil and no
// error when neither says anything about noise (a results file on its own,
// a run measured once with no threshold).
func ReadNoise(resultsPath string) (*Noise, error) {
	dir := filepath.Dir(resultsPath)
	n := &Noise{}
	b, err := os.ReadFile(filepath.Join(dir, runs.ConfigFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		var cfg struct {
			Noise *struct {
				Values   []float64 `json:"values"`
				Sigma    float64   `json:"sigma"`
				Outliers []float64 `json:"outliers"`
			} `json:"noise"`
		}
		if json.Unmarshal(b, &cfg) == nil && cfg.Noise != nil && len(cfg.Noise.Values) > 0 {
			n.Sigma, n.Runs = cfg.Noise.Sigma, len(cfg.Noise.Values)
			n.Min, n.Max = slices.Min(cfg.Noise.Values), slices.Max(cfg.Noise.Values)
			n.Outliers = len(cfg.Noise.Outliers)
		}
	}
	err = eachRecord(filepath.Join(dir, runs.ExperimentsFile), func(line []byte) {
		var rec struct {
			N            int       `json:"n"`
			Status       string    `json:"status"`
			Threshold    *float64  `json:"threshold"`
			Measurements []float64 `json:"measurements"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.N == 0 || (rec.Status != "keep" && rec.Status != "discard") {
			return
		}
		if rec.Threshold != nil {
			n.Threshold = *rec.Threshold
		}
		if len(rec.Measurements) > 1 {
			n.Remeasured++
			n.ExtraRuns += len(rec.Measurements) - 1
		}
	})
	if err != nil || n.Runs == 0 && n.Threshold == 0 && n.Remeasured == 0 {
		return nil, err
	}
	return n, nil
}

// eachRecord calls fn with each line of the JSON-lines file at path; a
// missing file has none.
func eachRecord(path string, fn func(line []byte)) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	return sc.Err()
}

// Line says it in one line, e.g. "noise: sigma 0.005600 over 8 baseline runs
// (0.612000 to 0.629000); a change must beat the best by 0.011200; 3
// experiments re-measured (4 extra runs)".
func (n *Noise) Line() string {
	var parts []string
	if n.Runs > 1 {
		out := ""
		if n.Outliers > 0 {
			out = fmt.Sprintf(", %s left out", plural(n.Outliers, "outlier"))
		}
		parts = append(parts, fmt.Sprintf("sigma %.6f over %d baseline runs (%.6f to %.6f%s)", n.Sigma, n.Runs, n.Min, n.Max, out))
	} else {
		parts = append(parts, "baseline measured once")
	}
	if n.Threshold > 0 {
		parts = append(parts, fmt.Sprintf("a change must beat the best by %.6f", n.Threshold))
	}
	if n.Remeasured > 0 {
		parts = append(parts, fmt.Sprintf("%s re-measured (%s)", plural(n.Remeasured, "experiment"), plural(n.ExtraRuns, "extra run")))
	}
	return "noise: " + strings.Join(parts, "; ")
}

// inSigmas is a delta in sigmas, " (1.8 sigma)", or "" without a noise.
func (n *Noise) inSigmas(delta float64) string {
	if n == nil || n.Sigma <= 0 || math.IsNaN(delta) {
		return ""
	}
	return fmt.Sprintf(" (%.1f sigma)", math.Abs(delta)/n.Sigma)
}
