package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/task"
	"autoresearch/internal/testfs"
)

// sandboxed runs the helper in mode under the sandbox (the test binary is
// the launcher too).
func sandboxed(t testing.TB, mode string, limit time.Duration) (*Result, string, string) {
	t.Helper()
	dir := t.TempDir()
	var log strings.Builder
	res, err := Run(context.Background(), Spec{
		Dir:        dir,
		Command:    []string{os.Args[0]},
		Env:        []string{"RUNNER_HELPER=" + mode},
		ResultPath: filepath.Join(dir, "result.json"),
		Output:     &log,
		HardLimit:  limit,
		Metric:     "val_bpb",
		Sandbox:    SandboxPolicy(sandbox.Auto, CPU, nil, sandbox.Limits{MemoryMB: 2048, Processes: 512, OpenFiles: 512}),
		Scratch:    filepath.Join(dir, "scratch"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, log.String(), dir
}

func TestSandboxedRunWritesItsResultThroughTheScratchFolder(t *testing.T) {
	res, log, dir := sandboxed(t, "json", time.Minute)
	if res.Crash != "" || res.Source != "json" || res.Metric("val_bpb") != 0.5 {
		t.Fatalf("crash %q (%s) source %q val_bpb %v\n%s", res.Crash, res.Reason, res.Source, res.Metric("val_bpb"), log)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "result.json")); err != nil || !strings.Contains(string(b), "0.5") {
		t.Errorf("the result file was not kept where the caller asked: %v %s", err, b)
	}
}

func TestSandboxedRunIsKilledAtTheHardLimit(t *testing.T) {
	start := time.Now()
	res, log, _ := sandboxed(t, "sleep", 1500*time.Millisecond)
	if res.Crash != Timeout {
		t.Fatalf("crash %q (%s), want timeout\n%s", res.Crash, res.Reason, log)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the hang took %s to end", el)
	}
}

// A program that allocates past the memory limit dies of it; the reason
// names the limit.
func TestSandboxedRunPastTheMemoryLimit(t *testing.T) {
	res, log, _ := sandboxed(t, "oom", time.Minute)
	if res.Crash != RuntimeCrash || !strings.Contains(res.Reason, "out of memory") || !strings.Contains(res.Reason, "memory limit of 2048 MB") {
		t.Fatalf("crash %q (%s), want a runtime crash naming the limit\n%s", res.Crash, res.Reason, log)
	}
}

// BenchmarkStartup compares the time from start to the first output of a
// program that prints and exits, unconfined and sandboxed: the difference is
// the sandbox's start-up overhead per experiment.
func BenchmarkStartup(b *testing.B) {
	for _, mode := range []sandbox.Mode{sandbox.Off, sandbox.Auto} {
		b.Run(string(mode), func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				res, err := Run(context.Background(), Spec{
					Dir: dir, Command: []string{os.Args[0]}, Env: []string{"RUNNER_HELPER=nosummary"},
					Sandbox: SandboxPolicy(mode, CPU, nil, sandbox.Limits{MemoryMB: 2048}),
					Scratch: filepath.Join(dir, "scratch"),
				})
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("%v exit %d: %s", err, res.ExitCode, res.Tail)
				}
				b.ReportMetric(float64(res.FirstOutput.Microseconds())/1000, "ms-to-first-output")
			}
		})
	}
}

// Without a SysProcAttr, Confine gives a complete command line, as a job
// script runs it: the launcher makes the namespaces itself.
func TestConfineForAJobScript(t *testing.T) {
	dir := t.TempDir()
	s := Spec{Dir: dir, Command: []string{os.Args[0]}, Env: []string{"RUNNER_HELPER=json"},
		ResultPath: filepath.Join(dir, "result.json"), Scratch: filepath.Join(dir, "scratch"),
		Sandbox: SandboxPolicy(sandbox.Auto, CPU, nil, sandbox.Limits{MemoryMB: 2048})}
	c, err := Confine(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Cleanup()
	if len(c.Argv) < 3 || c.Argv[1] != sandbox.Subcommand || c.Argv[2] == "-inner" || c.Argv[len(c.Argv)-1] != os.Args[0] {
		t.Fatalf("line %q", c.Argv)
	}
	if c.ResultPath != filepath.Join(dir, "scratch", "result.json") {
		t.Errorf("result path %s, want it in the scratch folder", c.ResultPath)
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Dir, cmd.Env = dir, RunEnv(append(c.Env, harness.EnvResult+"="+c.ResultPath)...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "val_bpb:") {
		t.Fatalf("%v\n%s", err, out)
	}
	if b, err := os.ReadFile(c.ResultPath); err != nil || !strings.Contains(string(b), "0.5") {
		t.Errorf("no result in the scratch folder: %v %s", err, b)
	}
}

// A task's device decides what its sandbox opens: a cuda task (the GPT on a
// GPU, or a task file with device = "cuda") reads the toolkit and the
// driver's files; a cpu task does not.
func TestTaskPolicyFollowsTheTasksDevice(t *testing.T) {
	t.Setenv("CUDA_HOME", testfs.Toolkit(t, t.TempDir(), true))
	tk := task.Task{Device: task.Device{Name: task.CUDA}, Readable: []string{"/data"}, Limits: sandbox.Limits{MemoryMB: 512}}
	p := TaskPolicy(sandbox.Auto, &tk)
	if !slices.Contains(p.Read, "/data") || !slices.Contains(p.Read, CUDAHome()) || !slices.Contains(p.Read, "/proc/driver/nvidia") || p.Limits.MemoryMB != 512 {
		t.Errorf("a cuda task's policy: %+v", p)
	}
	tk.Device.Name = task.CPU
	if p := TaskPolicy(sandbox.Auto, &tk); slices.Contains(p.Read, CUDAHome()) || slices.Contains(p.Read, "/proc/driver/nvidia") {
		t.Errorf("a cpu task's policy opens the GPU: %+v", p)
	}
}
