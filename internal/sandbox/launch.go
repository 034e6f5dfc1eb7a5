package sandbox

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// A binary that imports this package is a launcher: started as
// `BINARY sandbox-exec FLAGS -- PROGRAM ARGS` it confines itself and becomes
// PROGRAM before any command-line handling of its own runs (test binaries
// included, so the package's users test with the real launcher).
func init() {
	if len(os.Args) > 1 && os.Args[1] == Subcommand {
		os.Exit(launch(os.Args[2:]))
	}
}

// exitLaunch is the launcher's exit status when it could not start the
// program (as env(1) and container runtimes use 125).
const exitLaunch = 125

func launchFailed(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "autoresearch sandbox: "+format+"\n", args...)
	return exitLaunch
}

// The protections, as Support.Missing names them.
const (
	Filesystem     = "filesystem"
	Network        = "network"
	IPC            = "ipc"
	NoNewPrivs     = "no-new-privileges"
	ResourceLimits = "limits"
)

// Support is what this machine's kernel offers the launcher.
type Support struct {
	// Landlock is the kernel's Landlock ABI version; 0 when it has none.
	Landlock int
	// Namespace is why no user and network namespace could be made; nil
	// when one can.
	Namespace error
	// Root: the program runs as root, whom the kernel exempts from the
	// process limit.
	Root bool
}

// Missing lists the protections a run would lack, each as "name (why)".
func (s Support) Missing() []string {
	var m []string
	switch {
	case s.Landlock == 0:
		m = append(m, Filesystem+" (Landlock is not enabled in this kernel: it needs Linux 5.13+ with landlock in the lsm= boot list)")
	case s.Landlock < 3:
		m = append(m, fmt.Sprintf("%s (Landlock ABI %d cannot stop truncating readable files: it needs Linux 6.2+)", Filesystem, s.Landlock))
	}
	if s.Namespace != nil {
		why := "no network namespace without a user namespace (" + s.Namespace.Error() + ")"
		if s.Landlock >= 4 {
			why += "; TCP is still blocked by Landlock, other protocols are not"
		}
		m = append(m, Network+" ("+why+")")
	}
	if s.Landlock < 6 {
		m = append(m, fmt.Sprintf("%s (Landlock ABI %d does not stop signals to the harness: it needs Linux 6.12+)", IPC, s.Landlock))
	}
	switch {
	case s.Root:
		m = append(m, ResourceLimits+" (the kernel does not apply the process limit to root; memory and open files are limited)")
	case s.Namespace != nil:
		m = append(m, ResourceLimits+" (the process limit counts only within a user namespace; memory and open files are limited)")
	}
	return m
}

// String says in one line what a run gets.
func (s Support) String() string {
	got := fmt.Sprintf("Landlock ABI %d", s.Landlock)
	if s.Landlock == 0 {
		got = "no Landlock"
	}
	if s.Namespace == nil {
		got += ", user and network namespaces"
	} else {
		got += ", no namespaces"
	}
	if m := s.Missing(); len(m) > 0 {
		return got + "; missing: " + strings.Join(m, "; ")
	}
	return got + ": every protection (filesystem, network, ipc, no-new-privileges, limits)"
}

var (
	probeOnce sync.Once
	probed    Support
)

// Probe finds out what the kernel offers (once per process: it starts the
// launcher in a new namespace).
func Probe() Support {
	probeOnce.Do(func() { probed = probe() })
	return probed
}

// Check returns an error naming the missing protections when mode is strict
// and some are missing; otherwise the missing ones (auto) or nil (off).
func Check(m Mode) ([]string, error) {
	if m == Off {
		return nil, nil
	}
	missing := Probe().Missing()
	if m == Strict && len(missing) > 0 {
		return missing, fmt.Errorf("--sandbox strict: this machine cannot give a run every protection; missing: %s. Use --sandbox auto to run with the others",
			strings.Join(missing, "; "))
	}
	return missing, nil
}

// Warning is what a user should be told once, at start, about runs in mode
// m on a machine that lacks the protections missing (Check's): everything
// when off, the missing protections in auto mode; "" when nothing is missing.
func Warning(m Mode, missing []string) string {
	switch {
	case m == Off:
		return "WARNING: --sandbox off: the program runs unconfined with your privileges; it can read your files and credentials, reach the network and change the evaluation"
	case len(missing) > 0:
		return fmt.Sprintf("sandbox: runs of the program lack %s (--sandbox strict would refuse)", strings.Join(missing, "; "))
	}
	return ""
}

func launcher() (string, error) {
	if Launcher != "" {
		return Launcher, nil
	}
	return os.Executable()
}
