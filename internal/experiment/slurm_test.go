//go:build slurm

// Experiments as real Slurm jobs: `make test-slurm` starts a one-node
// cluster (scripts/slurm-local.sh) and points SLURM_CONF at it.

package experiment

import (
	"context"
	"os"
	"testing"
	"time"

	"autoresearch/internal/runner"
)

func slurmRun(t *testing.T, tag string) *Run {
	t.Helper()
	cfg := toyConfig(newUserRepo(t), tag)
	cfg.Executor = runner.SlurmExecutor
	cfg.Task.HardLimitSeconds = 60 // a job's start takes seconds on a small cluster
	r, err := Setup(cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	r.Executor = &runner.Slurm{Poll: 200 * time.Millisecond}
	return r
}

// Two workers, every training run a Slurm job: the records name the jobs
// and time their queueing and collection.
func TestSlurmWorkersRunJobs(t *testing.T) {
	r := slurmRun(t, "sl")
	defer r.Close()
	p := &turns{list: []turn{
		{desc: "VALUE 1.0 -> 0.9", edit: set(t, "VALUE", "0.9")},
		{desc: "VALUE 1.0 -> 1.1", edit: set(t, "VALUE", "1.1")},
	}}
	stop, err := r.Loop(context.Background(), Options{Proposer: p, Workers: 2})
	if err != nil || stop != StopExhausted {
		t.Fatalf("loop ended with %q, %v", stop, err)
	}
	recs, err := ReadRecords(r.path(RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]bool{}
	for _, rec := range recs {
		if rec.Job == "" || jobs[rec.Job] {
			t.Errorf("experiment %d (%s) has job %q; want a job of its own", rec.N, rec.Status, rec.Job)
		}
		jobs[rec.Job] = true
		t.Logf("experiment %d, job %s: %s %.2f; queued %.2fs, ran %.2fs, collected %.2fs after the program's end, recorded %.2fs after",
			rec.N, rec.Job, rec.Status, rec.Value, rec.Seconds["queue"], rec.Seconds["run"], rec.Seconds["collect"], rec.Seconds["decide"]+rec.Seconds["record"])
	}
	if rows := r.Rows(); len(rows) != 3 || rows[0].Status != "keep" {
		t.Fatalf("rows %v, want the baseline and two experiments", rows)
	}
}

// A process that dies while its job runs (SIGKILL, a lost login node)
// leaves inflight.json naming the job. The next run follows that job to its
// end instead of training the change again.
func TestSlurmResumeFollowsRunningJob(t *testing.T) {
	r := slurmRun(t, "slr")
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	// An executor that, when its process "dies", walks away from the job.
	r.Executor = abandoning{&runner.Slurm{Poll: 200 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	p := &turns{list: []turn{{desc: "VALUE 1.0 -> 0.8, slowly", edit: set(t, "VALUE", "0.8", "SLEEP", "4.0")}}}
	var flights []byte
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if fl, err := ReadInFlight(r.Dir); err == nil && len(fl.Flights) == 1 && fl.Flights[0].Job != "" {
				flights, _ = os.ReadFile(r.path(FlightsFile))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if _, err := r.Loop(ctx, Options{Proposer: p, Workers: 1}); err == nil {
		t.Fatal("the loop went on after its process died")
	}
	if flights == nil {
		t.Fatal("no job was submitted")
	}
	// What the dead process left on disk.
	if err := os.WriteFile(r.path(FlightsFile), flights, 0o644); err != nil {
		t.Fatal(err)
	}
	fl, _ := ReadInFlight(r.Dir)
	job := fl.Flights[0].Job
	dir := r.Dir
	r.Close()

	r2, err := Open(dir, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.Executor = &runner.Slurm{Poll: 200 * time.Millisecond}
	if _, err := r2.Loop(context.Background(), Options{Proposer: &turns{}, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	rows := r2.Rows()
	if len(rows) != 2 || rows[1].Status != "keep" || rows[1].Value != 0.8 {
		t.Fatalf("rows %v, want the followed job's 0.8 kept", rows)
	}
	recs, _ := ReadRecords(r2.path(RecordsFile))
	last := recs[len(recs)-1]
	if last.Job != job {
		t.Errorf("the experiment was recorded from job %s, want the job that was running, %s", last.Job, job)
	}
}

// abandoning leaves its job running when ctx ends, as a killed process
// would, instead of cancelling it.
type abandoning struct{ *runner.Slurm }

func (a abandoning) Run(ctx context.Context, s runner.Spec) (*runner.Result, error) {
	done := make(chan struct{})
	go func() {
		a.Slurm.Run(context.Background(), s)
		close(done)
	}()
	select {
	case <-done:
		return nil, context.Canceled
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
