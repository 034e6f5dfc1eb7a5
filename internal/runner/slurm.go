package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"autoresearch/internal/contract"
)

// Slurm runs each training program as a Slurm batch job (sbatch), then
// follows it with scontrol until it ends. The program was built on this
// host; the job runs it on a node, so its folder, the run's files and the
// prepared data must live on a filesystem the nodes share, at the same paths.
//
// The job's script, its raw output and its exit status sit beside
// Spec.ResultPath (<name>.sbatch, <name>.out, <name>.start, <name>.exit). The output is
// read while the job runs, into Spec.Output and the progress and summary
// parser, as a local run's is. The hard limit counts from the job's start,
// not its submission; at the limit, or when ctx ends, the job is cancelled
// (scancel). A job that ends in another state than COMPLETED or FAILED
// (TIMEOUT, NODE_FAIL, PREEMPTED, CANCELLED from outside, OUT_OF_MEMORY...)
// is a ClusterCrash with Slurm's state and reason. A sandboxed program runs
// under the launcher's full command line (Confine without a SysProcAttr),
// which the node runs from the same path as this host (the autoresearch
// binary must be on the shared filesystem too); its scratch folder, by
// default beside Spec.ResultPath, is on the shared filesystem as well, and
// its result file is copied from there. No accounting database is
// needed: scontrol knows a job for MinJobAge after its end, and the exit
// status file covers a job it has forgotten.
type Slurm struct {
	Args []string      // extra sbatch arguments, e.g. -p gpu --gres=gpu:1
	Poll time.Duration // how often the job's state is read; 1 s when 0
}

func (*Slurm) Name() string { return SlurmExecutor }

// job is what scontrol says about a job.
type slurmJob struct {
	State    string // RUNNING, COMPLETED, ...; "" for a job Slurm no longer knows
	Reason   string
	ExitCode int // the batch script's exit status
	Signal   int
	End      time.Time
}

// slurmFinal are the states of a job that has ended.
var slurmFinal = map[string]bool{
	"COMPLETED": true, "FAILED": true, "CANCELLED": true, "TIMEOUT": true, "NODE_FAIL": true,
	"PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true, "OUT_OF_MEMORY": true,
}

func (s *Slurm) Run(ctx context.Context, sp Spec) (*Result, error) {
	if len(sp.Command) == 0 {
		return nil, errors.New("empty run command")
	}
	if sp.ResultPath == "" {
		return nil, errors.New("the slurm executor needs a result path on the shared filesystem")
	}
	base := strings.TrimSuffix(sp.ResultPath, filepath.Ext(sp.ResultPath))
	outPath, exitPath := base+".out", base+".exit"
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	job, written := sp, sp.ResultPath // what the batch script runs, where it writes its result
	if isSandboxed(sp) {
		if sp.Scratch == "" {
			sp.Scratch = base + ".scratch"
		}
		job.Scratch, written = sp.Scratch, filepath.Join(sp.Scratch, "result.json")
	}
	res := &Result{Job: sp.Attach}
	submitted := time.Now()
	if res.Job == "" {
		for _, p := range []string{sp.ResultPath, outPath, exitPath, startPath(exitPath)} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if isSandboxed(sp) {
			c, err := Confine(sp, nil)
			if err != nil {
				return nil, err
			}
			job.Command, job.Env, job.ResultPath = c.Argv, c.Env, c.ResultPath
		}
		script := base + ".sbatch"
		if err := os.WriteFile(script, []byte(s.script(job, exitPath)), 0o755); err != nil {
			return nil, err
		}
		id, err := s.submit(ctx, sp, script, outPath)
		if err != nil {
			return nil, err
		}
		res.Job = id
		if sp.Job != nil {
			sp.Job(id)
		}
	}

	out := sp.output()
	tail := &fileTail{path: outPath}
	feed := func() {
		tail.read(func(b []byte) {
			if !res.Started.IsZero() && res.FirstOutput == 0 {
				res.FirstOutput = time.Since(res.Started)
			}
			if sp.Output != nil {
				sp.Output.Write(b)
			}
			out.Write(b)
		})
	}

	var (
		st        slurmJob
		deadline  time.Time
		timedOut  bool
		cancelled time.Time // when ctx's end cancelled the job
		failing   time.Time // when scontrol began failing
	)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		var err error
		st, err = s.query(res.Job, exitPath)
		switch {
		case err == nil:
			failing = time.Time{}
		case failing.IsZero():
			failing = time.Now()
		case time.Since(failing) > 5*time.Minute:
			return nil, fmt.Errorf("following Slurm job %s: %w", res.Job, err)
		}
		feed()
		// The program's start is when the script began (slurmd takes a
		// moment after Slurm calls the job running).
		if fi, serr := os.Stat(startPath(exitPath)); serr == nil && res.Started.IsZero() {
			res.Started = fi.ModTime()
			if sp.Attach == "" {
				res.Queued = res.Started.Sub(submitted)
			}
			if sp.HardLimit > 0 {
				deadline = res.Started.Add(sp.HardLimit)
			}
		}
		if err == nil && slurmFinal[st.State] {
			break
		}
		// The script has written the program's exit status: the program
		// is over, whatever Slurm still has to tidy up (seconds, on a
		// small cluster) before it calls the job ended.
		if done, ok := exitStatus(exitPath); ok && !timedOut && cancelled.IsZero() {
			st = done
			break
		}
		if !deadline.IsZero() && !timedOut && time.Now().After(deadline) {
			timedOut = true
			s.cancel(res.Job)
		}
		if ctx.Err() != nil && cancelled.IsZero() {
			cancelled = time.Now()
			s.cancel(res.Job)
		}
		// scancel has been sent; wait a little for it to land, not forever.
		if !cancelled.IsZero() && time.Since(cancelled) > 30*time.Second {
			break
		}
		if cancelled.IsZero() {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		} else {
			<-tick.C
		}
	}
	if !st.End.IsZero() {
		res.Collected = max(0, time.Since(st.End))
	}
	if res.Started.IsZero() {
		res.Started = time.Now()
	}
	res.Wall = time.Since(res.Started)
	if !st.End.IsZero() && st.End.After(res.Started) {
		res.Wall = st.End.Sub(res.Started)
	}
	// Slurm writes the last of the output as the job ends.
	feed()
	out.flush()
	res.Tail = out.Tail()
	if !cancelled.IsZero() {
		return res, ctx.Err()
	}
	res.ExitCode = st.ExitCode
	if st.Signal != 0 {
		res.ExitCode = -1
	}
	keepResult(written, sp.ResultPath)
	res.Figures, res.Source, res.Curve = gatherFigures(out, sp)
	switch {
	case timedOut:
		res.Crash, res.Reason = Timeout, fmt.Sprintf("killed at the hard limit of %s (Slurm job %s cancelled)", sp.HardLimit.Round(time.Second), res.Job)
	case st.State != "COMPLETED" && st.State != "FAILED":
		res.Crash, res.Reason = ClusterCrash, fmt.Sprintf("Slurm ended job %s: %s", res.Job, st.State)
		if st.Reason != "" && st.Reason != "None" {
			res.Crash, res.Reason = ClusterCrash, res.Reason+" ("+st.Reason+")"
		}
	default:
		var werr error
		switch {
		case st.Signal != 0:
			werr = fmt.Errorf("killed by signal %s", syscall.Signal(st.Signal))
		case st.ExitCode > 128:
			werr = fmt.Errorf("killed by signal %s", syscall.Signal(st.ExitCode-128))
		case st.ExitCode != 0:
			werr = fmt.Errorf("exit status %d", st.ExitCode)
		}
		res.Crash, res.Reason = classify(res, out, werr, false, sp)
	}
	return res, nil
}

// script is the batch script: the program in its folder with exactly the
// environment a local run gets (the node's own settings left out), plus the
// GPUs Slurm gave the job; its exit status goes to exitPath.
func (s *Slurm) script(sp Spec, exitPath string) string {
	env := sp.Env
	if sp.ResultPath != "" {
		env = append(append([]string(nil), env...), contract.EnvResult+"="+sp.ResultPath)
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# %s, submitted by autoresearch\n", sp.Name)
	fmt.Fprintf(&b, "cd %s || exit 97\n", shellQuote(sp.Dir))
	fmt.Fprintf(&b, ": >%s\n", shellQuote(startPath(exitPath)))
	b.WriteString("set --")
	for _, kv := range RunEnv(env...) {
		b.WriteString(" \\\n  " + shellQuote(kv))
	}
	b.WriteString("\n")
	b.WriteString("if [ -n \"${CUDA_VISIBLE_DEVICES+x}\" ]; then set -- \"$@\" \"CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\"; fi\n")
	b.WriteString("/usr/bin/env -i \"$@\"")
	for _, a := range sp.Command {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\ncode=$?\n")
	fmt.Fprintf(&b, "echo $code >%s.tmp && mv %s.tmp %s\n", shellQuote(exitPath), shellQuote(exitPath), shellQuote(exitPath))
	b.WriteString("exit $code\n")
	return b.String()
}

func (s *Slurm) submit(ctx context.Context, sp Spec, script, outPath string) (string, error) {
	// The job gets sbatch's environment (--export=ALL), so sbatch runs with
	// the basics a training run gets, Slurm's own settings (SLURM_CONF,
	// SBATCH_*) and nothing else: no key reaches the cluster's records.
	// --export=NONE would keep the environment out too, but then Slurm
	// loads the user's login environment on the node, seconds per job.
	args := []string{"--parsable", "--export=ALL", "--chdir=" + sp.Dir, "--output=" + outPath}
	if sp.Name != "" {
		args = append(args, "--job-name="+sp.Name)
	}
	args = append(append(args, s.Args...), script)
	cmd := exec.CommandContext(ctx, "sbatch", args...)
	cmd.Env = filterEnv(func(k string) bool {
		return runKeys[k] || strings.HasPrefix(k, "SLURM_") || strings.HasPrefix(k, "SBATCH_")
	}, nil)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("sbatch is not on PATH: install Slurm's client commands, or use --executor local")
	}
	if err != nil {
		if e := NoSlurmConfig("sbatch", out); e != nil {
			return "", e
		}
		return "", fmt.Errorf("sbatch %s: %v: %s", strings.Join(s.Args, " "), err, strings.TrimSpace(string(out)))
	}
	// --parsable prints "id" or "id;cluster", after any warnings.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	id, _, _ := strings.Cut(strings.TrimSpace(lines[len(lines)-1]), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch printed no job id: %s", strings.TrimSpace(string(out)))
	}
	return id, nil
}

// noConfigSource is how Slurm's commands say they found no configuration:
// no slurm.conf (SLURM_CONF, /etc/slurm) and no controller announced in DNS.
var noConfigSource = regexp.MustCompile(`fatal: Could not establish a configuration source`)

// NoSlurmConfig returns the error to show when a Slurm command (its name)
// printed out because it found no configuration, and nil for any other
// output: Slurm's own "fatal: Could not establish a configuration source"
// does not say what to do.
func NoSlurmConfig(command string, out []byte) error {
	if !noConfigSource.Match(out) {
		return nil
	}
	return fmt.Errorf("Slurm has no configuration on this machine (%s: \"Could not establish a configuration source\"): "+
		"set SLURM_CONF to the cluster's slurm.conf, or run autoresearch on a node of the cluster (its login node), where Slurm finds it; "+
		"to try Slurm on this machine, start a one-node cluster with \"scripts/slurm-local.sh start\" and eval \"$(scripts/slurm-local.sh env)\" "+
		"(docs/workers.md, Slurm), or use --executor local", command)
}

// cancel asks Slurm to end the job; a job already gone is no error worth
// reporting, and the caller keeps following the job's state either way.
func (s *Slurm) cancel(id string) {
	exec.Command("scancel", id).Run()
}

var (
	scontrolField = regexp.MustCompile(`(?:^|\s)(JobState|Reason|ExitCode|EndTime)=(\S*)`)
	invalidJob    = regexp.MustCompile(`(?i)invalid job id`)
)

// query reads the job's state with scontrol. A job Slurm has forgotten
// (MinJobAge after its end) is described by its exit status file, if the
// script got to write one.
func (s *Slurm) query(id, exitPath string) (slurmJob, error) {
	out, err := exec.Command("scontrol", "show", "job", "-o", id).CombinedOutput()
	if err != nil {
		if invalidJob.Match(out) {
			if st, ok := exitStatus(exitPath); ok {
				return st, nil
			}
			return slurmJob{}, fmt.Errorf("Slurm no longer knows job %s and it left no exit status in %s", id, exitPath)
		}
		return slurmJob{}, fmt.Errorf("scontrol show job %s: %v: %s", id, err, strings.TrimSpace(string(out)))
	}
	return parseScontrol(string(out)), nil
}

// startPath is the file the batch script touches as it begins.
func startPath(exitPath string) string { return strings.TrimSuffix(exitPath, ".exit") + ".start" }

// exitStatus reads the exit status the batch script wrote when its program
// ended; the file's time is the program's end.
func exitStatus(path string) (slurmJob, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return slurmJob{}, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return slurmJob{}, false
	}
	st := slurmJob{State: "COMPLETED", ExitCode: code}
	if code != 0 {
		st.State = "FAILED"
	}
	if fi, err := os.Stat(path); err == nil {
		st.End = fi.ModTime()
	}
	return st, true
}

// parseScontrol reads the fields of `scontrol show job -o` that matter here.
func parseScontrol(text string) slurmJob {
	var j slurmJob
	for _, m := range scontrolField.FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "JobState":
			j.State = m[2]
		case "Reason":
			j.Reason = m[2]
		case "ExitCode":
			code, sig, _ := strings.Cut(m[2], ":")
			j.ExitCode, _ = strconv.Atoi(code)
			j.Signal, _ = strconv.Atoi(sig)
		case "EndTime":
			if t, err := time.ParseInLocation("2006-01-02T15:04:05", m[2], time.Local); err == nil {
				j.End = t
			}
		}
	}
	return j
}

// gatherFigures is what a job reported: the JSON file's figures (and
// training curve), else the summary block's, with the figures the patterns
// matched on top (as Run reads a local run's).
func gatherFigures(out *output, s Spec) (map[string]float64, string, []contract.CurvePoint) {
	figs, source := out.figures, "log"
	var curve []contract.CurvePoint
	if b, err := os.ReadFile(s.ResultPath); err == nil {
		if f, c, err := parseResult(s.ResultPath, b); err == nil {
			figs, source, curve = f, "json", c
		}
	}
	if len(out.matched) > 0 {
		all := map[string]float64{}
		for k, v := range figs {
			all[k] = v
		}
		for k, v := range out.matched {
			all[k] = v
		}
		figs, source = all, "log"
	}
	if len(figs) == 0 {
		return nil, "", curve
	}
	return figs, source, curve
}

// fileTail reads what was appended to a file since the last read.
type fileTail struct {
	path string
	off  int64
}

func (t *fileTail) read(f func([]byte)) {
	fh, err := os.Open(t.path)
	if err != nil {
		return
	}
	defer fh.Close()
	if _, err := fh.Seek(t.off, io.SeekStart); err != nil {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := fh.Read(buf)
		if n > 0 {
			t.off += int64(n)
			f(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// shellQuote single-quotes s for sh; a quote inside ends the quoting, is escaped and resumes it.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
