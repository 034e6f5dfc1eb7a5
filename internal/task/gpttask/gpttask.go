// Package gpttask is the built-in task: the GPT of gpt/train.go, trained for
// a harness profile's budget and scored by val_bpb. It is a task.Task like
// any task file's (programs/examples/gpt/autoresearch.toml writes the same
// task out), made here from the profile, the data home and the device; only
// the commands import it, so that the loop, the runner and the agents know
// the GPT through the Task alone.
package gpttask

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/contract"
	"autoresearch/internal/runner"
	"autoresearch/internal/sandbox"
	"autoresearch/internal/task"
)

// The GPT task's program, as the loop builds and edits it.
const (
	Source      = "gpt"          // Task.Source of the built-in task
	TrainFile   = "gpt/train.go" // the file the agent edits
	Package     = "./gpt"        // the package built
	ProgramFile = "programs/program.md"
)

// Options choose the task: the profile, where its data is prepared, the
// device (cpu or cuda, already resolved) and its description, and the
// allowance of the hard limit (0: the profile's).
type Options struct {
	Profile   harness.Profile
	Home      string // absolute
	Device    string
	Detail    string
	Allowance time.Duration
}

// New returns the GPT task under o.
func New(o Options) task.Task {
	p := o.Profile
	argv, env := GoBuild(Package, o.Device)
	allowance := cmp.Or(o.Allowance.Seconds(), p.Allowance)
	t := task.Task{
		Source:   Source,
		Profile:  p.Name,
		Editable: []string{TrainFile},
		Shared:   []string{"vendor"},
		Build:    task.Command{Argv: argv, Env: env},
		Run: task.Command{Argv: []string{runner.BinVar}, Env: append([]string{
			harness.EnvProfile + "=" + p.Name, harness.EnvHome + "=" + o.Home, harness.EnvDevice + "=" + o.Device},
			DeviceEnv(o.Device)...)},
		Device:           task.Device{Name: o.Device, Detail: o.Detail},
		BudgetSeconds:    p.TimeBudget,
		AllowanceSeconds: allowance,
		HardLimitSeconds: harness.HardLimit(p.TimeBudget, allowance, o.Device).Seconds(),
		Limits:           Limits(p),
		Readable:         []string{o.Home},
		Metric:           task.Metric{Name: "val_bpb", LowerIsBetter: true},
		Memory:           task.Memory{Keys: []string{"peak_vram_mb", "peak_rss_mb"}},
		Progress:         contract.ProgressPattern,
		Warmup:           task.Warmup{Start: contract.WarmupLine, Done: contract.WarmupDoneLine},
		FailLine:         contract.FailLine,
		Prompt: task.Prompt{
			What:    fmt.Sprintf("the GPT training program %s (profile %s)", TrainFile, p.Name),
			Locked:  "harness/, internal/, go.mod and go.sum",
			Rules:   []string{"Use only the Go standard library and the packages the module already has; no new dependencies."},
			Budget:  BudgetWords(o.Device),
			Figures: []string{"num_steps", "tokens_per_sec", "mfu_percent", "peak_vram_mb", "peak_rss_mb"},
			Verb:    "training",
			// The parameter table train.go prints at start (harness.PrintParameters),
			// with the FLOPs and warnings after it, up to the blank line that ends them.
			Log: task.Section{Title: "Its parameters, from the start of its log", Start: "^" + regexp.QuoteMeta(harness.ParamsHeader), End: "^$"},
		},
		Program: ProgramFile,
		Requires: []task.Require{{
			Path:    filepath.Join(harness.DataDir(o.Home, p), harness.MetaFile),
			Missing: fmt.Sprintf("data not prepared for profile %s in %s: run \"autoresearch prepare --profile %s\"", p.Name, harness.DataDir(o.Home, p), p.Name),
		}},
	}
	t.Finish()
	return t
}

// BudgetWords says what the budget counts on device (harness.Budget).
func BudgetWords(device string) string {
	if device == harness.DeviceCPU {
		return "compute (the program's CPU time over its threads: a busy machine costs wall-clock time, not steps)"
	}
	return "wall-clock time"
}

// Limits are a profile's resource limits in the sandbox: room for the model
// the profile trains several times over, so that only a runaway program meets
// them.
func Limits(p harness.Profile) sandbox.Limits {
	l := sandbox.Limits{Processes: 4096, OpenFiles: 4096}
	switch p.Name {
	case "smoke":
		l.MemoryMB = 4 << 10
	case "cpu":
		l.MemoryMB = 16 << 10
	default:
		l.MemoryMB = 64 << 10
	}
	return l
}

// GoBuild returns the build command and extra build environment of the Go
// training program in package pkg (e.g. ./gpt) for a device. A cuda build
// uses the cuda build tag, finds the project's CUDA compatibility header
// first, then the toolkit under runner.CUDAHome, links against the toolkit's
// libraries and link stubs (runner.CUDALibDirs: a GPU machine's libcuda.so.1
// has no libcuda.so beside it) and records the real library folders in the
// binary (rpath) so it runs without LD_LIBRARY_PATH. -buildvcs=false: the
// clone's version-control state is no part of the program.
func GoBuild(pkg, device string) (cmd []string, env []string) {
	cmd = []string{"go", "build", "-buildvcs=false"}
	if device == runner.CUDA {
		home := runner.CUDAHome()
		link, run := runner.CUDALibDirs(home)
		ldflags := make([]string, 0, len(link)+len(run))
		for _, d := range link {
			ldflags = append(ldflags, "-L"+d)
		}
		for _, d := range run {
			ldflags = append(ldflags, "-Wl,-rpath,"+d)
		}
		cmd = append(cmd, "-tags", "cuda")
		env = []string{
			"CGO_ENABLED=1",
			"CGO_CFLAGS=-I" + filepath.Join(runner.WorktreeVar, "internal", "tensor", "cuda", "include") + " -I" + filepath.Join(home, "include"),
			"CGO_LDFLAGS=" + strings.Join(ldflags, " "),
		}
	}
	return append(cmd, "-o", runner.BinVar, pkg), env
}

// DeviceEnv returns the extra environment the training program needs on a
// device. NVRTC loads its builtins library with dlopen, which the rpath does
// not reach, so a cuda run gets the toolkit's library folders in
// LD_LIBRARY_PATH.
func DeviceEnv(device string) []string {
	if device != runner.CUDA {
		return nil
	}
	_, run := runner.CUDALibDirs(runner.CUDAHome())
	if cur := os.Getenv("LD_LIBRARY_PATH"); cur != "" {
		run = append(run, cur)
	}
	if len(run) == 0 {
		return nil
	}
	return []string{"LD_LIBRARY_PATH=" + strings.Join(run, ":")}
}
