package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"autoresearch/harness"
	"autoresearch/internal/experiment"
	"autoresearch/internal/gitops"
	"autoresearch/internal/runner"
	"autoresearch/internal/runs"
	"autoresearch/internal/status"
)

// The GPT task, as the experiment loop sees it: edit gpt/train.go, build
// ./gpt, run it with the profile in its environment, minimise val_bpb.
const (
	trainFile    = "gpt/train.go"
	trainPackage = "./gpt"
	// taskEvalAllowance is a task's time beyond its budgets before the hard
	// limit, without --eval-allowance (the GPT task's is its profile's).
	taskEvalAllowance = 2 * time.Minute
)

// defaultTag names a run after today's date, like nov26.
func defaultTag() string { return strings.ToLower(time.Now().Format("Jan2")) }

// repoRoot returns the top folder of the user's repository holding dir. In a
// run's clone (<repo>/.autoresearch/<tag>/worktree) that is the repository
// the run belongs to, and tag is the run's.
func repoRoot(dir string) (root, tag string, err error) {
	root, err = gitops.Root(dir)
	if err != nil {
		return "", "", err
	}
	if user, tag, ok := runs.InsideRun(root); ok {
		return user, tag, nil
	}
	return root, "", nil
}

// setupFlags are the flags that shape a new run.
type setupFlags struct {
	Tag           string
	Profile       string
	profileGiven  bool // --profile was on the command line
	Device        string
	Repo          string
	EvalAllowance time.Duration
	Repeat        int    // baseline runs; 0: experiment.DefaultRepeats of the budget
	Sandbox       string // --sandbox: how each run of the program is confined
	// Executor and SlurmArgs say where training runs (--executor,
	// --slurm-args); executorGiven, whether the command line said so.
	Executor      string
	SlurmArgs     string
	executorGiven bool
}

// lookupProfile finds a command's profile. The usage error names where an
// unknown name came from: --profile, or $AUTORESEARCH_PROFILE behind its
// default when the flag was not given. An empty name is the default profile.
func lookupProfile(name string, flagGiven bool) (harness.Profile, error) {
	if name == "" {
		name = defaultProfile()
	}
	p, err := harness.LookupProfile(name)
	if err != nil && !flagGiven && os.Getenv(harness.EnvProfile) != "" {
		return p, usagef("$%s: %v, or unset it", harness.EnvProfile, err)
	}
	if err != nil {
		return p, usagef("--profile: %v", err)
	}
	return p, nil
}

func defaultProfile() string {
	if p := os.Getenv(harness.EnvProfile); p != "" {
		return p
	}
	return harness.DefaultProfile
}

// dataHome is $AUTORESEARCH_HOME as an absolute path: the training program
// runs in another folder.
func dataHome() (string, error) { return filepath.Abs(harness.Home()) }

// gptEnv is the environment a run of the training program gets beyond the
// basics: the profile, the prepared data and the device.
func gptEnv(p harness.Profile, home, device string) []string {
	return append([]string{harness.EnvProfile + "=" + p.Name, harness.EnvHome + "=" + home,
		harness.EnvDevice + "=" + device}, runner.DeviceEnv(device)...)
}

// gptConfig is the run configuration of the GPT task. An ignored vendor
// folder of the repository is shared with the worktree, so a machine without
// network (the GPU machine) builds from it.
func gptConfig(root, tag string, p harness.Profile, home, device, detail string, allowance time.Duration) experiment.Config {
	argv, env := runner.GoBuild(trainPackage, device)
	return experiment.Config{
		Tag: tag, Repo: root, Profile: p.Name, Device: device, DeviceDetail: detail,
		Editable:             []string{trainFile},
		Shared:               []string{"vendor"},
		Build:                experiment.Command{Argv: argv, Env: env},
		Run:                  experiment.Command{Argv: []string{runner.BinVar}, Env: gptEnv(p, home, device)},
		Readable:             []string{home},
		Limits:               profileLimits(p),
		Metric:               experiment.Metric{Name: "val_bpb", LowerIsBetter: true},
		MemoryKeys:           []string{"peak_vram_mb", "peak_rss_mb"},
		BudgetSeconds:        p.TimeBudget,
		EvalAllowanceSeconds: cmp.Or(allowance.Seconds(), p.Allowance),
	}
}

// newRun checks everything a new run of the GPT task needs (a repository
// with gpt/train.go committed, prepared data, the device) and sets it up; in
// a repository with a task file, it sets up a run of that task instead.
func newRun(ctx context.Context, f setupFlags, rep status.Reporter) (*experiment.Run, error) {
	root, _, err := repoRoot(f.Repo)
	if err != nil {
		return nil, err
	}
	if err := experiment.CheckTag(f.Tag); err != nil {
		return nil, usagef("--tag: %v", err)
	}
	if f.Repeat < 0 {
		return nil, usagef("--repeat %d: give the number of baseline runs, 1 or more (0: the profile's default)", f.Repeat)
	}
	if t, err := loadTask(root); err != nil {
		return nil, err
	} else if t != nil {
		return newTaskRun(ctx, root, t, f, rep)
	}
	p, err := lookupProfile(f.Profile, f.profileGiven)
	if err != nil {
		return nil, err
	}
	if err := runner.ValidDevice(f.Device); err != nil {
		return nil, usagef("--device: %v", err)
	}
	home, err := dataHome()
	if err != nil {
		return nil, err
	}
	if _, err := harness.ReadMeta(home, p); err != nil {
		return nil, err
	}
	committed, err := gitops.FileAtHead(root, trainFile)
	if err != nil {
		return nil, fmt.Errorf("%s has no committed %s: run autoresearch in the project that holds the training program", root, trainFile)
	}
	if cur, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(trainFile))); err == nil && !bytes.Equal(cur, committed) {
		rep.Logf("note: %s has uncommitted changes; the run starts from the committed version (commit first to include them)", trainFile)
	}
	if err := f.validExecutor(); err != nil {
		return nil, err
	}
	device, detail, err := resolveDevice(ctx, f)
	if err != nil {
		return nil, err
	}
	cfg := gptConfig(root, f.Tag, p, home, device, detail, f.EvalAllowance)
	r, err := setupRun(cfg, f, rep)
	if err != nil {
		return nil, err
	}
	rep.Logf("run %s: profile %s, device %s, budget %gs, hard limit %s, in %s", f.Tag, p.Name, device, p.TimeBudget, cfg.HardLimit(), r.Dir)
	return r, nil
}

// checkData checks that an existing run's prepared data is still there (a
// run of a task file has none).
func checkData(r *experiment.Run) error {
	if r.Config.Task != "" {
		return nil
	}
	p, err := harness.LookupProfile(r.Config.Profile)
	if err != nil {
		return err
	}
	home := harness.Home()
	for _, kv := range r.Config.Run.Env {
		if v, ok := strings.CutPrefix(kv, harness.EnvHome+"="); ok {
			home = v
		}
	}
	_, err = harness.ReadMeta(home, p)
	return err
}
