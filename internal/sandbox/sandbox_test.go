package sandbox

import (
	"autoresearch/internal/testfs"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWrapWritesTheLineTheLauncherReads(t *testing.T) {
	p := Policy{Mode: Strict, Read: []string{"/a", "/b c"}, Write: []string{"/s"}, Exec: []string{"/x"},
		Devices: []string{"/dev/null"}, Limits: Limits{MemoryMB: 512, Processes: 64, OpenFiles: 100}}
	line, err := Wrap(p, []string{"prog", "-flag", "--", "arg"})
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	if line[0] != self || line[1] != Subcommand {
		t.Fatalf("line starts %q, want the launcher and %s", line[:2], Subcommand)
	}
	got, argv, err := parseLine(line[2:])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) || !reflect.DeepEqual(argv, []string{"prog", "-flag", "--", "arg"}) {
		t.Errorf("read back %+v %q\nwant      %+v", got, argv, p)
	}
	if off, _ := Wrap(Policy{Mode: Off}, []string{"prog"}); !reflect.DeepEqual(off, []string{"prog"}) {
		t.Errorf("mode off wraps: %q", off)
	}
	if _, err := ParseMode("loose"); err == nil || !strings.Contains(err.Error(), "strict, auto or off") {
		t.Errorf("bad mode: %v", err)
	}
}

var (
	hostileOnce sync.Once
	hostileBin  string
	hostileErr  error
)

// hostile builds testdata/hostile once.
func hostile(t *testing.T) string {
	t.Helper()
	hostileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sandbox-hostile")
		if err != nil {
			hostileErr = err
			return
		}
		hostileBin = filepath.Join(dir, "hostile")
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", hostileBin, "./testdata/hostile").CombinedOutput()
		if err != nil {
			hostileErr = fmt.Errorf("building the hostile program: %v\n%s", err, out)
		}
	})
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	return hostileBin
}

// world is what the hostile program attacks: a home with credentials, a
// harness folder, a loopback listener that counts connections, a data file
// and a scratch folder.
type world struct {
	home, harness, data, scratch string
	addr, udp                    string
	accepted, received           atomic.Int32
}

func newWorld(t *testing.T) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{home: filepath.Join(root, "home"), harness: filepath.Join(root, "worktree", "harness"),
		data: filepath.Join(root, "data", "tokens.bin"), scratch: filepath.Join(root, "scratch")}
	for _, d := range []string{w.harness, filepath.Dir(w.data), w.scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testfs.Secrets(t, w.home)
	testfs.WriteFile(t, filepath.Join(w.harness, "eval.go"), []byte("package harness\n"), 0o644)
	testfs.WriteFile(t, w.data, []byte("tokens"), 0o644)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	w.addr = l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			w.accepted.Add(1)
			c.Close()
		}
	}()
	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	w.udp = u.LocalAddr().String()
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := u.ReadFrom(buf); err != nil {
				return
			}
			w.received.Add(1)
		}
	}()
	return w
}

const hostileMemoryMB = 256

// policy confines a run in w: the worktree and the data read-only, the
// scratch folder writable.
func (w *world) policy(m Mode) Policy {
	p := System(m)
	p.Read = append(p.Read, filepath.Dir(w.harness), filepath.Dir(w.data))
	p.Write = append(p.Write, w.scratch)
	p.Limits = Limits{MemoryMB: hostileMemoryMB, Processes: 256, OpenFiles: 256}
	return p
}

// run runs the hostile program in w and returns what each attempt got.
func (w *world) run(t *testing.T, m Mode) (map[string]string, string) {
	t.Helper()
	argv, err := Wrap(w.policy(m), []string{hostile(t)})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(w.harness)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.home, "TMPDIR=" + w.scratch,
		"HOSTILE_HOME=" + w.home, "HOSTILE_ADDR=" + w.addr, "HOSTILE_UDP=" + w.udp, "HOSTILE_HARNESS=" + w.harness,
		"HOSTILE_PID=" + fmt.Sprint(os.Getpid()), "HOSTILE_DATA=" + w.data,
		fmt.Sprintf("HOSTILE_ALLOC_MB=%d", 2*hostileMemoryMB)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the hostile program (sandbox %s) did not finish: %v\n%s", m, err, out)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "ATTEMPT "); ok {
			name, res, _ := strings.Cut(rest, " | ")
			got[name] = res
		}
	}
	if !strings.Contains(string(out), "val_bpb:          1.000000") {
		t.Errorf("the training did not complete (sandbox %s):\n%s", m, out)
	}
	return got, string(out)
}

// TestHostileProgram runs a program that tries to escape, once unconfined
// (every attempt works: the test means something) and once confined, where
// each attempt gets an error from the call it tried and the program still
// finishes. The table of outcomes is logged.
func TestHostileProgram(t *testing.T) {
	if Probe().Landlock == 0 {
		t.Skip("this kernel has no Landlock")
	}
	// errno of each denied attempt: EACCES from Landlock, ENETUNREACH in the
	// empty network namespace (TCP meets Landlock's rule first), ENOMEM
	// past the memory limit, EPERM from Landlock's signal scope.
	want := map[string][]string{
		"write-home": {"[13]"}, "read-credentials": {"[13]"}, "read-ssh-key": {"[13]"}, "connect-loopback": {"[101]", "[13]"}, "send-udp-loopback": {"[101]"},
		"write-harness": {"[13]"}, "start-shell": {"[13]"}, "allocate": {"[12]"},
		"signal-harness": {"[1]"}, "read-harness-environ": {"[13]"},
	}
	allowed := []string{"write-scratch", "read-data"}

	free := newWorld(t)
	off, _ := free.run(t, Off)
	for name := range want {
		if off[name] != "ok" {
			t.Errorf("unconfined, %s got %q: the attempt itself is broken", name, off[name])
		}
	}
	w := newWorld(t)
	on, out := w.run(t, Auto)
	for name, errs := range want {
		ok := false
		for _, e := range errs {
			ok = ok || strings.HasPrefix(on[name], "error: ") && strings.HasSuffix(on[name], e)
		}
		if !ok {
			t.Errorf("confined, %s got %q, want an error %v", name, on[name], errs)
		}
	}
	for _, name := range allowed {
		if on[name] != "ok" || off[name] != "ok" {
			t.Errorf("%s got %q confined, %q unconfined; want ok", name, on[name], off[name])
		}
	}
	if n := w.accepted.Load(); n != 0 {
		t.Errorf("the confined program reached the loopback listener %d times", n)
	}
	if n := w.received.Load(); n != 0 {
		t.Errorf("the confined program sent %d datagrams to loopback", n)
	}
	if _, err := os.Stat(filepath.Join(w.home, "pwned")); err == nil {
		t.Error("the confined program wrote into its home")
	}
	if _, err := os.Stat(filepath.Join(w.harness, "evil.go")); err == nil {
		t.Error("the confined program wrote into the harness")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	names := make([]string, 0, len(on))
	for n := range on {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "| attempt | --sandbox off | --sandbox auto (%s) |\n|---|---|---|\n", Probe())
	for _, n := range names {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", n, off[n], on[n])
	}
	t.Logf("what each attempt got:\n%s", b.String())
}

func TestCheckImports(t *testing.T) {
	base := []byte("package main\n\nimport (\n\t\"fmt\"\n\t\"syscall\"\n\n\t\"autoresearch/harness\"\n)\n")
	ok := []string{
		"package main\n\nimport (\n\t\"fmt\"\n\t\"syscall\"\n\t\"math/bits\"\n\t\"autoresearch/harness\"\n)\n",
		"package main\n\nimport \"strings\"\n",
		"package main\n\nfunc broken( {\n", // the compiler reports this one
	}
	for _, src := range ok {
		if err := CheckImports("gpt/train.go", base, []byte(src)); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	bad := map[string][]string{
		"package main\n\nimport (\n\t\"os/exec\"\n\t\"fmt\"\n)\n":                  {`"os/exec"`},
		"package main\n\nimport (\n\tn \"net\"\n\t_ \"unsafe\"\n)\n":               {`"net"`, `"unsafe"`},
		"package main\n\n// #include <stdio.h>\nimport \"C\"\nimport \"plugin\"\n": {`"C"`, `"plugin"`},
		"package main\n\nimport \"net/http\"\n":                                    {`"net/http"`},
		"package main\n\nimport \"autoresearch/internal/sandbox\"\n":               {`"autoresearch/internal/sandbox"`},
	}
	for src, want := range bad {
		err := CheckImports("gpt/train.go", base, []byte(src))
		ie, isImport := err.(*ImportError)
		if !isImport || !reflect.DeepEqual(ie.Imports, want) {
			t.Errorf("%q: %v, want the imports %v refused", src, err, want)
			continue
		}
		if !strings.Contains(err.Error(), "gpt/train.go imports "+strings.Join(want, ", ")) || !strings.Contains(err.Error(), "Remove the import") {
			t.Errorf("message: %v", err)
		}
	}
}

func TestMissingProtections(t *testing.T) {
	names := func(s Support) []string {
		var n []string
		for _, m := range s.Missing() {
			name, _, _ := strings.Cut(m, " (")
			n = append(n, name)
		}
		return n
	}
	noNS := errors.New("unprivileged user namespaces are not allowed here")
	cases := []struct {
		s    Support
		want []string
	}{
		{Support{Landlock: 7}, nil},
		{Support{Landlock: 7, Root: true}, []string{ResourceLimits}},
		{Support{Landlock: 7, Namespace: noNS}, []string{Network, ResourceLimits}},
		{Support{Landlock: 5}, []string{IPC}},
		{Support{Landlock: 0, Namespace: noNS}, []string{Filesystem, Network, IPC, ResourceLimits}},
	}
	for _, c := range cases {
		if got := names(c.s); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: missing %v, want %v", c.s, got, c.want)
		}
	}
	tcp := Support{Landlock: 4, Namespace: noNS}.Missing()[0]
	if !strings.Contains(tcp, "TCP is still blocked by Landlock") || !strings.Contains(tcp, "not allowed here") {
		t.Errorf("the network note: %s", tcp)
	}
}
