package task

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"autoresearch/internal/gitops"
)

// Tool is a program a task's commands start by name, as PATH finds it.
type Tool struct {
	Name string
	Path string // empty when not found
	Err  error  // why it was not found
	// InHome says the program is in the user's home folder, where the
	// sandbox lets the program read nothing (a version manager's shim).
	InHome bool
}

// Tools finds the programs the build and run commands start by name (a
// path, like {bin} or ./run.sh, is the repository's own or the build's);
// lookPath nil is exec.LookPath.
func (t *Task) Tools(lookPath func(string) (string, error)) []Tool {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	home, herr := os.UserHomeDir()
	var tools []Tool
	seen := map[string]bool{}
	for _, argv := range [][]string{t.Build.Argv, t.Run.Argv} {
		if len(argv) == 0 || strings.ContainsAny(argv[0], "/{") || seen[argv[0]] {
			continue
		}
		seen[argv[0]] = true
		p, err := lookPath(argv[0])
		tl := Tool{Name: argv[0], Path: p, Err: err}
		tl.InHome = err == nil && herr == nil && strings.HasPrefix(p, home+string(filepath.Separator))
		tools = append(tools, tl)
	}
	return tools
}

// CheckRepo checks what a new run of the task needs in the repository whose
// top folder is root: the task's own file (for a task file) and the editable
// files committed (the run works on a clone of HEAD), and the programs its
// commands start on PATH. note is told of uncommitted changes and of a
// program in the home folder; a problem is the error.
func (t *Task) CheckRepo(root string, sandboxed bool, note func(string, ...any)) error {
	paths := t.Editable
	if t.Source == File {
		paths = append([]string{File}, paths...)
	}
	for _, p := range paths {
		committed, err := gitops.FileAtHead(root, p)
		if err != nil {
			return fmt.Errorf("%s is not committed in %s: the run works on a clone of your HEAD, so commit it (and the files the task runs) first", p, root)
		}
		if cur, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p))); err == nil && !bytes.Equal(cur, committed) {
			note("note: %s has uncommitted changes; the run starts from the committed version (commit first to include them)", p)
		}
	}
	for _, tl := range t.Tools(nil) {
		switch {
		case tl.Err != nil:
			return fmt.Errorf("the task runs %s, which is not on PATH: install it, or change the task's commands", tl.Name)
		case tl.InHome && sandboxed:
			note("note: %s is %s, in your home folder, where the sandbox lets the program read nothing: if the baseline fails with \"Permission denied\", put a system %s first on PATH or pass --sandbox off", tl.Name, tl.Path, tl.Name)
		}
	}
	return nil
}
