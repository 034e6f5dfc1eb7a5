// Command hostile is a training program that breaks every rule of the
// sandbox, reports what each attempt got, then finishes its "training" and
// prints a summary. The sandbox's tests run it confined and unconfined.
//
// Its environment names the targets: HOSTILE_HOME (a home folder with
// credentials in .aws and a key in .ssh), HOSTILE_ADDR (a TCP listener on loopback),
// HOSTILE_UDP (a UDP socket on loopback),
// HOSTILE_HARNESS (a folder of the harness), HOSTILE_PID (the harness's
// process), HOSTILE_DATA (a data file it may read) and HOSTILE_ALLOC_MB.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	home := os.Getenv("HOSTILE_HOME")
	pid, _ := strconv.Atoi(os.Getenv("HOSTILE_PID"))
	allocMB, _ := strconv.Atoi(os.Getenv("HOSTILE_ALLOC_MB"))
	try("write-home", func() error { return os.WriteFile(filepath.Join(home, "pwned"), []byte("x"), 0o644) })
	try("read-credentials", func() error {
		_, err := os.ReadFile(filepath.Join(home, ".aws", "credentials"))
		return err
	})
	try("read-ssh-key", func() error {
		_, err := os.ReadFile(filepath.Join(home, ".ssh", "id_ed25519"))
		return err
	})
	try("connect-loopback", func() error {
		c, err := net.DialTimeout("tcp", os.Getenv("HOSTILE_ADDR"), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	try("send-udp-loopback", func() error {
		c, err := net.Dial("udp", os.Getenv("HOSTILE_UDP"))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("exfiltrate"))
		return err
	})
	try("write-harness", func() error {
		return os.WriteFile(filepath.Join(os.Getenv("HOSTILE_HARNESS"), "evil.go"), []byte("package harness\n"), 0o644)
	})
	try("start-shell", func() error { return exec.Command("/bin/sh", "-c", "true").Run() })
	try("allocate", func() error {
		b, err := syscall.Mmap(-1, 0, allocMB<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err == nil {
			syscall.Munmap(b)
		}
		return err
	})
	try("signal-harness", func() error { return syscall.Kill(pid, 0) })
	try("read-harness-environ", func() error {
		_, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		return err
	})
	// What it may do.
	try("write-scratch", func() error { return os.WriteFile(filepath.Join(os.TempDir(), "ok"), []byte("x"), 0o644) })
	try("read-data", func() error {
		_, err := os.ReadFile(os.Getenv("HOSTILE_DATA"))
		return err
	})
	fmt.Print("---\nval_bpb:          1.000000\ntraining_seconds: 0.1\n")
}

func try(name string, f func() error) {
	err := f()
	got := "ok"
	if err != nil {
		got = "error: " + err.Error()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			got += " [" + strconv.Itoa(int(errno)) + "]"
		}
	}
	fmt.Printf("ATTEMPT %s | %s\n", name, got)
}
