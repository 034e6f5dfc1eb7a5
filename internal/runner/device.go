package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"autoresearch/internal/task"
)

// The devices a training program can run on.
const (
	CPU  = task.CPU
	CUDA = task.CUDA
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

// CUDAHome is the CUDA toolkit's folder: the first of $CUDA_HOME, $CUDA_PATH,
// /usr/local/cuda, /opt/cuda and /usr/local/cuda-X.Y (highest version first)
// that holds include/cuda.h; /usr/local/cuda when none does, so that errors
// name the usual place.
func CUDAHome() string {
	if home := findCUDAHome(os.Getenv, cudaRoots, cudaVersionedGlob); home != "" {
		return home
	}
	return cudaRoots[0]
}

// The install folders CUDAHome searches after the variables, and the pattern
// of versioned installs (/usr/local/cuda-12.4) it tries last.
var (
	cudaRoots         = []string{"/usr/local/cuda", "/opt/cuda"}
	cudaVersionedGlob = "/usr/local/cuda-*"
)

// findCUDAHome is CUDAHome with its environment and search folders given.
func findCUDAHome(getenv func(string) string, roots []string, versioned string) string {
	var dirs []string
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if d := getenv(v); d != "" {
			dirs = append(dirs, d)
		}
	}
	dirs = append(dirs, roots...)
	if versioned != "" {
		matches, _ := filepath.Glob(versioned)
		sort.SliceStable(matches, func(i, j int) bool { return versionLess(matches[j], matches[i]) })
		dirs = append(dirs, matches...)
	}
	for _, d := range dirs {
		if isFile(filepath.Join(d, "include", "cuda.h")) {
			return d
		}
	}
	return ""
}

// versionLess orders folders by the dotted version after their last "-"
// (cuda-12.4 < cuda-12.10 < cuda-13.0); a part that is not a number sorts first.
func versionLess(a, b string) bool {
	pa := strings.Split(a[strings.LastIndex(a, "-")+1:], ".")
	pb := strings.Split(b[strings.LastIndex(b, "-")+1:], ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, errx := strconv.Atoi(pa[i])
		y, erry := strconv.Atoi(pb[i])
		if errx != nil || erry != nil {
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// CUDALibDirs returns the library folders of the toolkit at home: link, where
// the linker looks for -lcuda, -lcublas and -lnvrtc, and run, the real
// libraries a program loads (its rpath and LD_LIBRARY_PATH). It knows the
// toolkit's layout (lib64, with link-only libraries such as libcuda.so in
// lib64/stubs: the driver's own libcuda.so.1 lives in the system's library
// folder) and the layout of scripts/cuda-sdk.sh (lib/stubs, lib/nvrtc). The
// stubs come after the real folders so that a real library wins. Where home
// has none of these folders, the toolkit's layout is assumed.
func CUDALibDirs(home string) (link, run []string) {
	real := []string{"lib64", "lib/nvrtc", filepath.Join("targets", "x86_64-linux", "lib")}
	stubs := []string{"lib64/stubs", "lib/stubs", filepath.Join("targets", "x86_64-linux", "lib", "stubs")}
	for _, d := range real {
		if p := filepath.Join(home, d); isDir(p) {
			link = append(link, p)
			run = append(run, p)
		}
	}
	for _, d := range stubs {
		if p := filepath.Join(home, d); isDir(p) {
			link = append(link, p)
		}
	}
	if len(link) == 0 {
		lib := filepath.Join(home, "lib64")
		return []string{lib, filepath.Join(lib, "stubs")}, []string{lib}
	}
	return link, run
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
