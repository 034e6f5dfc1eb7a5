package runner

import "syscall"

// procAttr puts the program in its own process group, so the whole group can
// be killed, and has the kernel kill it if the runner itself dies (SIGKILL of
// the research loop must not leave a training process behind).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
