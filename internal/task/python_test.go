package task

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"autoresearch/internal/testfs"
)

func TestIsPython(t *testing.T) {
	for name, want := range map[string]bool{"python": true, "python3": true, "python3.12": true, ".venv/bin/python": true,
		"/usr/bin/python3": true, "pythonista": false, "go": false, "{bin}": false, "ipython": false} {
		if IsPython(name) != want {
			t.Errorf("IsPython(%q) = %v", name, !want)
		}
	}
}

// pythonTask is a task running python3 score.py, allowed its interpreter in
// home with PATH.
func pythonTask(t *testing.T, argv0, root, home, path string) *Task {
	t.Helper()
	tk := &Task{Run: Command{Argv: []string{argv0, "score.py"}}}
	tk.Finish()
	env := []string{"HOME=" + home, "PATH=" + path}
	py, err := tk.AllowPython(context.Background(), root, env, nil)
	if err != nil || !py {
		t.Fatalf("AllowPython: %v, %v", py, err)
	}
	return tk
}

// checkAllowed checks that everything allowed of home is inside install and
// that the allowed interpreter is one file.
func checkAllowed(t *testing.T, tk *Task, home, install string) {
	t.Helper()
	if len(tk.AllowedExecs()) != 1 {
		t.Errorf("executables allowed: %v, want the interpreter alone", tk.AllowedExecs())
	}
	inside := false
	for _, a := range tk.Allowed {
		if a.Why == "" {
			t.Errorf("%s is allowed without a reason", a.Path)
		}
		if within(a.Path, home) && !within(a.Path, install) {
			t.Errorf("%s is allowed, outside the installation %s: %s", a.Path, install, a.Why)
		}
		inside = inside || !a.Exec && a.Path == install
	}
	if !inside {
		t.Errorf("the installation %s is not allowed: %+v", install, tk.Allowed)
	}
}

func runPath(tk *Task) string {
	for _, kv := range tk.Run.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return ""
}

// A pyenv-style shim in the home folder: the run command starts the
// interpreter the shim runs, whose installation is allowed, not the shim.
func TestAllowPythonBehindAShim(t *testing.T) {
	system := testfs.SystemPython(t)
	home := t.TempDir()
	version := filepath.Join(home, ".pyenv", "versions", "3.x")
	testfs.PythonPrefix(t, system, version, nil)
	shims := testfs.PyenvShim(t, home, filepath.Join(version, "bin", "python3"))
	tk := pythonTask(t, "python3", t.TempDir(), home, shims+":/usr/bin:/bin")
	if got := tk.Run.Argv[0]; got != filepath.Join(version, "bin", "python3") {
		t.Errorf("the run command starts %s, want the interpreter behind the shim", got)
	}
	if p := runPath(tk); !strings.HasPrefix(p, filepath.Join(version, "bin")+":") || !strings.Contains(p, shims) {
		t.Errorf("the run's PATH is %q, want the interpreter's folder first, then the user's PATH", p)
	}
	checkAllowed(t, tk, home, version)
	for _, a := range tk.Allowed {
		if within(a.Path, filepath.Join(home, ".pyenv", "shims")) {
			t.Errorf("the shim is allowed: %+v", a)
		}
	}
	if !strings.Contains(tk.Allowed[0].Why, "reached as "+filepath.Join(shims, "python3")) {
		t.Errorf("the interpreter's reason does not name the shim: %s", tk.Allowed[0].Why)
	}
}

// A conda-style environment first on PATH: its prefix is allowed, the
// system's prefix is not (its standard library is read as a system library).
func TestAllowPythonOfACondaPrefix(t *testing.T) {
	system := testfs.SystemPython(t)
	home := t.TempDir()
	env := filepath.Join(home, "miniconda3", "envs", "forecast")
	testfs.PythonPrefix(t, system, env, map[string]string{"condamod": "X = 1\n"})
	tk := pythonTask(t, "python3", t.TempDir(), home, filepath.Join(env, "bin")+":/usr/bin:/bin")
	if got := tk.Run.Argv[0]; got != filepath.Join(env, "bin", "python3") {
		t.Errorf("the run command starts %s", got)
	}
	checkAllowed(t, tk, home, env)
	for _, a := range tk.Allowed {
		if a.Path == "/usr" || a.Path == "/" {
			t.Errorf("a shared prefix is allowed: %+v", a)
		}
	}
}

// A repository's own untracked .venv, named by its path: the command stays
// as written (it runs the clone's link to the venv), the venv is allowed.
func TestAllowPythonOfARepositorysVenv(t *testing.T) {
	system := testfs.SystemPython(t)
	home := t.TempDir()
	repo := filepath.Join(home, "forecast")
	venv := filepath.Join(repo, ".venv")
	testfs.Venv(t, system, venv, nil)
	tk := pythonTask(t, ".venv/bin/python", repo, home, "/usr/bin:/bin")
	if got := tk.Run.Argv[0]; got != ".venv/bin/python" {
		t.Errorf("the run command starts %s, want .venv/bin/python as written", got)
	}
	checkAllowed(t, tk, home, venv)
	if p := runPath(tk); !strings.HasPrefix(p, filepath.Join(venv, "bin")+":") {
		t.Errorf("the run's PATH is %q, want the venv's bin first", p)
	}
	var why string
	for _, a := range tk.Allowed {
		if a.Path == venv {
			why = a.Why
		}
	}
	if !strings.Contains(why, "virtual environment") {
		t.Errorf("the venv is allowed as %q", why)
	}
}

// A program that is not Python, or not there, is left alone.
func TestAllowPythonLeavesOtherProgramsAlone(t *testing.T) {
	for _, argv0 := range []string{"sh", "{bin}", "python-that-is-not-installed"} {
		tk := &Task{Run: Command{Argv: []string{argv0}}}
		py, err := tk.AllowPython(context.Background(), t.TempDir(), os.Environ(), nil)
		if py || err != nil || tk.Allowed != nil || tk.Run.Argv[0] != argv0 || tk.Run.Env != nil {
			t.Errorf("%s: %v %v %+v", argv0, py, err, tk)
		}
	}
}

// An interpreter that cannot say where it is leaves the task as it was,
// with an error that names it.
func TestAllowPythonOfABrokenInterpreter(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "python3")
	testfs.WriteFile(t, broken, []byte("#!/bin/sh\necho 'no such version' >&2\nexit 1\n"), 0o755)
	tk := &Task{Run: Command{Argv: []string{"python3", "score.py"}}}
	py, err := tk.AllowPython(context.Background(), dir, []string{"PATH=" + dir}, func(string) (string, error) { return broken, nil })
	if !py || err == nil || !strings.Contains(err.Error(), broken) || !strings.Contains(err.Error(), "no such version") {
		t.Fatalf("%v %v", py, err)
	}
	if tk.Allowed != nil || tk.Run.Argv[0] != "python3" {
		t.Errorf("the task changed: %+v", tk)
	}
}
