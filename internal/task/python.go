package task

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"autoresearch/internal/sandbox"
)

// A run command that starts Python runs the user's own interpreter: a pyenv
// shim, a conda environment, a virtualenv. Such an interpreter usually lives
// in the home folder, where the sandbox lets the program read nothing. At
// setup, outside the sandbox, the interpreter is asked where it is
// (sys.executable) and what it loads (its prefixes and sys.path); the run
// command then starts that interpreter directly, a shim's script bypassed,
// with its folder first on PATH, and the sandbox lets the program execute
// it and read its installation: nothing else of the home folder.

// AllowedPath is a path outside the repository and the system's libraries
// that the task's runs may use, and why: found at setup, shown by doctor and
// kept in run.json.
type AllowedPath struct {
	Path string `json:"path"`
	// Exec: the program may execute the file; else it may read the file
	// or folder.
	Exec bool   `json:"exec,omitempty"`
	Why  string `json:"why"`
}

// AllowedReads and AllowedExecs are the task's allowed paths by kind.
func (t *Task) AllowedReads() []string { return t.allowed(false) }
func (t *Task) AllowedExecs() []string { return t.allowed(true) }

func (t *Task) allowed(exec bool) []string {
	var out []string
	for _, a := range t.Allowed {
		if a.Exec == exec {
			out = append(out, a.Path)
		}
	}
	return out
}

// Python is an interpreter's own account of its installation.
type Python struct {
	Executable     string   `json:"executable"`
	Prefix         string   `json:"prefix"`
	BasePrefix     string   `json:"base_prefix"`
	ExecPrefix     string   `json:"exec_prefix"`
	BaseExecPrefix string   `json:"base_exec_prefix"`
	Path           []string `json:"path"` // sys.path, without the script's folder
	SitePackages   []string `json:"site_packages"`
	UserSite       string   `json:"user_site"` // "" when the user site is off
	Version        string   `json:"version"`
}

// describe is what the interpreter runs to describe itself; it works with
// any Python 3 (sys.base_prefix came in 3.3, site.getsitepackages is missing
// from old virtualenvs).
const describe = `import sys, json
try:
    import site
    sp = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    user = site.getusersitepackages() if getattr(site, "ENABLE_USER_SITE", False) else ""
except Exception:
    sp, user = [], ""
print(json.dumps({"executable": sys.executable, "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix), "exec_prefix": sys.exec_prefix,
    "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
    "path": [p for p in sys.path[1:] if p], "site_packages": sp, "user_site": user,
    "version": "%d.%d.%d" % tuple(sys.version_info[:3])}))
`

// pythonName matches the names Python interpreters go by: python,
// python3, python3.12.
var pythonName = regexp.MustCompile(`^python[0-9.]*$`)

// IsPython reports whether a run command's program is a Python interpreter,
// by its name.
func IsPython(argv0 string) bool { return pythonName.MatchString(filepath.Base(argv0)) }

// DescribePython runs the interpreter prog (a path) in dir with env and
// returns its account of itself.
func DescribePython(ctx context.Context, prog, dir string, env []string) (*Python, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "-c", describe)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("asking %s where its installation is: %v: %s", prog, err, strings.TrimSpace(stderr.String()))
	}
	var py Python
	if err := json.Unmarshal(out, &py); err != nil {
		return nil, fmt.Errorf("asking %s where its installation is: it printed %q", prog, bytes.TrimSpace(out))
	}
	if !filepath.IsAbs(py.Executable) {
		return nil, fmt.Errorf("asking %s where its installation is: it does not know its own path (sys.executable %q)", prog, py.Executable)
	}
	return &py, nil
}

// AllowPython resolves the run command's interpreter when it is Python and
// lets the task's runs use it (see the top of this file): it sets Allowed,
// starts the interpreter by its path, and puts its folder first on the
// run's PATH. root is the user's repository (where a relative program, like
// .venv/bin/python, is found and where the interpreter is asked, so that a
// pyenv .python-version there counts); env is the environment the
// interpreter is asked in, the run's; lookPath nil searches env's PATH. It
// reports whether the program is a Python found; an error means it could
// not be asked, and the task is left as it was.
func (t *Task) AllowPython(ctx context.Context, root string, env []string, lookPath func(string) (string, error)) (bool, error) {
	if len(t.Run.Argv) == 0 || !IsPython(t.Run.Argv[0]) || strings.Contains(t.Run.Argv[0], "{") {
		return false, nil
	}
	if lookPath == nil {
		lookPath = func(name string) (string, error) { return lookPathIn(name, pathOf(nil, env)) }
	}
	name := t.Run.Argv[0]
	found := name
	switch {
	case !strings.Contains(name, "/"):
		p, err := lookPath(name)
		if err != nil {
			return false, nil // CheckRepo says so
		}
		found = p
	case !filepath.IsAbs(name):
		found = filepath.Join(root, filepath.FromSlash(name))
	}
	py, err := DescribePython(ctx, found, root, env)
	if err != nil {
		return true, err
	}
	t.Allowed = pythonAllowed(name, found, py)
	if !strings.Contains(name, "/") {
		// The interpreter itself, not a shim: a shim runs its version
		// manager's scripts from the home folder, and the night runs the
		// one interpreter that was allowed.
		t.Run.Argv = append([]string{py.Executable}, t.Run.Argv[1:]...)
	}
	t.Run.Env = sortEnv(append(t.Run.Env, "PATH="+filepath.Dir(py.Executable)+string(os.PathListSeparator)+pathOf(t.Run.Env, env)))
	return true, nil
}

// lookPathIn finds the executable name in the folders of path, as
// exec.LookPath does in $PATH.
func lookPathIn(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("%s is not on PATH", name)
}

// pathOf is the PATH the task's env sets, else env's.
func pathOf(taskEnv, env []string) string {
	for _, e := range [][]string{taskEnv, env} {
		for i := len(e) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(e[i], "PATH="); ok {
				return v
			}
		}
	}
	return ""
}

// sharedPrefixes are installation prefixes that hold far more than Python:
// the system's. The interpreter's own folders under them are allowed, not
// the prefix.
var sharedPrefixes = map[string]bool{"/": true, "/usr": true, "/usr/local": true}

// pythonAllowed lists what an interpreter run as name (found at found) needs:
// its executable, its installation (prefix, base prefix) and the folders of
// its sys.path that are elsewhere. Paths the sandbox's system policy reads
// already, and paths inside an allowed folder, are left out.
func pythonAllowed(name, found string, py *Python) []AllowedPath {
	real, err := filepath.EvalSymlinks(py.Executable)
	if err != nil {
		real = py.Executable
	}
	how := ""
	if found != real {
		how = fmt.Sprintf(", reached as %s", found)
	}
	allowed := []AllowedPath{{Path: real, Exec: true, Why: fmt.Sprintf("%s: the interpreter the run command starts (Python %s%s)", name, py.Version, how)}}
	system := sandbox.System(sandbox.Auto).Read
	var reads []string
	covered := func(p string) bool {
		for _, dir := range append(append([]string(nil), system...), reads...) {
			if within(p, dir) {
				return true
			}
		}
		return false
	}
	add := func(p, why string) {
		p = filepath.Clean(p)
		if !filepath.IsAbs(p) || covered(p) {
			return
		}
		if _, err := os.Stat(p); err != nil {
			return
		}
		// A folder allowed now covers the ones allowed before inside it.
		allowed = slices.DeleteFunc(allowed, func(a AllowedPath) bool { return !a.Exec && within(a.Path, p) })
		reads = slices.DeleteFunc(reads, func(r string) bool { return within(r, p) })
		reads = append(reads, p)
		allowed = append(allowed, AllowedPath{Path: p, Why: why})
	}
	venv := py.Prefix != py.BasePrefix
	for _, pf := range []struct{ path, why string }{
		{py.Prefix, name + "'s installation (sys.prefix)"},
		{py.ExecPrefix, name + "'s installation (sys.exec_prefix)"},
		{py.BasePrefix, name + "'s base installation (sys.base_prefix)"},
		{py.BaseExecPrefix, name + "'s base installation (sys.base_exec_prefix)"},
	} {
		if venv && pf.path == py.Prefix {
			pf.why = name + "'s virtual environment (sys.prefix)"
		}
		if !sharedPrefixes[filepath.Clean(pf.path)] {
			add(pf.path, pf.why)
		}
	}
	for _, p := range py.SitePackages {
		add(p, name+"'s site-packages")
	}
	if py.UserSite != "" {
		add(py.UserSite, name+"'s user site-packages (pip install --user)")
	}
	for _, p := range py.Path {
		add(p, "on "+name+"'s sys.path")
	}
	return allowed
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}
