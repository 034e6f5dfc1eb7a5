//go:build unix && !linux

package runner

import "syscall"

// procAttr puts the program in its own process group, so the whole group can
// be killed.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
