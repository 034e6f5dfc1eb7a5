package experiment

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/runs"
)

// The run folder's files of the pool.
const (
	WorkersDir  = runs.WorkersDir
	FlightsFile = runs.FlightsFile
)

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

// Pending is a change waiting to be re-applied on the current best: it beat
// the best, but another change was kept while it ran.
type Pending struct {
	Description string `json:"description"`
	Parent      string `json:"parent"` // the change is Parent -> Commit
	Commit      string `json:"commit"`
	From        int    `json:"from"` // the experiment that measured it
	Times       int    `json:"times"`
}

// InFlight is inflight.json: what each worker is doing, and the changes
// waiting to be re-applied.
type InFlight struct {
	Flights []Flight  `json:"flights"`
	Queue   []Pending `json:"queue,omitempty"`
	Updated time.Time `json:"updated"`
}

// ReadInFlight reads a run's inflight.json; none is no error.
func ReadInFlight(runDir string) (InFlight, error) {
	var f InFlight
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

// write writes inflight.json into the run folder, atomically.
func (f InFlight) write(runDir string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(runDir, FlightsFile), append(b, '\n'), 0o644)
}
