package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"autoresearch/internal/runs"
)

// Workers is what the workers of a run with several did and are doing:
// counts from experiments.jsonl (each record names its worker) and the
// experiments in flight from inflight.json.
type Workers struct {
	Counts   map[int]*WorkerCount
	InFlight []Flight
	Queued   int // changes waiting to be re-applied on the current best
}

// WorkerCount is one worker's finished experiments.
type WorkerCount struct {
	Experiments, Keeps, Discards, Crashes int
}

// Flight is an experiment in flight, as inflight.json lists it.
type Flight struct {
	Worker      int       `json:"worker"`
	Phase       string    `json:"phase"`
	Description string    `json:"description"`
	Job         string    `json:"job"`
	Start       time.Time `json:"start"`
}

// ReadWorkers reads the workers of the run whose results file is
// resultsPath. It returns nil and no error for a run without workers.
func ReadWorkers(resultsPath string) (*Workers, error) {
	dir := filepath.Dir(resultsPath)
	w := &Workers{Counts: map[int]*WorkerCount{}}
	err := eachRecord(filepath.Join(dir, runs.ExperimentsFile), func(line []byte) {
		var rec struct {
			Worker int    `json:"worker"`
			Status string `json:"status"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Worker == 0 {
			return
		}
		c := w.Counts[rec.Worker]
		if c == nil {
			c = &WorkerCount{}
			w.Counts[rec.Worker] = c
		}
		switch rec.Status {
		case "keep":
			c.Keeps++
		case "discard":
			c.Discards++
		case "crash":
			c.Crashes++
		default:
			return // abandoned, interrupted: no experiment
		}
		c.Experiments++
	})
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, runs.FlightsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		var fl struct {
			Flights []Flight          `json:"flights"`
			Queue   []json.RawMessage `json:"queue"`
		}
		if err := json.Unmarshal(b, &fl); err == nil {
			w.InFlight, w.Queued = fl.Flights, len(fl.Queue)
		}
	}
	if len(w.Counts) == 0 && len(w.InFlight) == 0 {
		return nil, nil
	}
	return w, nil
}

// Lines says it, one line per worker, e.g. "worker 2: 7 experiments (2
// kept, 4 discarded, 1 crashed); now training "DEPTH 8 -> 9" (job 4411),
// 3m05s". now is the time the durations are measured to.
func (w *Workers) Lines(now time.Time) []string {
	ids := map[int]bool{}
	for id := range w.Counts {
		ids[id] = true
	}
	doing := map[int]Flight{}
	for _, f := range w.InFlight {
		ids[f.Worker] = true
		doing[f.Worker] = f
	}
	var sorted []int
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Ints(sorted)
	var lines []string
	for _, id := range sorted {
		s := fmt.Sprintf("worker %d: ", id)
		if c := w.Counts[id]; c != nil {
			s += fmt.Sprintf("%s (%d kept, %d discarded, %d crashed)", plural(c.Experiments, "experiment"), c.Keeps, c.Discards, c.Crashes)
		} else {
			s += "no experiment yet"
		}
		if f, ok := doing[id]; ok {
			var what []string
			if f.Phase != "" {
				what = append(what, f.Phase)
			}
			if f.Description != "" {
				what = append(what, fmt.Sprintf("%q", f.Description))
			}
			if f.Job != "" {
				what = append(what, "(job "+f.Job+")")
			}
			s += "; now " + strings.Join(what, " ")
			if !f.Start.IsZero() {
				s += ", for " + duration(now.Sub(f.Start))
			}
		}
		lines = append(lines, s)
	}
	if w.Queued > 0 {
		lines = append(lines, fmt.Sprintf("%s waiting to be re-applied on the current best", plural(w.Queued, "change")))
	}
	return lines
}
