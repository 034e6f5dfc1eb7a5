package testfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Python installations a user may have, made in a test's folders from
// the system's interpreter: a conda-style prefix, a pyenv-style shim and a
// virtualenv. Each is real: its interpreter runs and reports its own prefix.

// SystemPython is the system's Python 3 interpreter (/usr/bin/python3),
// whose standard library the sandbox reads with the system's libraries; the
// test is skipped without one.
func SystemPython(t testing.TB) string {
	t.Helper()
	const p = "/usr/bin/python3"
	if _, err := os.Stat(p); err != nil {
		t.Skip("no /usr/bin/python3: install Debian's python3 (scripts/python-deps.sh)")
	}
	return p
}

// pythonLayout is what an interpreter says of its version and standard
// library.
func pythonLayout(t testing.TB, python string) (version, stdlib string) {
	t.Helper()
	out, err := exec.Command(python, "-c", `import sys, sysconfig; print("%d.%d" % sys.version_info[:2]); print(sysconfig.get_path("stdlib"))`).Output()
	if err != nil {
		t.Fatalf("%s: %v", python, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%s printed %q", python, out)
	}
	return lines[0], lines[1]
}

// PythonPrefix makes prefix a conda-style installation of python's version:
// bin/pythonX.Y a copy of python's executable, bin/python3 a link to it,
// lib/pythonX.Y a folder of links to python's standard library (its
// packages left out), plus each
// module of modules (name → source) as a file of its own there. It returns
// the prefix's bin/python3.
func PythonPrefix(t testing.TB, python, prefix string, modules map[string]string) string {
	t.Helper()
	version, stdlib := pythonLayout(t, python)
	real, err := filepath.EvalSymlinks(python)
	if err != nil {
		t.Fatal(err)
	}
	bin, lib := filepath.Join(prefix, "bin"), filepath.Join(prefix, "lib", "python"+version)
	MkdirAll(t, bin, 0o755)
	MkdirAll(t, lib, 0o755)
	exe := ReadFile(t, real)
	WriteFile(t, filepath.Join(bin, "python"+version), exe, 0o755)
	Symlink(t, "python"+version, filepath.Join(bin, "python3"))
	entries, err := os.ReadDir(stdlib)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		// The installation's packages are its own: the system's stay out.
		if e.Name() == "site-packages" || e.Name() == "dist-packages" {
			continue
		}
		Symlink(t, filepath.Join(stdlib, e.Name()), filepath.Join(lib, e.Name()))
	}
	for name, src := range modules {
		WriteFile(t, filepath.Join(lib, name+".py"), []byte(src), 0o644)
	}
	return filepath.Join(bin, "python3")
}

// PyenvShim writes home/.pyenv/shims/python3, a shell script that runs
// interpreter as a version manager's shim does, and returns the shims
// folder (for PATH).
func PyenvShim(t testing.TB, home, interpreter string) string {
	t.Helper()
	shims := filepath.Join(home, ".pyenv", "shims")
	MkdirAll(t, shims, 0o755)
	script := fmt.Sprintf("#!/bin/sh\n# pyenv-style shim: the version is chosen, then its interpreter runs\nexec %q \"$@\"\n", interpreter)
	WriteFile(t, filepath.Join(shims, "python3"), []byte(script), 0o755)
	return shims
}

// Venv makes a virtualenv at dir with python -m venv (without pip; with the
// system's site-packages, where Debian's python3-* packages are), puts each
// module of modules in its own site-packages, and returns its bin/python.
func Venv(t testing.TB, python, dir string, modules map[string]string) string {
	t.Helper()
	if out, err := exec.Command(python, "-m", "venv", "--without-pip", "--system-site-packages", dir).CombinedOutput(); err != nil {
		t.Skipf("%s -m venv: %v: %s (install python3-venv: scripts/python-deps.sh)", python, err, out)
	}
	py := filepath.Join(dir, "bin", "python")
	out, err := exec.Command(py, "-c", `import sysconfig; print(sysconfig.get_path("purelib"))`).Output()
	if err != nil {
		t.Fatalf("%s: %v", py, err)
	}
	site := strings.TrimSpace(string(out))
	MkdirAll(t, site, 0o755)
	for name, src := range modules {
		WriteFile(t, filepath.Join(site, name+".py"), []byte(src), 0o644)
	}
	return py
}
