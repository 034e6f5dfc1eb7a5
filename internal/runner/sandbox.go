package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/sandbox"
)

// SandboxPolicy is the policy of a training program's run on device in mode
// m: the system's libraries, the read-only paths read (the data home), for
// cuda the toolkit, the kernel cache, the driver and the GPUs, and the
// limits l. Run adds the worktree (read) and the scratch folder (write).
func SandboxPolicy(m sandbox.Mode, device string, read []string, l sandbox.Limits) *sandbox.Policy {
	p := sandbox.System(m)
	p.Read = append(p.Read, read...)
	if device == CUDA {
		p.AddCUDA(CUDAHome(), KernelCache())
	}
	p.Limits = l
	return &p
}

// KernelCache is the folder where the CUDA backend keeps compiled kernels:
// the user's cache folder + autoresearch/ptx, as the backend's own
// DefaultCacheDir says (the runner cannot import the cuda-tagged package).
func KernelCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "autoresearch", "ptx")
}

// Confined is a Spec's program as an executor starts it: confined by the
// Spec's sandbox, with the scratch folder as its TMPDIR.
type Confined struct {
	Argv []string
	// Env is the Spec's Env plus TMPDIR (RunEnv's basics and
	// AUTORESEARCH_RESULT=ResultPath still to be added).
	Env []string
	// ResultPath is where the program writes its result file: in the
	// scratch folder when sandboxed (the executor copies it to the Spec's
	// ResultPath after the run), else the Spec's ResultPath.
	ResultPath string
	// Cleanup removes a temporary scratch folder.
	Cleanup func()
}

// Confine applies s.Sandbox to s.Command: the policy plus s.Dir (read) and
// the scratch folder (write, emptied first). attr is the SysProcAttr of a
// process this one starts, which then makes the namespaces as it starts;
// nil gives a line that makes them itself, for a job script.
func Confine(s Spec, attr *syscall.SysProcAttr) (Confined, error) {
	c := Confined{Argv: s.Command, Env: append([]string(nil), s.Env...), ResultPath: s.ResultPath, Cleanup: func() {}}
	switch {
	case isSandboxed(s):
		scratch, cleanup, err := prepareScratch(s.Scratch)
		if err != nil {
			return c, err
		}
		p := *s.Sandbox
		p.Read = append(append([]string(nil), p.Read...), s.Dir)
		p.Write = append(append([]string(nil), p.Write...), scratch)
		if attr != nil {
			c.Argv, err = sandbox.WrapLocal(p, s.Command, attr)
		} else {
			c.Argv, err = sandbox.Wrap(p, s.Command)
		}
		if err != nil {
			cleanup()
			return c, err
		}
		c.Cleanup = cleanup
		c.Env = append(c.Env, "TMPDIR="+scratch)
		if c.ResultPath != "" {
			c.ResultPath = filepath.Join(scratch, "result.json")
		}
	case s.Scratch != "":
		if err := os.MkdirAll(s.Scratch, 0o755); err != nil {
			return c, err
		}
		c.Env = append(c.Env, "TMPDIR="+s.Scratch)
	}
	return c, nil
}

// isSandboxed reports whether s runs confined.
func isSandboxed(s Spec) bool { return s.Sandbox != nil && s.Sandbox.Mode != sandbox.Off }

// keepResult copies a sandboxed program's result file from its scratch
// folder to where the Spec wants it, beside the run's logs.
func keepResult(written, want string) {
	if written == want || want == "" {
		return
	}
	if b, err := os.ReadFile(written); err == nil {
		atomicfile.Write(want, b, 0o644)
	}
}

// prepareScratch makes dir an empty folder (a new temporary one when dir is
// empty); cleanup removes a temporary one.
func prepareScratch(dir string) (string, func(), error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "autoresearch-scratch")
		return tmp, func() { os.RemoveAll(tmp) }, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, fmt.Errorf("emptying the scratch folder: %w", err)
	}
	return dir, func() {}, os.MkdirAll(dir, 0o755)
}
