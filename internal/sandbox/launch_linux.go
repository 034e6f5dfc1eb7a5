package sandbox

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// launch is the launcher. The first stage (outer) starts the second (inner)
// in a new user and network namespace and passes on its exit; the inner
// stage confines itself and executes the program. Without namespaces (auto
// mode) the outer stage confines itself instead.
func launch(args []string) int {
	if len(args) == 1 && args[0] == "-probe" {
		return 0
	}
	inner := len(args) > 0 && args[0] == "-inner"
	if inner {
		args = args[1:]
	}
	p, argv, err := parseLine(args)
	if err != nil {
		return launchFailed("%v", err)
	}
	if !inner {
		code, err := runInNamespace(args)
		if err == nil {
			return code
		}
		if p.Mode == Strict {
			return launchFailed("refusing to run without a network namespace (--sandbox strict): %v", err)
		}
	}
	return confineAndExec(p, argv, inner)
}

// WrapLocal is Wrap for a program this process starts itself with attr: the
// new namespaces are made as it starts (attr gets the clone flags and the id
// maps), which saves the launcher's first stage, one start of this binary.
// Without namespaces it returns Wrap's line and leaves attr alone.
func WrapLocal(p Policy, argv []string, attr *syscall.SysProcAttr) ([]string, error) {
	line, err := Wrap(p, argv)
	if err != nil || p.Mode == Off || Probe().Namespace != nil {
		return line, err
	}
	setNamespaces(attr)
	return append([]string{line[0], Subcommand, "-inner"}, line[2:]...), nil
}

// setNamespaces makes attr start a process in a new user namespace (the
// caller's uid and gid mapped to themselves) and a new, empty network
// namespace.
func setNamespaces(attr *syscall.SysProcAttr) {
	uid, gid := os.Getuid(), os.Getgid()
	attr.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
}

// runInNamespace runs the inner stage in a new user namespace (the caller's
// uid and gid mapped to themselves) and a new, empty network namespace. It
// returns the inner stage's exit status; a stage killed by a signal kills
// this process with the same signal. An error means no namespace could be
// made and nothing ran.
func runInNamespace(args []string) (int, error) {
	// The kernel sends the parent-death signal when the thread that
	// started the child exits: keep it.
	runtime.LockOSThread()
	cmd := exec.Command("/proc/self/exe", append([]string{Subcommand, "-inner"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	setNamespaces(cmd.SysProcAttr)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	if err := cmd.Start(); err != nil {
		signal.Stop(sigs)
		return 0, namespaceError(err)
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err != nil && !ok {
		return launchFailed("waiting for the program: %v", err), nil
	}
	if ws.Signaled() {
		signal.Reset(ws.Signal())
		syscall.Kill(os.Getpid(), ws.Signal())
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// namespaceError says why a namespace could not be made, in words a user
// can act on.
func namespaceError(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EPERM, syscall.EACCES:
			return fmt.Errorf("unprivileged user namespaces are not allowed here (%v): see sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces or kernel.apparmor_restrict_unprivileged_userns", err)
		case syscall.EINVAL, syscall.ENOSYS:
			return fmt.Errorf("this kernel has no user or network namespaces (%v)", err)
		case syscall.ENOSPC, syscall.EUSERS:
			return fmt.Errorf("the limit on user namespaces is reached (%v): raise sysctl user.max_user_namespaces", err)
		}
	}
	return err
}

// confineAndExec applies the limits, no_new_privs and the Landlock rules to
// this process and executes the program. It returns only on failure.
func confineAndExec(p Policy, argv []string, inNamespace bool) int {
	prog, err := exec.LookPath(argv[0])
	if err == nil {
		prog, err = filepath.Abs(prog)
	}
	if err != nil {
		return launchFailed("%v", err)
	}
	abi, _ := ll.LandlockGetABIVersion()
	if p.Mode == Strict {
		s := Support{Landlock: abi, Root: os.Getuid() == 0}
		if m := s.Missing(); len(m) > 0 {
			return launchFailed("refusing to run without every protection (--sandbox strict): missing %s", strings.Join(m, "; "))
		}
	}
	if err := setLimits(p.Limits, inNamespace); err != nil {
		return launchFailed("%v", err)
	}
	// Landlock's rules belong to the thread that enforces them; execve
	// from the same thread hands them to the program.
	runtime.LockOSThread()
	fd, flags, err := landlock.V11.BestEffort().NewRulesetFD(rules(p, prog, abi)...)
	if err != nil {
		return launchFailed("preparing the Landlock rules: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return launchFailed("setting no_new_privs: %v", err)
	}
	if fd >= 0 {
		if err := ll.LandlockRestrictSelf(fd, flags); err != nil {
			return launchFailed("enforcing the Landlock rules: %v", err)
		}
		syscall.Close(fd)
	}
	err = syscall.Exec(prog, argv, os.Environ())
	return launchFailed("starting %s: %v", prog, err)
}

func setLimits(l Limits, inNamespace bool) error {
	set := func(what string, res int, v int64) error {
		if v <= 0 {
			return nil
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("reading the %s limit: %w", what, err)
		}
		// A limit can be lowered, never raised without privilege.
		lim := uint64(v)
		if cur.Max < lim {
			lim = cur.Max
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: lim, Max: lim}); err != nil {
			return fmt.Errorf("setting the %s limit to %d: %w", what, lim, err)
		}
		return nil
	}
	if err := set("memory", unix.RLIMIT_DATA, l.MemoryMB<<20); err != nil {
		return err
	}
	if err := set("open files", unix.RLIMIT_NOFILE, l.OpenFiles); err != nil {
		return err
	}
	if err := set("core file", unix.RLIMIT_CORE, 0); err != nil {
		return err
	}
	// Outside a user namespace RLIMIT_NPROC counts every process of the
	// user, the caller's own included: it would fail the program at random.
	if inNamespace {
		return set("process", unix.RLIMIT_NPROC, l.Processes)
	}
	return nil
}

// The Landlock rights of each kind of path.
const (
	readFile  = ll.AccessFSReadFile
	readDir   = ll.AccessFSReadFile | ll.AccessFSReadDir
	writeDir  = readDir | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSMakeReg | ll.AccessFSMakeDir | ll.AccessFSRemoveFile | ll.AccessFSRemoveDir | ll.AccessFSMakeSym | ll.AccessFSMakeFifo | ll.AccessFSMakeSock
	execFile  = ll.AccessFSExecute | ll.AccessFSReadFile
	useDevice = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSIoctlDev
)

// rules turns the policy into Landlock rules. Folders and files need
// different rights (a folder's right to list it is invalid on a file), so
// each path is looked at; a missing one is left out. No network rule: every
// TCP connect and bind is denied.
func rules(p Policy, prog string, abi int) []landlock.Rule {
	var rs []landlock.Rule
	add := func(dirRights, fileRights landlock.AccessFSSet, paths []string) {
		for _, path := range paths {
			fi, err := os.Stat(path)
			switch {
			case err != nil:
			case fi.IsDir() && dirRights != 0:
				rs = append(rs, landlock.PathAccess(dirRights, path).IgnoreIfMissing())
			case !fi.IsDir():
				rs = append(rs, landlock.PathAccess(fileRights, path).IgnoreIfMissing())
			}
		}
	}
	write := landlock.AccessFSSet(writeDir)
	if abi >= 2 {
		write |= ll.AccessFSRefer // renames between folders of the scratch
	}
	add(readDir, readFile, p.Read)
	add(write, readFile|ll.AccessFSWriteFile|ll.AccessFSTruncate, p.Write)
	add(0, execFile, append(append([]string{prog}, interpreters(prog, 0)...), p.Exec...))
	add(0, useDevice, p.Devices)
	return rs
}

// interpreters returns what the kernel runs to execute prog: the dynamic
// loader of an ELF binary, the interpreter of a script (and, for
// `#!/usr/bin/env NAME`, NAME found on PATH).
func interpreters(prog string, depth int) []string {
	if depth > 2 {
		return nil
	}
	f, err := os.Open(prog)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, []byte("#!")) {
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			return nil
		}
		out := append([]string{fields[0]}, interpreters(fields[0], depth+1)...)
		if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
			if p, err := exec.LookPath(fields[1]); err == nil {
				out = append(append(out, p), interpreters(p, depth+1)...)
			}
		}
		return out
	}
	e, err := elf.NewFile(f)
	if err != nil {
		return nil
	}
	for _, ph := range e.Progs {
		if ph.Type == elf.PT_INTERP {
			b := make([]byte, ph.Filesz)
			if _, err := ph.ReadAt(b, 0); err == nil {
				return []string{string(bytes.TrimRight(b, "\x00"))}
			}
		}
	}
	return nil
}

// probe finds the Landlock ABI and tries a user and network namespace by
// starting the launcher in one.
func probe() Support {
	s := Support{Root: os.Getuid() == 0}
	s.Landlock, _ = ll.LandlockGetABIVersion()
	self, err := launcher()
	if err != nil {
		s.Namespace = err
		return s
	}
	cmd := exec.Command(self, Subcommand, "-probe")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setNamespaces(cmd.SysProcAttr)
	if out, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.Namespace = fmt.Errorf("the launcher failed in a namespace: %v: %s", err, bytes.TrimSpace(out))
		} else {
			s.Namespace = namespaceError(err)
		}
	}
	return s
}
