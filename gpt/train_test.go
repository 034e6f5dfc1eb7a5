package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/runner"
	"autoresearch/internal/task/gpttask"
)

// The tests here check the training program through what it does and prints,
// and use nothing train.go declares: the research agent may rename or delete
// anything in it. The checks of the model and optimizer against the
// original's formulas test a pinned copy of the baseline, in gpt/baseline.

// TestTestsUseNothingOfTrainGo vets this package with train.go replaced by
// an empty program: it passes only while no test here names anything
// train.go declares, so that any edit of train.go that builds leaves
// `go vet ./...` and `go test ./gpt` working.
func TestTestsUseNothingOfTrainGo(t *testing.T) {
	train, err := filepath.Abs("train.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "train.go")
	overlay := filepath.Join(dir, "overlay.json")
	replace, err := json.Marshal(map[string]map[string]string{"Replace": {train: empty}})
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{empty: []byte("package main\n\nfunc main() {}\n"), overlay: replace} {
		if err := os.WriteFile(name, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("go", "vet", "-overlay", overlay, ".").CombinedOutput(); err != nil {
		t.Errorf("with an empty train.go, go vet ./gpt fails: a test here uses what train.go declares "+
			"(test it in gpt/baseline, or through the program's output): %v\n%s", err, out)
	}
}

// TestSmokeTrainingLearns is the acceptance check of the training program: after
// `autoresearch prepare --profile smoke`, `autoresearch train --profile
// smoke` finishes within its budget plus evaluation, prints the whole
// summary, and scores clearly better than a model that has learnt nothing.
func TestSmokeTrainingLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and trains for the smoke budget")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	cli := filepath.Join(tmp, "autoresearch")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-o", cli, "./cmd/autoresearch")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), harness.EnvHome+"="+home)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("autoresearch %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	run("prepare", "--profile", "smoke")

	p, err := harness.LookupProfile("smoke")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := run("train", "--profile", "smoke", "--device", "cpu")
	wall := time.Since(start)
	figures := runner.ParseSummary(out)
	for _, key := range []string{"val_bpb", "training_seconds", "total_seconds", "peak_vram_mb", "mfu_percent",
		"total_tokens_M", "num_steps", "num_params_M", "depth", "peak_rss_mb"} {
		if _, ok := figures[key]; !ok {
			t.Errorf("the summary lacks %s:\n%s", key, out)
		}
	}
	// The budget counts training only, after the warm-up steps; the rest of
	// the run is start-up, warm-up and evaluation. On a crowded machine the
	// steps may stop at the wall-clock cap first, and the log says so.
	capped := strings.Contains(out, "budget: the steps took")
	if got := figures["training_seconds"]; got < p.TimeBudget && !capped || got > p.TimeBudget+2 {
		t.Errorf("training_seconds %.1f, want the budget %gs (plus at most one step)", got, p.TimeBudget)
	}
	if got := figures["total_seconds"]; got > p.HardLimit(harness.DeviceCPU).Seconds() {
		t.Errorf("total_seconds %.1f for a %gs budget", got, p.TimeBudget)
	}
	if figures["tokens_per_sec"] <= 0 || !strings.Contains(out, "\ncurve:            ") {
		t.Errorf("the summary lacks the training curve:\n%s", out)
	}
	t.Logf("smoke run: %s wall (build included), %.0f steps, val_bpb %.4f", wall.Round(time.Millisecond), figures["num_steps"], figures["val_bpb"])

	// The part of the log the agent sees of the best run, as the task names
	// it: the parameter table, whose total is the summary's num_params, the
	// FLOPs, and no warning for the baseline.
	tk := gpttask.New(gpttask.Options{Profile: p, Home: home, Device: harness.DeviceCPU})
	section := tk.LogSection(out)
	var total float64
	for _, line := range strings.Split(section, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "total" {
			total, _ = strconv.ParseFloat(strings.ReplaceAll(f[1], ",", ""), 64)
		}
	}
	if !strings.HasPrefix(section, harness.ParamsHeader) || math.Abs(total/1e6-figures["num_params_M"]) > 0.05 ||
		!strings.Contains(section, "Estimated FLOPs per token") || strings.Contains(section, "warning:") {
		t.Errorf("the log's section for the agent (total %g, num_params_M %g):\n%s", total, figures["num_params_M"], section)
	}

	// A model that has learnt nothing gives every token the probability 1/V
	// (the untrained baseline scores that to the third decimal: its lm_head
	// starts at std 0.001). Scored by the same metric on the same tokens, the
	// trained model must be clearly better.
	env, err := harness.OpenAt(home, p, harness.DeviceCPU)
	if err != nil {
		t.Fatal(err)
	}
	uniform, err := env.EvaluateBPB(uniformScorer(p.VocabSize), p.EvalTokens/p.MaxSeqLen)
	if err != nil {
		t.Fatal(err)
	}
	trained := figures["val_bpb"]
	t.Logf("val_bpb uniform %.4f, trained %.4f", uniform, trained)
	if !(trained > 0 && trained < uniform/2) {
		t.Errorf("val_bpb after training %.4f is not clearly below a uniform guess's %.4f", trained, uniform)
	}
}

// uniformScorer scores every target as one of its vocabulary's V tokens,
// all equally likely: ln V nats each.
type uniformScorer int

func (v uniformScorer) TokenLosses(inputs, targets []int32, B, T int) ([]float32, error) {
	losses := make([]float32, len(targets))
	for i := range losses {
		losses[i] = float32(math.Log(float64(v)))
	}
	return losses, nil
}
