package runner

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// GPUIndices lists the GPUs nvidia-smi sees, by index ("0", "1", ...).
func GPUIndices(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=index", "--format=csv,noheader").Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi: %w", err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ids = append(ids, l)
		}
	}
	return ids, nil
}

// ParseGPUs reads --gpus: GPU indices separated by commas ("0,1,3").
func ParseGPUs(s string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if _, err := strconv.ParseUint(f, 10, 16); err != nil {
			return nil, fmt.Errorf("%q is not a GPU index: list indices like 0,1,2", f)
		}
		if seen[f] {
			return nil, fmt.Errorf("GPU %s is listed twice", f)
		}
		seen[f] = true
		ids = append(ids, f)
	}
	return ids, nil
}

// Shares returns the extra environment of each of n workers' runs of a
// program on device on this machine (WorkerEnv), the GPUs being those the
// --gpus flag lists, or all nvidia-smi lists when it is empty.
func Shares(ctx context.Context, device string, n int, gpusFlag string) ([][]string, error) {
	if n <= 1 {
		return nil, nil
	}
	var gpus []string
	var err error
	if device == CUDA {
		if gpusFlag != "" {
			if gpus, err = ParseGPUs(gpusFlag); err != nil {
				return nil, fmt.Errorf("--gpus: %w", err)
			}
		} else if gpus, err = GPUIndices(ctx); err != nil {
			return nil, err
		}
	}
	return WorkerEnv(device, n, gpus, runtime.NumCPU())
}

// WorkerEnv returns the extra environment of each of n workers' runs on
// this machine, so that runs in flight together do not fight: on cuda,
// worker i sees only gpus[i] (CUDA_VISIBLE_DEVICES); on the cpu, each gets
// an equal share of the cores (GOMAXPROCS, which also sizes the tensor
// package's threads, and OMP_NUM_THREADS, which sizes OpenMP's and most
// BLAS libraries'). One worker gets nothing: it has the machine.
func WorkerEnv(device string, n int, gpus []string, cores int) ([][]string, error) {
	if n <= 1 {
		return nil, nil
	}
	env := make([][]string, n)
	switch device {
	case CUDA:
		if len(gpus) < n {
			return nil, fmt.Errorf("%d workers need %d GPUs, one each; %d available (%s): use --workers %d or list more with --gpus",
				n, n, len(gpus), strings.Join(gpus, ","), max(len(gpus), 1))
		}
		for i := range env {
			env[i] = []string{"CUDA_VISIBLE_DEVICES=" + gpus[i]}
		}
	default:
		share := max(cores/n, 1)
		for i := range env {
			env[i] = []string{"GOMAXPROCS=" + strconv.Itoa(share), "OMP_NUM_THREADS=" + strconv.Itoa(share)}
		}
	}
	return env, nil
}
