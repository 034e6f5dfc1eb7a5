package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/contract"
)

// The test binary doubles as the training program: with RUNNER_HELPER set it
// behaves as the mode says instead of running the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("RUNNER_HELPER"); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

var helperSummary = harness.Summary{ValBPB: 1.234567, TrainingSeconds: 0.2, TotalSeconds: 0.3,
	PeakVRAMMB: 0, MFUPercent: 1.5, TotalTokensM: 0.1, NumSteps: 3, NumParamsM: 0.5, Depth: 2, PeakRSSMB: 812.5}

func helper(mode string) int {
	for i := 1; i <= 3; i++ {
		fmt.Printf("\rstep %05d (%.1f%%) | loss: 5.0 | remaining: 1s    ", i, float64(i)*100/3)
	}
	fmt.Println()
	switch mode {
	case "ok":
		helperSummary.Print(os.Stdout)
	case "json":
		// The JSON file wins over the printed block.
		helperSummary.Print(os.Stdout)
		s := helperSummary
		s.ValBPB = 0.5
		if err := s.Report(discard{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "fail":
		fmt.Println("FAIL")
		return 1
	case "failwhy":
		contract.Fail(os.Stdout, "the loss is NaN at step 12")
		return 1
	case "panic":
		fmt.Fprintln(os.Stderr, "some context")
		panic("index out of range [3] with length 3")
	case "nosummary":
		fmt.Println("training done")
	case "nan":
		fmt.Print("---\nval_bpb:          NaN\ntraining_seconds: 0.1\n")
	case "exit3":
		helperSummary.Print(os.Stdout)
		return 3
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println("ENV", kv)
		}
		helperSummary.Print(os.Stdout)
	case "task":
		// A task's program: its own lines, the metric printed twice (the
		// last counts), a FAIL line that is no NaN here, no summary block.
		fmt.Println("FAIL")
		fmt.Println("sharpe: 0.25")
		fmt.Println("peak_mb: 300")
		fmt.Println("  sharpe: 9 (indented: no match for ^sharpe)")
		fmt.Println("sharpe: -1.5e-1")
	case "tasknomatch":
		fmt.Println("Sharpe ratio 0.3")
	case "tasknotanumber":
		fmt.Println("sharpe: .")
	case "sleep":
		time.Sleep(time.Hour)
	case "oom":
		b := make([]byte, 4<<30)
		for i := range b {
			b[i] = 1
		}
		fmt.Println(len(b))
	case "stuck":
		// A step that never ends, after a progress line: the budget's
		// watchdog ends the program.
		b := harness.NewBudget(0.1, harness.DeviceCUDA, nil, 1000)
		b.StartStep()
		b.EndStep(5)
		fmt.Print("\rstep 00000 (0.0%) | loss: 5.000000    ")
		b.StartStep()
		time.Sleep(time.Minute)
	case "budget", "slow":
		// The harness's budget clock, as a training program uses it:
		// steps of 2 ms of compute in a 0.1 s budget, or of 60 ms.
		step := 2 * time.Millisecond
		if mode == "slow" {
			step = 60 * time.Millisecond
		}
		b := harness.NewBudget(0.1, harness.DeviceCUDA, nil, 1000)
		for !b.Done() {
			b.StartStep()
			for start := time.Now(); time.Since(start) < step; {
			}
			if _, err := b.EndStep(5); err != nil {
				fmt.Fprintln(os.Stderr, "error:", err) // on the progress line, as gpt/train.go's check prints it
				return 1
			}
			fmt.Printf("\rstep 00000 (%.1f%%) | loss: 5.000000    ", 100*b.Progress())
		}
		s := helperSummary
		s.TokensPerSec, s.Curve = b.TokensPerSec(), b.Curve()
		if err := s.Report(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "hang":
		child := exec.Command("sleep", "1000")
		child.Start()
		fmt.Println("child", child.Process.Pid)
		time.Sleep(time.Hour)
	}
	return 0
}

// discard discards what Report prints (the block was printed already).
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func run(t *testing.T, mode string, limit time.Duration, extraEnv ...string) (*Result, string, []float64) {
	t.Helper()
	dir := t.TempDir()
	var log bytes.Buffer
	var mu sync.Mutex
	var prog []float64
	res, err := Run(context.Background(), Spec{
		Dir:        dir,
		Command:    []string{os.Args[0]},
		Env:        append([]string{"RUNNER_HELPER=" + mode}, extraEnv...),
		ResultPath: filepath.Join(dir, "result.json"),
		Output:     &log,
		HardLimit:  limit,
		Progress:   func(f float64) { mu.Lock(); prog = append(prog, f); mu.Unlock() },
		Metric:     "val_bpb",
		// The GPT's lines, as its task names them.
		ProgressPattern: regexp.MustCompile(contract.ProgressPattern),
		FailLine:        contract.FailLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, log.String(), prog
}

func TestRunReadsTheSummaryBlockAndProgress(t *testing.T) {
	res, log, prog := run(t, "ok", time.Minute)
	if res.Crash != "" {
		t.Fatalf("crash %s: %s\n%s", res.Crash, res.Reason, log)
	}
	if res.Source != "log" || res.Metric("val_bpb") != 1.234567 || res.Figures["num_steps"] != 3 ||
		res.Figures["peak_rss_mb"] != 812.5 || res.Figures["mfu_percent"] != 1.5 {
		t.Errorf("figures %v from %s", res.Figures, res.Source)
	}
	want := []float64{1.0 / 3, 2.0 / 3, 1}
	if len(prog) != 3 {
		t.Fatalf("progress %v, want %v", prog, want)
	}
	for i := range want {
		if math.Abs(prog[i]-want[i]) > 1e-3 {
			t.Errorf("progress %v, want %v", prog, want)
		}
	}
	if !strings.Contains(log, "val_bpb:          1.234567") {
		t.Errorf("log lacks the summary:\n%s", log)
	}
	if !strings.Contains(res.Tail, "step 00003 (100.0%)") || strings.Contains(res.Tail, "step 00001") {
		t.Errorf("tail should show the last progress line only, as a terminal does:\n%s", res.Tail)
	}
}

func TestRunPrefersTheResultJSON(t *testing.T) {
	res, _, _ := run(t, "json", time.Minute)
	if res.Crash != "" || res.Source != "json" || res.Metric("val_bpb") != 0.5 {
		t.Errorf("crash %q source %q val_bpb %v", res.Crash, res.Source, res.Metric("val_bpb"))
	}
}

func TestRunCrashKinds(t *testing.T) {
	cases := []struct {
		mode   string
		reason string
	}{
		{"fail", "FAIL"},
		{"failwhy", "FAIL: the loss is NaN at step 12"},
		{"panic", "panic: index out of range"},
		{"nosummary", "no summary"},
		{"nan", "val_bpb is NaN"},
		{"exit3", "exit status 3"},
	}
	for _, c := range cases {
		res, log, _ := run(t, c.mode, time.Minute)
		if res.Crash != RuntimeCrash || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%s: crash %q reason %q, want runtime %q\n%s", c.mode, res.Crash, res.Reason, c.reason, log)
		}
	}
	res, _, _ := run(t, "panic", time.Minute)
	if !strings.Contains(res.Tail, "some context") || !strings.Contains(res.Tail, "goroutine") {
		t.Errorf("panic tail lacks the trace:\n%s", res.Tail)
	}
}

func runTask(t *testing.T, mode string) (*Result, string) {
	t.Helper()
	var log bytes.Buffer
	res, err := Run(context.Background(), Spec{
		Dir:       t.TempDir(),
		Command:   []string{os.Args[0]},
		Env:       []string{"RUNNER_HELPER=" + mode},
		Output:    &log,
		HardLimit: time.Minute,
		Metric:    "sharpe",
		Patterns: map[string]*regexp.Regexp{
			"sharpe":    regexp.MustCompile(`^sharpe:\s*([-+0-9.eE]+)`),
			"memory_mb": regexp.MustCompile(`^peak_mb:\s*([0-9.]+)`),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, log.String()
}

func TestRunReadsATaskMetricByItsPattern(t *testing.T) {
	res, log := runTask(t, "task")
	if res.Crash != "" {
		t.Fatalf("crash %s: %s\n%s", res.Crash, res.Reason, log)
	}
	if res.Metric("sharpe") != -0.15 || res.Figures["memory_mb"] != 300 || res.Source != "log" {
		t.Errorf("figures %v from %q, want sharpe -0.15 (the last match) and memory_mb 300", res.Figures, res.Source)
	}
}

func TestRunWithoutAMatchIsACrashSayingSo(t *testing.T) {
	res, log := runTask(t, "tasknomatch")
	if res.Crash != RuntimeCrash || !strings.Contains(res.Reason, "no line of the log matches the sharpe pattern ^sharpe:") {
		t.Errorf("crash %q reason %q\n%s", res.Crash, res.Reason, log)
	}
	res, log = runTask(t, "tasknotanumber")
	if res.Crash != RuntimeCrash || !strings.Contains(res.Reason, `is ".", not a number`) {
		t.Errorf("crash %q reason %q\n%s", res.Crash, res.Reason, log)
	}
}

func TestRunReadsTheBudgetsPhasesCurveAndReasons(t *testing.T) {
	var phases []string
	var mu sync.Mutex
	dir := t.TempDir()
	res, err := Run(context.Background(), Spec{
		Dir: dir, Command: []string{os.Args[0]}, Env: []string{"RUNNER_HELPER=budget"},
		ResultPath: filepath.Join(dir, "result.json"), Output: &bytes.Buffer{}, HardLimit: time.Minute,
		Phase:       func(p string) { mu.Lock(); phases = append(phases, p); mu.Unlock() },
		WarmupStart: contract.WarmupLine, WarmupDone: contract.WarmupDoneLine,
		Metric: "val_bpb",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != "" {
		t.Fatalf("crash %s: %s\n%s", res.Crash, res.Reason, res.Tail)
	}
	if strings.Join(phases, ",") != PhaseWarmup+","+PhaseTraining {
		t.Errorf("phases %v, want warm-up then training", phases)
	}
	if len(res.Curve) != harness.CurvePoints || res.Curve[harness.CurvePoints-1].Progress != 1 || res.Figures["tokens_per_sec"] <= 0 {
		t.Errorf("curve %v, tokens/s %v", res.Curve, res.Figures["tokens_per_sec"])
	}

	// A program whose steps cannot fit its budget says so, and the crash
	// reason carries what it said.
	for _, mode := range []string{"slow", "stuck"} {
		res, log, _ := run(t, mode, time.Minute)
		if res.Crash != RuntimeCrash || !strings.HasPrefix(res.Reason, "exit status 1: steps cannot fit the budget: ") {
			t.Errorf("%s: crash %q reason %q\n%s", mode, res.Crash, res.Reason, log)
		}
	}
}

func TestRunKillsTheWholeGroupAtTheHardLimit(t *testing.T) {
	start := time.Now()
	res, log, _ := run(t, "hang", 1500*time.Millisecond)
	if res.Crash != Timeout {
		t.Fatalf("crash %q (%s), want timeout", res.Crash, res.Reason)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the hang took %s to end", el)
	}
	var pid int
	for _, line := range strings.Split(log, "\n") {
		if s, ok := strings.CutPrefix(line, "child "); ok {
			pid, _ = strconv.Atoi(s)
		}
	}
	if pid == 0 {
		t.Fatalf("no child pid in the log:\n%s", log)
	}
	if alive(pid) {
		t.Errorf("the program's child %d survived the kill", pid)
	}
}

// alive reports whether pid runs (a zombie waiting for its reaper does not).
func alive(pid int) bool {
	for i := 0; i < 50; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		f := strings.Fields(string(b))
		if len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	start := time.Now()
	_, err := Run(ctx, Spec{Command: []string{os.Args[0]}, Env: []string{"RUNNER_HELPER=hang"}, Metric: "val_bpb"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %s", el)
	}
}

func TestRunEnvironmentIsClean(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-secret")
	t.Setenv("GITHUB_TOKEN", "ghp-secret")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
	t.Setenv("SOME_RANDOM_VAR", "x")
	res, log, _ := run(t, "env", time.Minute, harness.EnvProfile+"=smoke", harness.EnvDevice+"=cpu")
	if res.Crash != "" {
		t.Fatal(res.Reason)
	}
	for _, bad := range []string{"secret", "SOME_RANDOM_VAR"} {
		if strings.Contains(log, bad) {
			t.Errorf("the program saw %s:\n%s", bad, log)
		}
	}
	for _, want := range []string{"ENV PATH=", "ENV AUTORESEARCH_PROFILE=smoke", "ENV AUTORESEARCH_DEVICE=cpu", "ENV AUTORESEARCH_RESULT="} {
		if !strings.Contains(log, want) {
			t.Errorf("the program did not see %s", want)
		}
	}
}

func TestParseSummaryReadsHarnessPrint(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("---\nval_bpb: 9.0\n(an earlier block is superseded)\n")
	b.WriteString("\rstep 00001 (50.0%) | loss: 1.0\rstep 00002 (100.0%) | loss: 0.9\n")
	s := harness.Summary{ValBPB: 0.9979, TrainingSeconds: 300.1, TotalSeconds: 325.9, PeakVRAMMB: 45060.2,
		MFUPercent: 39.8, TotalTokensM: 499.6, NumSteps: 953, NumParamsM: 50.3, Depth: 8}
	s.Print(&b)
	got := ParseSummary(b.String())
	want := map[string]float64{"val_bpb": 0.9979, "training_seconds": 300.1, "total_seconds": 325.9,
		"peak_vram_mb": 45060.2, "mfu_percent": 39.8, "total_tokens_M": 499.6, "num_steps": 953,
		"num_params_M": 50.3, "depth": 8}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsed %v\nwant   %v", got, want)
	}
	if ParseSummary("no block here\n") != nil {
		t.Error("figures from output without a --- line")
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module m\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	argv := []string{"go", "build", "-buildvcs=false", "-o", BinVar, "."}
	argv = Expand(argv, map[string]string{BinVar: bin, WorktreeVar: dir})
	out, err := Build(context.Background(), dir, argv, nil)
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Output, "undefined: undefinedThing") || out != be.Output {
		t.Fatalf("build error %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), dir, argv, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Errorf("no binary: %v", err)
	}
	_, err = Build(context.Background(), dir, []string{"no-such-go-toolchain", "build"}, nil)
	if !errors.Is(err, ErrNoToolchain) || !strings.Contains(err.Error(), "install Go") {
		t.Errorf("missing toolchain: %v", err)
	}
}

func TestResolveDevice(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if d, _, err := ResolveDevice(context.Background(), "auto"); err != nil || d != CPU {
		t.Errorf("auto without nvidia-smi: %s, %v", d, err)
	}
	if _, _, err := ResolveDevice(context.Background(), "cuda"); err == nil || !strings.Contains(err.Error(), "--device cpu") {
		t.Errorf("cuda without a GPU: %v", err)
	}
	script := "#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if d, detail, err := ResolveDevice(context.Background(), "auto"); err != nil || d != CUDA || !strings.Contains(detail, "H100") {
		t.Errorf("auto with a GPU: %s %q %v", d, detail, err)
	}
	if _, _, err := ResolveDevice(context.Background(), "tpu"); err == nil || !strings.Contains(err.Error(), "auto, cpu or cuda") {
		t.Errorf("bad device: %v", err)
	}
}

func TestWorkerEnv(t *testing.T) {
	env, err := WorkerEnv(CPU, 2, nil, 8)
	if err != nil || len(env) != 2 || env[0][0] != "GOMAXPROCS=4" || env[1][0] != "GOMAXPROCS=4" {
		t.Errorf("cpu, 2 workers on 8 cores: %v, %v; want GOMAXPROCS=4 each", env, err)
	}
	if env, _ := WorkerEnv(CPU, 3, nil, 2); env[2][0] != "GOMAXPROCS=1" {
		t.Errorf("3 workers on 2 cores: %v, want at least one core each", env)
	}
	if env, _ := WorkerEnv(CPU, 1, nil, 8); env != nil {
		t.Errorf("one worker: %v, want the whole machine (no setting)", env)
	}
	env, err = WorkerEnv(CUDA, 2, []string{"1", "3"}, 16)
	if err != nil || env[0][0] != "CUDA_VISIBLE_DEVICES=1" || env[1][0] != "CUDA_VISIBLE_DEVICES=3" {
		t.Errorf("cuda on GPUs 1,3: %v, %v", env, err)
	}
	if _, err := WorkerEnv(CUDA, 3, []string{"0", "1"}, 16); err == nil || !strings.Contains(err.Error(), "3 workers need 3 GPUs") {
		t.Errorf("3 workers on 2 GPUs: %v, want an error saying so", err)
	}
	if _, err := ParseGPUs("0,x"); err == nil {
		t.Error("--gpus 0,x accepted")
	}
	if ids, err := ParseGPUs("0, 2"); err != nil || strings.Join(ids, ",") != "0,2" {
		t.Errorf("--gpus \"0, 2\": %v, %v", ids, err)
	}
}
