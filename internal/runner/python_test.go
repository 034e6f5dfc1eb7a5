package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"autoresearch/internal/sandbox"
	"autoresearch/internal/task"
	"autoresearch/internal/testfs"
)

// A Python task under the default sandbox runs with the user's Python,
// however installed (a pyenv shim, a conda environment, a repository's
// virtualenv in the home folder), imports what that installation holds, and
// still reads nothing else of the home: neither the Python program nor the
// hostile one can read ~/.aws or ~/.ssh.

// scorePy is the task's program: it imports the installation's module,
// tries the user's secrets, and prints its score.
const scorePy = `import importlib, os, sys
home = os.environ["HOME"]
def attempt(name, f):
    try:
        f()
        print("ATTEMPT", name, "| ok")
    except Exception as e:
        print("ATTEMPT", name, "| error:", type(e).__name__, e)
for m in os.environ["PY_MODULES"].split(","):
    attempt("import-" + m, lambda: importlib.import_module(m))
attempt("read-credentials", lambda: open(os.path.join(home, ".aws", "credentials")).read())
attempt("read-ssh-key", lambda: open(os.path.join(home, ".ssh", "id_ed25519")).read())
attempt("list-home", lambda: os.listdir(home))
print("prefix:", sys.prefix)
print("score: 1.5")
`

// pythonSetup is one way a user has Python: the task it gives, the repository
// (the run's clone) and the modules its program must import.
type pythonSetup struct {
	task    *task.Task
	clone   string
	modules []string
	install string // the installation, which sys.prefix must name
}

// pythonHome makes a home folder with secrets, the HOME of the test.
func pythonHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	testfs.Secrets(t, home)
	t.Setenv("HOME", home)
	return home
}

// setupTask makes the task running argv0 score.py in a clone of repo and
// lets it use its Python, as a run's setup does (in repo, with the run's
// environment).
func setupTask(t *testing.T, argv0, repo string, shared ...string) (*task.Task, string) {
	t.Helper()
	testfs.MkdirAll(t, repo, 0o755)
	testfs.WriteFile(t, filepath.Join(repo, "score.py"), []byte(scorePy), 0o644)
	tk := &task.Task{Run: task.Command{Argv: []string{argv0, "score.py"}}, Shared: shared,
		Metric: task.Metric{Name: "score", Pattern: `^score:\s*([0-9.]+)`}, BudgetSeconds: 60}
	tk.Finish()
	py, err := tk.AllowPython(context.Background(), repo, RunEnv(tk.Run.Env...), nil)
	if err != nil || !py {
		t.Fatalf("AllowPython: %v %v", py, err)
	}
	// The clone: the repository's files, its shared paths linked, as the
	// loop's workers have them.
	clone := filepath.Join(t.TempDir(), "worktree")
	testfs.MkdirAll(t, clone, 0o755)
	testfs.WriteFile(t, filepath.Join(clone, "score.py"), []byte(scorePy), 0o644)
	for _, s := range shared {
		testfs.Symlink(t, filepath.Join(repo, s), filepath.Join(clone, s))
	}
	return tk, clone
}

func pyenvSetup(t *testing.T) pythonSetup {
	home := pythonHome(t)
	version := filepath.Join(home, ".pyenv", "versions", "3.x")
	testfs.PythonPrefix(t, testfs.SystemPython(t), version, map[string]string{"pyenvmod": "X = 1\n"})
	shims := testfs.PyenvShim(t, home, filepath.Join(version, "bin", "python3"))
	t.Setenv("PATH", shims+":"+os.Getenv("PATH"))
	tk, clone := setupTask(t, "python3", filepath.Join(home, "forecast"))
	return pythonSetup{task: tk, clone: clone, modules: []string{"pyenvmod"}, install: version}
}

func condaSetup(t *testing.T) pythonSetup {
	home := pythonHome(t)
	env := filepath.Join(home, "miniconda3", "envs", "forecast")
	testfs.PythonPrefix(t, testfs.SystemPython(t), env, map[string]string{"condamod": "X = 1\n"})
	t.Setenv("PATH", filepath.Join(env, "bin")+":"+os.Getenv("PATH")) // conda activate
	tk, clone := setupTask(t, "python3", filepath.Join(home, "forecast"))
	return pythonSetup{task: tk, clone: clone, modules: []string{"condamod"}, install: env}
}

// venvSetup: the repository's untracked .venv, made with python -m venv,
// sees Debian's numpy (python3-numpy, installed by scripts/python-deps.sh)
// and holds a module of its own; the task names it by its path and shares
// it with the clone.
func venvSetup(t *testing.T) pythonSetup {
	home := pythonHome(t)
	system := testfs.SystemPython(t)
	if err := exec.Command(system, "-c", "import numpy").Run(); err != nil {
		t.Skip("Debian's python3-numpy is not installed: run scripts/python-deps.sh")
	}
	repo := filepath.Join(home, "forecast")
	testfs.Venv(t, system, filepath.Join(repo, ".venv"), map[string]string{"venvmod": "X = 1\n"})
	tk, clone := setupTask(t, ".venv/bin/python", repo, ".venv")
	// The clone's .venv is the link to the repository's: Python names it so.
	return pythonSetup{task: tk, clone: clone, modules: []string{"numpy", "venvmod"}, install: filepath.Join(clone, ".venv")}
}

// attempts reads the ATTEMPT lines of a log: name → "ok" or "error: ...".
func attempts(log string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(log, "\n") {
		if rest, ok := strings.CutPrefix(line, "ATTEMPT "); ok {
			name, res, _ := strings.Cut(rest, " | ")
			got[name] = res
		}
	}
	return got
}

func TestPythonTasksRunWithTheirUsersPython(t *testing.T) {
	if sandbox.Probe().Landlock == 0 {
		t.Skip("this kernel has no Landlock")
	}
	for name, setup := range map[string]func(*testing.T) pythonSetup{"pyenv": pyenvSetup, "conda": condaSetup, "venv": venvSetup} {
		t.Run(name, func(t *testing.T) {
			s := setup(t)
			policy := TaskPolicy(sandbox.Auto, s.task)

			// The Python program, as the loop runs it.
			spec := TaskSpec(s.task, nil)
			var log bytes.Buffer
			spec.Dir, spec.Output, spec.Sandbox, spec.Scratch = s.clone, &log, policy, filepath.Join(t.TempDir(), "scratch")
			spec.Env = append(spec.Env, "PY_MODULES="+strings.Join(s.modules, ","))
			res, err := Run(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.Crash != "" || res.Metric("score") != 1.5 {
				t.Fatalf("the program did not run: %s (%s)\n%s", res.Crash, res.Reason, log.String())
			}
			if !strings.Contains(log.String(), "prefix: "+s.install+"\n") {
				t.Errorf("the program ran another Python than %s:\n%s", s.install, log.String())
			}
			got := attempts(log.String())
			for _, m := range s.modules {
				if got["import-"+m] != "ok" {
					t.Errorf("import %s: %s", m, got["import-"+m])
				}
			}
			for _, secret := range []string{"read-credentials", "read-ssh-key", "list-home"} {
				if !strings.HasPrefix(got[secret], "error: PermissionError") {
					t.Errorf("the Python program's %s got %q, want a PermissionError", secret, got[secret])
				}
			}

			// The hostile program, under the same policy and home.
			hostileGot := runHostile(t, policy, s.clone)
			for _, secret := range []string{"read-credentials", "read-ssh-key", "write-home"} {
				if !strings.HasPrefix(hostileGot[secret], "error: ") || !strings.HasSuffix(hostileGot[secret], "[13]") {
					t.Errorf("the hostile program's %s got %q, want permission denied", secret, hostileGot[secret])
				}
			}
			if t.Failed() {
				t.Logf("allowed: %+v\nlog:\n%s", s.task.Allowed, log.String())
			}
		})
	}
}

var (
	hostileOnce sync.Once
	hostileBin  string
	hostileErr  error
)

// runHostile runs the sandbox's hostile program (internal/sandbox/testdata)
// in dir under policy, with the test's HOME, and returns what each attempt
// got.
func runHostile(t *testing.T, policy *sandbox.Policy, dir string) map[string]string {
	t.Helper()
	hostileOnce.Do(func() {
		out, err := os.MkdirTemp("", "runner-hostile")
		if err != nil {
			hostileErr = err
			return
		}
		hostileBin = filepath.Join(out, "hostile")
		b, err := exec.Command("go", "build", "-buildvcs=false", "-o", hostileBin, "../sandbox/testdata/hostile").CombinedOutput()
		if err != nil {
			hostileErr = fmt.Errorf("building the hostile program: %v\n%s", err, b)
		}
	})
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	data := filepath.Join(dir, "score.py")
	var log bytes.Buffer
	res, err := Run(context.Background(), Spec{
		Dir: dir, Command: []string{hostileBin}, Output: &log, HardLimit: time.Minute, Metric: "val_bpb",
		Env: []string{"HOSTILE_HOME=" + os.Getenv("HOME"), "HOSTILE_ADDR=127.0.0.1:1", "HOSTILE_UDP=127.0.0.1:1",
			"HOSTILE_HARNESS=" + dir, fmt.Sprintf("HOSTILE_PID=%d", os.Getpid()), "HOSTILE_DATA=" + data, "HOSTILE_ALLOC_MB=1"},
		Sandbox: policy, Scratch: filepath.Join(t.TempDir(), "scratch"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Crash != "" {
		t.Fatalf("the hostile program did not finish: %s (%s)\n%s", res.Crash, res.Reason, log.String())
	}
	return attempts(log.String())
}
