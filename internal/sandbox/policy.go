package sandbox

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Mode says how much confinement a run insists on.
type Mode string

const (
	Strict Mode = "strict" // refuse to run without every protection
	Auto   Mode = "auto"   // use every protection the kernel offers
	Off    Mode = "off"    // no sandbox at all (debugging)
)

// ParseMode reads a --sandbox value; empty means auto.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Strict, Auto, Off:
		return Mode(s), nil
	case "":
		return Auto, nil
	}
	return "", fmt.Errorf("unknown sandbox mode %q: use strict, auto or off", s)
}

// Limits are the resource limits of a run; a zero field means no limit.
type Limits struct {
	// MemoryMB bounds the program's data segment (heap and anonymous
	// memory, RLIMIT_DATA): an allocation past it fails with ENOMEM.
	// Address-space reservations (RLIMIT_AS would count them) are free,
	// so Go's arenas and the CUDA driver's mappings work as usual.
	MemoryMB int64 `json:"memory_mb,omitempty"`
	// Processes bounds processes and threads (RLIMIT_NPROC), counted
	// within the run's user namespace.
	Processes int64 `json:"processes,omitempty"`
	// OpenFiles bounds file descriptors (RLIMIT_NOFILE).
	OpenFiles int64 `json:"open_files,omitempty"`
}

// Policy is what one run of a program may do. Paths are absolute; a missing
// one is skipped.
type Policy struct {
	Mode Mode
	// Read lists files and folders the program may read (not execute).
	Read []string
	// Write lists folders it may read and write: its scratch folder.
	Write []string
	// Exec lists files it may execute besides its own program, whose
	// loader or interpreter the launcher adds by itself.
	Exec []string
	// Devices lists device files it may read, write and control (ioctl).
	Devices []string
	Limits  Limits
}

// System returns a policy in mode m that lets a program load its libraries
// and read what a process reads at start (the C library's files, /proc of
// its own process, CPU information, /dev/null and the random devices), and
// nothing else.
func System(m Mode) Policy {
	return Policy{
		Mode: m,
		Read: []string{
			"/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/lib", "/lib32", "/lib64", "/usr/share/zoneinfo",
			"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf",
			"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/ssl", "/etc/alternatives",
			"/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/sys/kernel",
			"/sys/devices/system/cpu", "/sys/devices/system/node", "/sys/fs/cgroup", "/sys/kernel/mm/transparent_hugepage",
			"/dev/zero", "/dev/urandom", "/dev/random",
		},
		Devices: []string{"/dev/null", "/dev/full"},
	}
}

// AddCUDA lets the program use the GPUs: the toolkit under cudaHome (read),
// the driver's files in /proc and /sys, the kernel cache (read: a program
// cannot plant kernels for the next run; a kernel missing from it is
// compiled again, which costs only time) and /dev/nvidia* (read, write,
// ioctl).
func (p *Policy) AddCUDA(cudaHome, kernelCache string) {
	p.Read = append(p.Read, cudaHome, kernelCache, "/proc/driver/nvidia", "/sys", "/usr/local/nvidia")
	devs, _ := filepath.Glob("/dev/nvidia*")
	caps, _ := filepath.Glob("/dev/nvidia-caps/*")
	p.Devices = append(p.Devices, append(devs, caps...)...)
}

// Subcommand is the hidden first argument under which a binary that imports
// this package acts as the launcher.
const Subcommand = "sandbox-exec"

// Launcher is the binary Wrap puts first; empty means this executable. It
// must import this package (every autoresearch binary and test binary that
// runs programs does, through the runner).
var Launcher string

// Wrap returns the command line that runs argv under p: the launcher, its
// subcommand, the policy as flags, "--", then argv. The line is complete: a
// Slurm job script can run it as it is. In mode off it returns argv.
func Wrap(p Policy, argv []string) ([]string, error) {
	if len(argv) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	if p.Mode == Off {
		return argv, nil
	}
	if _, err := ParseMode(string(p.Mode)); err != nil {
		return nil, err
	}
	self, err := launcher()
	if err != nil {
		return nil, fmt.Errorf("sandbox: finding the launcher: %w", err)
	}
	line := []string{self, Subcommand}
	line = append(line, p.flags()...)
	return append(append(line, "--"), argv...), nil
}

func (p Policy) flags() []string {
	mode := string(p.Mode)
	if mode == "" {
		mode = string(Auto)
	}
	f := []string{"-mode=" + mode}
	for _, l := range []struct {
		name  string
		paths []string
	}{{"read", p.Read}, {"write", p.Write}, {"exec", p.Exec}, {"dev", p.Devices}} {
		for _, path := range l.paths {
			f = append(f, "-"+l.name+"="+path)
		}
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{"mem", p.Limits.MemoryMB}, {"nproc", p.Limits.Processes}, {"nofile", p.Limits.OpenFiles}} {
		if l.v > 0 {
			f = append(f, "-"+l.name+"="+strconv.FormatInt(l.v, 10))
		}
	}
	return f
}

// parseLine reads what Wrap wrote after the subcommand: the policy, then the
// program's argv after "--".
func parseLine(args []string) (Policy, []string, error) {
	var p Policy
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	mode := fs.String("mode", string(Auto), "strict, auto or off")
	fs.Var((*list)(&p.Read), "read", "a file or folder to read")
	fs.Var((*list)(&p.Write), "write", "a folder to read and write")
	fs.Var((*list)(&p.Exec), "exec", "a file to execute")
	fs.Var((*list)(&p.Devices), "dev", "a device file to use")
	fs.Int64Var(&p.Limits.MemoryMB, "mem", 0, "memory limit in MB")
	fs.Int64Var(&p.Limits.Processes, "nproc", 0, "process limit")
	fs.Int64Var(&p.Limits.OpenFiles, "nofile", 0, "open file limit")
	if err := fs.Parse(args); err != nil {
		return p, nil, fmt.Errorf("%s: %v", Subcommand, err)
	}
	var err error
	if p.Mode, err = ParseMode(*mode); err != nil {
		return p, nil, err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return p, nil, fmt.Errorf("%s: no program to run: use %s [flags] -- PROGRAM ARGS", Subcommand, Subcommand)
	}
	return p, argv, nil
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }
