package main

import (
	"strings"

	"autoresearch/harness"
	"autoresearch/internal/sandbox"
)

// sandboxMode reads --sandbox and finds the protections this machine lacks;
// in strict mode a missing one is an error, before anything is set up.
func sandboxMode(flag string) (sandbox.Mode, []string, error) {
	m, err := sandbox.ParseMode(flag)
	if err != nil {
		return "", nil, usagef("--sandbox: %v", err)
	}
	missing, err := sandbox.Check(m)
	return m, missing, err
}

// announceSandbox says once, at start, what the runs will lack: everything
// when off (loudly), the missing protections in auto mode.
func announceSandbox(logf func(string, ...any), m sandbox.Mode, missing []string) {
	switch {
	case m == sandbox.Off:
		logf("WARNING: --sandbox off: the training program runs unconfined with your privileges; it can read your files and credentials, reach the network and change the harness")
	case len(missing) > 0:
		logf("sandbox: runs of the training program lack %s (--sandbox strict would refuse)", strings.Join(missing, "; "))
	}
}

// profileLimits are a profile's resource limits in the sandbox: room for
// the model the profile trains several times over, so that only a runaway
// program meets them.
func profileLimits(p harness.Profile) sandbox.Limits {
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
