//go:build slurm

// These tests run real jobs on a real Slurm cluster: `make test-slurm` starts
// a one-node one (scripts/slurm-local.sh) and points SLURM_CONF at it.

package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"autoresearch/internal/contract"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/testfs"
)

func slurmSpec(t *testing.T, script string) (Spec, *bytes.Buffer) {
	t.Helper()
	if _, err := exec.LookPath("sbatch"); err != nil {
		t.Fatalf("no sbatch: run these tests with make test-slurm")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	return Spec{
		Dir:        dir,
		Command:    []string{"/bin/sh", "-c", script},
		Env:        []string{"AUTORESEARCH_TEST=yes"},
		ResultPath: filepath.Join(dir, "1.json"),
		Output:     &log,
		Metric:     "val_bpb",
		Name:       "autoresearch-test",
	}, &log
}

func jobState(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("scontrol", "show", "job", "-o", id).CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol: %v: %s", err, out)
	}
	return parseScontrol(string(out)).State
}

func TestSlurmJobReportsFigures(t *testing.T) {
	sp, log := slurmSpec(t, `echo "env $AUTORESEARCH_TEST $OPENAI_API_KEY in $PWD"
for i in 1 2 3 4; do echo "step 0000$i ($((i*25)).0%) | loss: 1.0"; sleep 0.3; done
printf -- '---\nval_bpb:          0.812500\npeak_vram_mb:     0.0\n'`)
	t.Setenv("OPENAI_API_KEY", "sk-secret")
	var progress []float64
	sp.Progress = func(f float64) { progress = append(progress, f) }
	sp.ProgressPattern = regexp.MustCompile(contract.ProgressPattern) // the GPT's progress line
	var submitted string
	sp.Job = func(id string) { submitted = id }
	res, err := (&Slurm{Poll: 200 * time.Millisecond}).Run(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != "" || res.Metric("val_bpb") != 0.8125 {
		t.Fatalf("crash %q (%s), val_bpb %v; log:\n%s", res.Crash, res.Reason, res.Metric("val_bpb"), log)
	}
	if res.Job == "" || res.Job != submitted {
		t.Errorf("job %q, the callback got %q", res.Job, submitted)
	}
	if !strings.Contains(log.String(), "env yes  in "+sp.Dir) {
		t.Errorf("the job's environment or folder is not the spec's (the key must not pass):\n%s", log)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 1 {
		t.Errorf("progress %v, want it to reach 1", progress)
	}
	// The result comes as the program ends; Slurm tidies up after.
	for i := 0; jobState(t, res.Job) != "COMPLETED"; i++ {
		if i == 300 {
			t.Fatalf("job state %s 30 s after the program ended, want COMPLETED", jobState(t, res.Job))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("job %s: queued %s, ran %s, noticed %s after its end", res.Job, res.Queued, res.Wall, res.Collected)
}

func TestSlurmProgramCrashIsRuntimeCrash(t *testing.T) {
	sp, _ := slurmSpec(t, `echo starting; kill -9 $$`)
	res, err := (&Slurm{Poll: 200 * time.Millisecond}).Run(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != RuntimeCrash || !strings.Contains(res.Reason, "killed") {
		t.Fatalf("crash %q %q, want a runtime crash saying it was killed", res.Crash, res.Reason)
	}
	if !strings.Contains(res.Tail, "starting") {
		t.Errorf("tail %q lacks the program's output", res.Tail)
	}
}

// A job the cluster ends mid-run (here an scancel from outside, as an
// administrator or a preemption would) is a cluster crash with Slurm's state.
func TestSlurmJobEndedByClusterIsClusterCrash(t *testing.T) {
	sp, _ := slurmSpec(t, `echo "step 00001 (10.0%)"; sleep 60`)
	sp.Progress = func(f float64) {}
	ids := make(chan string, 1)
	sp.Job = func(id string) { ids <- id }
	go func() {
		id := <-ids
		for jobState(t, id) != "RUNNING" {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		exec.Command("scancel", id).Run()
	}()
	res, err := (&Slurm{Poll: 200 * time.Millisecond}).Run(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != ClusterCrash || !strings.Contains(res.Reason, "CANCELLED") {
		t.Fatalf("crash %q %q, want a cluster crash naming CANCELLED", res.Crash, res.Reason)
	}
	if res.Wall > 30*time.Second {
		t.Errorf("wall %s: the job was not ended when cancelled", res.Wall)
	}
	t.Logf("job %s killed mid-run: %s: %s", res.Job, res.Crash, res.Reason)
}

func TestSlurmHardLimitCancelsJob(t *testing.T) {
	sp, _ := slurmSpec(t, `sleep 120`)
	sp.HardLimit = 2 * time.Second
	res, err := (&Slurm{Poll: 200 * time.Millisecond}).Run(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != Timeout {
		t.Fatalf("crash %q %q, want a timeout", res.Crash, res.Reason)
	}
	if got := jobState(t, res.Job); got != "CANCELLED" {
		t.Errorf("job state %s after the hard limit, want CANCELLED", got)
	}
}

func TestSlurmStopCancelsJob(t *testing.T) {
	sp, _ := slurmSpec(t, `sleep 120`)
	ctx, cancel := context.WithCancel(context.Background())
	var id string
	sp.Job = func(j string) {
		id = j
		go func() { time.Sleep(2 * time.Second); cancel() }()
	}
	_, err := (&Slurm{Poll: 200 * time.Millisecond}).Run(ctx, sp)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if got := jobState(t, id); got != "CANCELLED" {
		t.Errorf("job state %s after the stop, want CANCELLED", got)
	}
}

// A process that stopped while its job ran finds the job again by its id:
// Attach waits for it instead of submitting anew.
func TestSlurmAttachToRunningJob(t *testing.T) {
	sp, log := slurmSpec(t, `sleep 1; printf -- '---\nval_bpb: 0.5\n'`)
	s := &Slurm{Poll: 200 * time.Millisecond}
	base := strings.TrimSuffix(sp.ResultPath, ".json")
	if err := os.WriteFile(base+".sbatch", []byte(s.script(sp, base+".exit")), 0o755); err != nil {
		t.Fatal(err)
	}
	id, err := s.submit(context.Background(), sp, base+".sbatch", base+".out")
	if err != nil {
		t.Fatal(err)
	}
	sp.Attach = id
	sp.Job = func(string) { t.Error("an attached job was submitted again") }
	res, err := s.Run(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Job != id || res.Crash != "" || res.Metric("val_bpb") != 0.5 {
		t.Fatalf("job %s (want %s), crash %q %q, val_bpb %v; log:\n%s", res.Job, id, res.Crash, res.Reason, res.Metric("val_bpb"), log)
	}
}

func TestSlurmBadArgsSayWhat(t *testing.T) {
	sp, _ := slurmSpec(t, `true`)
	_, err := (&Slurm{Args: []string{"--partition=nosuchpartition"}}).Run(context.Background(), sp)
	if err == nil || !strings.Contains(err.Error(), "sbatch --partition=nosuchpartition") {
		t.Fatalf("err %v, want sbatch's refusal naming the arguments", err)
	}
}

// A sandboxed job runs under the launcher's full command line (the test
// binary is the launcher); its result file comes back from its scratch
// folder beside the result.
func TestSlurmSandboxedJob(t *testing.T) {
	sp, log := slurmSpec(t, "")
	sp.Command = []string{os.Args[0]}
	sp.Env = []string{"RUNNER_HELPER=json"}
	sp.Sandbox = SandboxPolicy(sandbox.Auto, CPU, nil, sandbox.Limits{MemoryMB: 2048})
	res, err := (&Slurm{Poll: 200 * time.Millisecond}).Run(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != "" || res.Source != "json" || res.Metric("val_bpb") != 0.5 {
		t.Fatalf("crash %q (%s), source %q, val_bpb %v; log:\n%s", res.Crash, res.Reason, res.Source, res.Metric("val_bpb"), log)
	}
	base := strings.TrimSuffix(sp.ResultPath, ".json")
	script := testfs.ReadFile(t, base+".sbatch")
	if !strings.Contains(string(script), sandbox.Subcommand) || !strings.Contains(string(script), base+".scratch") {
		t.Errorf("the job script does not run the launcher with the scratch folder beside the result:\n%s", script)
	}
}

// Without a configuration (no SLURM_CONF, none in /etc/slurm, which the
// one-node cluster of make test-slurm does not use), sbatch's refusal says
// what to do.
func TestSlurmWithoutConfigurationSaysWhatToDo(t *testing.T) {
	sp, _ := slurmSpec(t, `true`)
	if _, err := os.Stat("/etc/slurm/slurm.conf"); err == nil {
		t.Skip("this machine has /etc/slurm/slurm.conf")
	}
	t.Setenv("SLURM_CONF", "")
	os.Unsetenv("SLURM_CONF")
	_, err := (&Slurm{}).Run(context.Background(), sp)
	if err == nil || !strings.Contains(err.Error(), "Slurm has no configuration on this machine") || !strings.Contains(err.Error(), "scripts/slurm-local.sh start") {
		t.Fatalf("err %v, want the missing configuration explained", err)
	}
	t.Logf("sbatch without a configuration: %v", err)
}
