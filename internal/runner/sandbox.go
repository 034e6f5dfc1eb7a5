package runner

import (
	"os"
	"path/filepath"

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
