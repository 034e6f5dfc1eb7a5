//go:build unix && !linux

package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// launch runs the program unconfined: Landlock and the namespaces are
// Linux's. Strict mode refuses.
func launch(args []string) int {
	if len(args) == 1 && args[0] == "-probe" {
		return 0
	}
	p, argv, err := parseLine(args)
	if err != nil {
		return launchFailed("%v", err)
	}
	if p.Mode == Strict {
		return launchFailed("refusing to run unconfined (--sandbox strict): the sandbox needs Linux")
	}
	prog, err := exec.LookPath(argv[0])
	if err != nil {
		return launchFailed("%v", err)
	}
	err = syscall.Exec(prog, argv, os.Environ())
	return launchFailed("starting %s: %v", prog, err)
}

// WrapLocal is Wrap: there are no namespaces to make.
func WrapLocal(p Policy, argv []string, attr *syscall.SysProcAttr) ([]string, error) {
	return Wrap(p, argv)
}

func probe() Support {
	return Support{Namespace: errors.New("namespaces are Linux's")}
}
