//go:build cuda

// Command ptxcheck compiles every CUDA kernel source of the GPU backend to PTX with NVRTC and
// fails on any error, or on a source whose compiled kernels differ from those it registers.
// With -sass it also assembles every kernel for that real architecture and fails on a kernel
// that spills registers to local memory, printing the register use of the heavy ones. It
// needs the CUDA headers and NVRTC but no GPU (it never touches the driver API), so
// `make cuda-check` runs it in every CI run:
//
//	ptxcheck [-arch compute_90] [-sass sm_90] [-include DIR] [-cache DIR]
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
	sass := flag.String("sass", "", "also assemble for this real architecture (e.g. sm_90) and fail on register spills")
	flag.Parse()
	if err := run(*arch, *include, *cache); err != nil {
		fmt.Fprintln(os.Stderr, "ptxcheck:", err)
		os.Exit(1)
	}
	if *sass != "" {
		if err := resources(*sass, *include); err != nil {
			fmt.Fprintln(os.Stderr, "ptxcheck:", err)
			os.Exit(1)
		}
	}
}

// heavy is the register count from which resources lists a kernel: above it at most two
// blocks of 128 threads fit on a multiprocessor.
const heavy = 128

func resources(sm, include string) error {
	if include == "" {
		dir, err := ptx.FindInclude()
		if err != nil {
			return err
		}
		include = dir
	}
	start := time.Now()
	total, spilling := 0, 0
	for _, src := range kernels.Sources() {
		us, err := ptx.Resources(src, kernels.Headers(), sm, ptx.Options{IncludeDir: include})
		if err != nil {
			return err
		}
		for _, u := range us {
			total++
			bad := u.SpillStores > 0 || u.SpillLoads > 0
			if bad {
				spilling++
			}
			if bad || u.Registers >= heavy {
				mark := ""
				if bad {
					mark = "  SPILLS"
				}
				fmt.Printf("%-32s %3d registers %6d bytes static smem %5d stack %5d/%d spill%s\n", u.Kernel,
					u.Registers, u.StaticShared, u.Stack, u.SpillStores, u.SpillLoads, mark)
			}
		}
	}
	fmt.Printf("ptxcheck: %d kernels assembled for %s in %.2fs; those above list %d registers or more\n", total, sm,
		time.Since(start).Seconds(), heavy)
	if spilling > 0 {
		return fmt.Errorf("%d kernels spill registers to local memory on %s", spilling, sm)
	}
	return nil
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
