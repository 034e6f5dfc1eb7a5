package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The devices a training program can run on.
const (
	CPU  = "cpu"
	CUDA = "cuda"
)

// GPU returns the first line of `nvidia-smi -L` (the first GPU's name), or an
// error saying why no GPU is usable.
func GPU(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nvidia-smi", "-L").Output()
	if err != nil {
		return "", fmt.Errorf("nvidia-smi -L: %w", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if !strings.HasPrefix(line, "GPU") {
		return "", fmt.Errorf("nvidia-smi -L lists no GPU")
	}
	return line, nil
}

// ValidDevice checks a --device value without looking for hardware: auto
// (or empty), cpu or cuda.
func ValidDevice(want string) error {
	switch want {
	case "auto", "", CPU, CUDA:
		return nil
	}
	return fmt.Errorf("unknown device %q: use auto, cpu or cuda", want)
}

// ResolveDevice turns --device auto|cpu|cuda into cpu or cuda: auto picks cuda
// when a GPU is usable. It also returns a description of the hardware.
func ResolveDevice(ctx context.Context, want string) (device, detail string, err error) {
	if err := ValidDevice(want); err != nil {
		return "", "", err
	}
	switch want {
	case CPU:
		return CPU, "", nil
	case CUDA:
		gpu, err := GPU(ctx)
		if err != nil {
			return "", "", fmt.Errorf("--device cuda: no usable GPU (%v): use --device cpu", err)
		}
		return CUDA, gpu, nil
	case "auto", "":
		if gpu, err := GPU(ctx); err == nil {
			return CUDA, gpu, nil
		}
	}
	return CPU, "", nil
}

// Placeholders that Expand replaces in build and run commands.
const (
	BinVar      = "{bin}"      // the built program's path
	WorktreeVar = "{worktree}" // the run's worktree
)

// CUDAHome is the CUDA toolkit's folder: $CUDA_HOME, else /usr/local/cuda.
func CUDAHome() string {
	if home := os.Getenv("CUDA_HOME"); home != "" {
		return home
	}
	return "/usr/local/cuda"
}

// GoBuild returns the build command and extra build environment of a Go
// training program in package pkg (e.g. ./gpt) for a device. A cuda build
// uses the cuda build tag, finds the project's CUDA compatibility header
// first, then the toolkit under CUDAHome, and records the toolkit's library
// folder in the binary (rpath) so it runs without LD_LIBRARY_PATH.
func GoBuild(pkg, device string) (cmd []string, env []string) {
	cmd = []string{"go", "build", "-buildvcs=false"}
	if device == CUDA {
		home := CUDAHome()
		cmd = append(cmd, "-tags", "cuda")
		env = []string{
			"CGO_ENABLED=1",
			"CGO_CFLAGS=-I" + filepath.Join(WorktreeVar, "internal", "tensor", "cuda", "include") + " -I" + filepath.Join(home, "include"),
			"CGO_LDFLAGS=-L" + filepath.Join(home, "lib64") + " -Wl,-rpath," + filepath.Join(home, "lib64"),
		}
	}
	return append(cmd, "-o", BinVar, pkg), env
}

// DeviceEnv returns the extra environment a training program needs on a
// device. NVRTC loads its builtins library with dlopen, which the rpath does
// not reach, so a cuda run gets the toolkit's library folder in
// LD_LIBRARY_PATH.
func DeviceEnv(device string) []string {
	if device != CUDA {
		return nil
	}
	path := filepath.Join(CUDAHome(), "lib64")
	if cur := os.Getenv("LD_LIBRARY_PATH"); cur != "" {
		path += ":" + cur
	}
	return []string{"LD_LIBRARY_PATH=" + path}
}

// Expand replaces the placeholders ({bin}, {worktree}) in each string.
func Expand(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, k, v)
		}
		out[i] = a
	}
	return out
}
