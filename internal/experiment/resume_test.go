package experiment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"autoresearch/internal/results"
	"autoresearch/internal/status"
	"autoresearch/internal/testfs"
)

// The test binary doubles as a `run` process: with EXPERIMENT_HELPER set to a
// run folder it opens that run and loops with a proposer whose one idea
// trains for a minute, stopping on SIGINT or SIGTERM like the CLI.
func TestMain(m *testing.M) {
	if dir := os.Getenv("EXPERIMENT_HELPER"); dir != "" {
		os.Exit(helperRun(dir))
	}
	os.Exit(m.Run())
}

func helperRun(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := Open(dir, status.NewPlain(os.Stdout))
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	defer r.Close()
	t := &testing.T{}
	p := newScripted(t, idea{desc: "VALUE 1.0 -> 0.5, slowly", edit: set(t, "VALUE", "0.5", "SLEEP", "60.0")})
	_, err = r.Loop(ctx, Options{Proposer: p, MaxExperiments: 1})
	fmt.Println("loop:", err)
	if errors.Is(err, context.Canceled) {
		return 130
	}
	if err != nil {
		return 1
	}
	return 0
}

// startHelper sets up a run with its baseline, then starts a `run` process
// on it and waits until its experiment 1 is training. It returns the process
// and the training program's pid.
func startHelper(t *testing.T) (dir string, cmd *exec.Cmd, trainer int, out *strings.Builder) {
	t.Helper()
	user := newUserRepo(t)
	cfg := toyConfig(user, "t1")
	cfg.Task.BudgetSeconds = 60
	r, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir = r.Dir
	r.Close()

	out = &strings.Builder{}
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EXPERIMENT_HELPER="+dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	pidRE := regexp.MustCompile(`pid (\d+) profile`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "1.log")) // absent until the run starts
		if m := pidRE.FindSubmatch(b); m != nil {
			trainer, _ = strconv.Atoi(string(m[1]))
			return dir, cmd, trainer, out
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("experiment 1 never started training; helper output:\n%s", out)
	return
}

// running reports whether pid is a live process (not a zombie).
func running(pid int) bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		if f := strings.Fields(string(b)); len(f) > 2 && (f[2] == "Z" || f[2] == "X") {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("the run process did not exit")
	}
	return -1
}

// resumeAndCheck reopens the run, checks that experiment 1 was rolled back
// and that the next experiment gets number 1 and beats the baseline.
func resumeAndCheck(t *testing.T, dir string, rep *recorder) {
	t.Helper()
	r, err := Open(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if rows := r.Rows(); len(rows) != 1 || rows[0].Description != "baseline" {
		t.Fatalf("rows after the stop: %+v", rows)
	}
	if err := r.repo.Guard(r.Config.BaseCommit, nil); err != nil {
		t.Errorf("the worktree was not rolled back to the baseline: %v", err)
	}
	if best, ok := r.Best(); !ok || best != 1 {
		t.Errorf("best after resume %v, %v", best, ok)
	}
	cut, err := os.ReadFile(filepath.Join(dir, LogsDir, "1.log"))
	if err != nil {
		t.Fatalf("the stopped attempt's log: %v", err)
	}
	p := newScripted(t, idea{desc: "VALUE 1.0 -> 0.5", edit: set(t, "VALUE", "0.5")})
	if _, err := r.Loop(context.Background(), Options{Proposer: p, MaxExperiments: 1}); err != nil {
		t.Fatal(err)
	}
	// The experiment ran again under its number; both attempts' logs stay.
	if b, err := os.ReadFile(filepath.Join(dir, LogsDir, "1.log")); err != nil || string(b) != string(cut) {
		t.Errorf("the stopped attempt's log was overwritten (%v)", err)
	}
	recs, err := ReadRecords(filepath.Join(dir, RecordsFile))
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; last.N != 1 || len(last.Logs) != 1 || last.Logs[0] != "logs/1-take2.log" {
		t.Errorf("the re-run's record %+v, want its log in logs/1-take2.log", last)
	} else if b, err := os.ReadFile(filepath.Join(dir, last.Logs[0])); err != nil || !strings.Contains(string(b), "val_bpb") {
		t.Errorf("the re-run's log: %v\n%s", err, b)
	}
	f, _ := results.ReadFile(filepath.Join(dir, ResultsFile))
	if len(f.Rows) != 2 || f.Rows[1].Status != results.Keep || f.Rows[1].Value != 0.5 {
		t.Errorf("rows after resuming: %+v", f.Rows)
	}
	if h, _ := r.repo.Head(); !strings.HasPrefix(h, f.Rows[1].Commit) {
		t.Errorf("tip %s is not the new keep %s", h, f.Rows[1].Commit)
	}
}

func TestInterruptDuringTrainingThenResume(t *testing.T) {
	t.Parallel()
	dir, cmd, trainer, out := startHelper(t)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 130 {
		t.Fatalf("exit status %d after SIGINT, want 130; output:\n%s", code, out)
	}
	if running(trainer) {
		t.Errorf("the training process %d outlived the stop", trainer)
	}
	recs, _ := ReadRecords(filepath.Join(dir, RecordsFile))
	if last := recs[len(recs)-1]; last.N != 1 || last.Status != "interrupted" {
		t.Errorf("last record %+v, want experiment 1 interrupted", last)
	}
	rep := &recorder{}
	resumeAndCheck(t, dir, rep)
	if rep.logged("rolling back") || rep.logged("taking it over") {
		t.Errorf("a clean stop left something to clean up: %v", rep.logs)
	}
}

func TestKillDuringTrainingThenResume(t *testing.T) {
	t.Parallel()
	dir, cmd, trainer, out := startHelper(t)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != -1 {
		t.Fatalf("exit status %d after SIGKILL; output:\n%s", code, out)
	}
	if running(trainer) {
		t.Errorf("the training process %d outlived the killed run", trainer)
	}
	rep := &recorder{}
	resumeAndCheck(t, dir, rep)
	if !rep.logged("taking it over") || !rep.logged("rolling back an unfinished experiment 1") {
		t.Errorf("resume after SIGKILL logged %v", rep.logs)
	}
}

func TestSecondRunOnATagIsRefused(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	r, err := Setup(toyConfig(user, "t1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(r.Dir, nil)
	if !errors.Is(err, ErrLocked) || !strings.HasPrefix(err.Error(), "run t1 is already running in process "+strconv.Itoa(os.Getpid())+": stop it first") {
		t.Fatalf("second open: %v", err)
	}
	// From another process too.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EXPERIMENT_HELPER="+r.Dir)
	b, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "already running") {
		t.Errorf("a second process on the run: exit %d\n%s", cmd.ProcessState.ExitCode(), b)
	}
	r.Close()
	r2, err := Open(r.Dir, nil)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	r2.Close()
}

func TestStaleLockIsTakenOver(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	r, err := Setup(toyConfig(user, "t1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	testfs.WriteFile(t, filepath.Join(r.Dir, lockFile), []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o644)
	rep := &recorder{}
	r2, err := Open(r.Dir, rep)
	if err != nil {
		t.Fatalf("a stale lock blocked the run: %v", err)
	}
	defer r2.Close()
	if !rep.logged(fmt.Sprintf("process %d ended", dead.Process.Pid)) {
		t.Errorf("take-over not reported: %v", rep.logs)
	}
	b := testfs.ReadFile(t, filepath.Join(r.Dir, lockFile))
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock holds %q", b)
	}
}

func TestResumeCutsTornLines(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	r, err := Setup(toyConfig(user, "t1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Baseline(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	appendTo(t, filepath.Join(r.Dir, ResultsFile), "abc1234\t0.5")
	appendTo(t, filepath.Join(r.Dir, RecordsFile), `{"n":1,"sta`)
	r2, err := Open(r.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if len(r2.Rows()) != 1 {
		t.Errorf("rows %+v", r2.Rows())
	}
	if recs, err := ReadRecords(filepath.Join(r.Dir, RecordsFile)); err != nil || len(recs) != 1 {
		t.Errorf("records %d, %v", len(recs), err)
	}
}

func TestResumePublishesAnUnpublishedKeep(t *testing.T) {
	t.Parallel()
	user := newUserRepo(t)
	r, err := Setup(toyConfig(user, "t1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newScripted(t, idea{desc: "VALUE 1.0 -> 0.5", edit: set(t, "VALUE", "0.5")})
	if _, err := r.Loop(context.Background(), Options{Proposer: p}); err != nil {
		t.Fatal(err)
	}
	kept := r.Kept()
	r.Close()
	// As if the run died between recording the keep and publishing it.
	u, _ := git.PlainOpen(user)
	ref := plumbing.NewBranchReferenceName("autoresearch/t1")
	u.Storer.SetReference(plumbing.NewHashReference(ref, plumbing.NewHash(r.Config.BaseCommit)))
	rep := &recorder{}
	r2, err := Open(r.Dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if stop, err := r2.Loop(context.Background(), Options{Proposer: newScripted(t)}); err != nil || stop != StopExhausted {
		t.Fatalf("loop: %q, %v", stop, err)
	}
	// The status line shows the best so far from the start.
	if len(rep.best) != 1 || rep.best[0] != 0.5 {
		t.Errorf("the reporter was told the best %v, want [0.5]", rep.best)
	}
	if h, _ := u.Reference(ref, false); h.Hash().String() != kept {
		t.Errorf("the user's branch is at %s, want the last keep %s", h.Hash(), kept)
	}
}
