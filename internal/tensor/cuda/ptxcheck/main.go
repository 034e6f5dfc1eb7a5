//go:build cuda

// Command ptxcheck compiles every CUDA kernel source of the GPU backend to PTX with NVRTC and
// fails on any error, or on a source whose compiled kernels differ from those it registers.
// It needs the CUDA headers and NVRTC but no GPU (it never touches the driver API), so
// `make cuda-check` runs it in every CI run:
//
//	ptxcheck [-arch compute_90] [-include DIR] [-cache DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"autoresearch/internal/tensor/cuda/kernels"
	"autoresearch/internal/tensor/cuda/ptx"
)

func main() {
	arch := flag.String("arch", "compute_90", "virtual GPU architecture to compile for")
	include := flag.String("include", "", "CUDA include dir (default: found like the backend does)")
	cache := flag.String("cache", "", "PTX cache dir (default: none, compile everything)")
	flag.Parse()
	if err := run(*arch, *include, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "ptxcheck:", err)
		os.Exit(1)
	}
}

func run(arch, include, cache string) error {
	if include == "" {
		dir, err := ptx.FindInclude()
		if err != nil {
			return err
		}
		include = dir
	}
	version, err := ptx.Version()
	if err != nil {
		return err
	}
	start := time.Now()
	mods, err := ptx.CompileAll(ptx.Options{Arch: arch, IncludeDir: include, CacheDir: cache})
	if err != nil {
		return err
	}
	wall := time.Since(start)
	srcs := kernels.Sources()
	total, bad := 0, 0
	for i, m := range mods {
		want := kernels.Kernels(srcs[i])
		got := slices.Clone(m.Entries)
		slices.Sort(got)
		slices.Sort(want)
		status := "ok"
		if !slices.Equal(got, want) {
			status = fmt.Sprintf("MISMATCH: compiled %v, registered %v", m.Entries, kernels.Kernels(srcs[i]))
			bad++
		}
		fmt.Printf("%-16s %3d kernels %8d bytes of PTX %7.2fs %s\n", m.Name, len(m.Entries), len(m.PTX),
			m.Elapsed.Seconds(), status)
		if m.Log != "" {
			fmt.Println(m.Log)
		}
		total += len(m.Entries)
	}
	fmt.Printf("ptxcheck: %d kernels in %d sources compiled for %s by NVRTC %s in %.2fs (headers %s)\n",
		total, len(mods), arch, version, wall.Seconds(), include)
	if bad > 0 {
		return fmt.Errorf("%d sources whose kernels differ from their AR_KERNEL list", bad)
	}
	return nil
}
