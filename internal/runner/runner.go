package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"autoresearch/internal/contract"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/task"
)

// Crash is the kind of a failed experiment.
type Crash string

const (
	BuildCrash   Crash = "build"   // the program did not compile
	RuntimeCrash Crash = "runtime" // it ran but yielded no usable metric
	Timeout      Crash = "timeout" // it was killed at the hard limit
	// ClusterCrash is a job the cluster ended (its time limit, a node lost, a
	// preemption, a cancellation from outside): no fault of the program.
	ClusterCrash Crash = "cluster"
)

// BuildError is a failed build; Output is what the compiler said.
type BuildError struct {
	Output string
	Err    error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("build failed (%v):\n%s", e.Err, strings.TrimRight(e.Output, "\n"))
}

func (e *BuildError) Unwrap() error { return e.Err }

// ErrNoToolchain is wrapped when the build command's program is not on PATH.
var ErrNoToolchain = errors.New("build tool not found")

// Build runs the build command argv in dir with BuildEnv(env...). A compile
// error is a *BuildError holding the compiler output; a missing toolchain
// wraps ErrNoToolchain. It returns the build's output either way.
func Build(ctx context.Context, dir string, argv, env []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("empty build command")
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return "", fmt.Errorf("%w: %s is not on PATH (install Go 1.26 or put its bin folder on PATH)", ErrNoToolchain, argv[0])
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = BuildEnv(env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), ctx.Err()
	}
	if err != nil {
		return string(out), &BuildError{Output: string(out), Err: err}
	}
	return string(out), nil
}

// Spec describes one run of a built program.
type Spec struct {
	Dir     string   // working folder (the run's worktree)
	Command []string // the program and its arguments
	// Env holds KEY=VALUE settings beyond RunEnv's basics: the
	// AUTORESEARCH_* variables. AUTORESEARCH_RESULT is set from ResultPath.
	Env        []string
	ResultPath string    // where the program may write its figures as JSON
	Output     io.Writer // receives stdout and stderr as they come (a log file)
	// HardLimit kills the process group after this long; 0 means no limit.
	HardLimit time.Duration
	// Progress receives the progress, 0 to 1, parsed from the output with
	// ProgressPattern (nil: none).
	Progress        func(float64)
	ProgressPattern *regexp.Regexp
	// Phase is told PhaseWarmup when the program's untimed warm-up steps
	// start and PhaseTraining when its budget starts counting: at lines that
	// begin with WarmupStart and WarmupDone ("" for none); nil ignores them.
	Phase                   func(string)
	WarmupStart, WarmupDone string
	// FailLine is the line by which the program says it gave up (a NaN
	// loss): a crash even when the program exits 0. "" for none.
	FailLine string
	// Metric is the figure a successful run must report, e.g. val_bpb.
	Metric string
	// Patterns name figures read from the log by regular expression: the
	// first group of the last line that matches, e.g. a task's metric. They
	// win over the summary block and the JSON file. When Metric has a
	// pattern, a log without a match is a crash that says so.
	Patterns map[string]*regexp.Regexp
	// Sandbox confines the program (see package sandbox); nil runs it
	// unconfined. Run adds Dir to what it may read and Scratch to what it
	// may write.
	Sandbox *sandbox.Policy
	// Scratch is the program's own folder: its TMPDIR, and where a
	// sandboxed program writes its result file (Run copies it to
	// ResultPath). Run empties it first; empty means a temporary folder.
	Scratch string
	// Name names the run where an executor shows it (a Slurm job's name).
	Name string
	// Job, when set, receives the id of the job an executor submitted, as
	// soon as it has one: a caller that stops can find the job again.
	Job func(id string)
	// Attach is a job submitted before (by a process that stopped) to wait
	// for instead of starting the program again; executors without jobs
	// ignore it.
	Attach string
}

// Result is how a run ended.
type Result struct {
	Figures  map[string]float64    // every figure reported; nil when none
	Source   string                // "json" or "log": where the figures came from
	Curve    []contract.CurvePoint // the training curve of the result JSON; nil when none
	ExitCode int                   // -1 when killed by a signal
	Crash    Crash                 // empty when the run reported a usable metric
	Reason   string                // for a crash: what happened, in words
	Tail     string                // the last 50 lines of output
	Started  time.Time
	// FirstOutput is the time from start to the first byte of output.
	FirstOutput time.Duration
	Wall        time.Duration
	// Job is the executor's id of the run (a Slurm job id); empty locally.
	Job string
	// Queued is the time from submission to the program's start.
	Queued time.Duration
	// Collected is the time from the program's end to the executor noticing
	// it (a polling executor's delay).
	Collected time.Duration
}

// Metric returns the run's metric (NaN when absent).
func (r *Result) Metric(name string) float64 {
	if v, ok := r.Figures[name]; ok {
		return v
	}
	return math.NaN()
}

// Run starts the program and waits for it, the hard limit, or ctx. When ctx
// ends first the process group is killed and ctx's error returned; every other
// ending, crashes included, is described by the Result.
func Run(ctx context.Context, s Spec) (*Result, error) {
	if len(s.Command) == 0 {
		return nil, errors.New("empty run command")
	}
	// The kernel sends the parent-death signal when the thread that started
	// the child exits; keep that thread for as long as the child runs.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s.ResultPath != "" {
		if err := os.Remove(s.ResultPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	attr := procAttr()
	c, err := Confine(s, attr)
	if err != nil {
		return nil, err
	}
	defer c.Cleanup()
	argv, env, resultPath := c.Argv, c.Env, c.ResultPath
	if resultPath != "" {
		env = append(env, contract.EnvResult+"="+resultPath)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = RunEnv(env...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = attr

	out := s.output()
	res := &Result{Started: time.Now()}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("starting %s: %w", s.Command[0], err)
	}
	pw.Close()
	pgid := cmd.Process.Pid
	kill := func() { syscall.Kill(-pgid, syscall.SIGKILL) }

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 32<<10)
		first := true
		for {
			n, err := pr.Read(buf)
			if n > 0 {
				if first {
					res.FirstOutput = time.Since(res.Started)
					first = false
				}
				if s.Output != nil {
					s.Output.Write(buf[:n])
				}
				out.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var limit <-chan time.Time
	if s.HardLimit > 0 {
		t := time.NewTimer(s.HardLimit)
		defer t.Stop()
		limit = t.C
	}
	var werr error
	timedOut, cancelled := false, false
	select {
	case werr = <-waited:
	case <-limit:
		timedOut = true
		kill()
		werr = <-waited
	case <-ctx.Done():
		cancelled = true
		kill()
		werr = <-waited
	}
	res.Wall = time.Since(res.Started)
	// Whatever the program left running in its group goes too, so that the
	// output pipe closes.
	kill()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
		// A process that left the group still holds the pipe.
	}
	pr.Close()
	<-copied
	out.flush()
	res.Tail = out.Tail()
	if cancelled {
		return res, ctx.Err()
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	res.Figures, res.Source = out.figures, "log"
	if resultPath != "" {
		if b, err := os.ReadFile(resultPath); err == nil {
			if figs, curve, err := parseResult(resultPath, b); err == nil {
				res.Figures, res.Source, res.Curve = figs, "json", curve
			}
			// Kept with the run's logs, as an unconfined run's is.
			keepResult(resultPath, s.ResultPath)
		}
	}
	if len(out.matched) > 0 {
		figs := map[string]float64{}
		for k, v := range res.Figures {
			figs[k] = v
		}
		for k, v := range out.matched {
			figs[k] = v
		}
		res.Figures, res.Source = figs, "log"
	}
	if len(res.Figures) == 0 {
		res.Figures, res.Source = nil, ""
	}
	res.Crash, res.Reason = classify(res, out, werr, timedOut, s)
	return res, nil
}

func classify(res *Result, out *output, werr error, timedOut bool, s Spec) (Crash, string) {
	pattern := s.Patterns[s.Metric]
	switch {
	case timedOut:
		return Timeout, fmt.Sprintf("killed at the hard limit of %s", s.HardLimit.Round(time.Second))
	case out.failed && out.errLine != "":
		return RuntimeCrash, fmt.Sprintf("the program printed %s: %s", s.FailLine, out.errLine)
	case out.failed:
		return RuntimeCrash, fmt.Sprintf("the program printed %s (it gave up: a NaN or exploding loss)", s.FailLine)
	case out.panic != "" && strings.Contains(out.panic, "out of memory") && s.Sandbox != nil && s.Sandbox.Mode != sandbox.Off && s.Sandbox.Limits.MemoryMB > 0:
		return RuntimeCrash, fmt.Sprintf("%s (past the sandbox's memory limit of %d MB)", out.panic, s.Sandbox.Limits.MemoryMB)
	case out.panic != "":
		return RuntimeCrash, out.panic
	case werr != nil && out.errLine != "":
		return RuntimeCrash, describeExit(werr) + ": " + out.errLine
	case werr != nil:
		return RuntimeCrash, describeExit(werr)
	}
	if s.Metric == "" {
		return "", ""
	}
	v, ok := res.Figures[s.Metric]
	switch {
	case pattern != nil && !ok && out.unparsed[s.Metric] != "":
		return RuntimeCrash, fmt.Sprintf("the log's last match of the %s pattern %s is %q, not a number", s.Metric, pattern, out.unparsed[s.Metric])
	case pattern != nil && !ok:
		return RuntimeCrash, fmt.Sprintf("no line of the log matches the %s pattern %s: the program must print its %s in that form", s.Metric, pattern, s.Metric)
	case !ok && res.Figures == nil:
		return RuntimeCrash, "no summary: the program exited 0 without reporting " + s.Metric
	case !ok:
		return RuntimeCrash, fmt.Sprintf("the summary lacks %s (has %s)", s.Metric, strings.Join(keys(res.Figures), ", "))
	case math.IsNaN(v) || math.IsInf(v, 0):
		return RuntimeCrash, fmt.Sprintf("%s is %v", s.Metric, v)
	}
	return "", ""
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}

// parseResult reads the result file the program wrote (contract.ParseResult).
func parseResult(path string, b []byte) (map[string]float64, []contract.CurvePoint, error) {
	r, err := contract.ParseResult(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r.Figures, r.Curve, nil
}

// output is the reader of the program's output that s asks for.
func (s Spec) output() *output {
	return &output{progress: s.ProgressPattern, onProg: s.Progress, patterns: s.Patterns, onPhase: s.Phase,
		warmup: [2]string{s.WarmupStart, s.WarmupDone}, failLine: s.FailLine}
}

func keys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TaskSpec is the Spec of one run of task t's built program: its command and
// environment with the placeholders replaced by vars, its hard limit, the
// lines its output is read for and its metric. The caller adds the rest
// (folder, log, result path, sandbox, callbacks).
func TaskSpec(t *task.Task, vars map[string]string) Spec {
	s := Spec{
		Command:     Expand(t.Run.Argv, vars),
		Env:         Expand(t.Run.Env, vars),
		HardLimit:   t.HardLimit(),
		WarmupStart: t.Warmup.Start,
		WarmupDone:  t.Warmup.Done,
		FailLine:    t.FailLine,
		Metric:      t.Metric.Name,
		Patterns:    t.Patterns(),
	}
	s.ProgressPattern, _ = task.PatternOf(t.Progress) // checked when the task was made
	return s
}

// TaskPolicy is how runs of task t are confined in mode m (SandboxPolicy of
// its device, readable paths and limits), with the paths it was allowed at
// setup (its Python installation).
func TaskPolicy(m sandbox.Mode, t *task.Task) *sandbox.Policy {
	p := SandboxPolicy(m, t.Device.Name, append(append([]string(nil), t.Readable...), t.AllowedReads()...), t.Limits)
	p.Exec = append(p.Exec, t.AllowedExecs()...)
	return p
}
