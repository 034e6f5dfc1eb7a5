//go:build cudaemu && !cuda

package cuda

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"autoresearch/internal/tensor"
	"autoresearch/internal/tensor/cuda/kernels"
)

// The emulator must compile every kernel source, or a kernel would go untested.
func TestEmulatorIncludesEverySource(t *testing.T) {
	b, err := os.ReadFile("emulate_kernels.cc")
	if err != nil {
		t.Fatal(err)
	}
	var included []string
	for _, m := range regexp.MustCompile(`#include "kernels/(\w+\.cu)"`).FindAllStringSubmatch(string(b), -1) {
		included = append(included, m[1])
	}
	var want []string
	for _, s := range kernels.Sources() {
		want = append(want, s.Name)
		for _, k := range kernels.Kernels(s) {
			if _, ok := gpu.fns[k]; !ok {
				t.Errorf("kernel %s of %s is not registered with the emulator", k, s.Name)
			}
		}
	}
	slices.Sort(included)
	if !slices.Equal(included, want) {
		t.Fatalf("emulate_kernels.cc includes %v, the sources are %v", included, want)
	}
}

func TestEmulatorReportsBarrierMisuse(t *testing.T) {
	out := gpu.Alloc(tensor.F32, 64).(*buffer)
	defer gpu.Free(out)
	run := func(name string) error {
		gpu.args().ptr(out.ptr)
		return gpu.drv.launch(gpu.fns[name], [3]int{1, 1, 1}, 64, 0, &gpu.a)
	}
	if err := run("emu_selftest_early_exit"); err != nil {
		t.Fatalf("threads leaving before a barrier: %v", err)
	}
	if err := run("emu_selftest_shuffle_exited"); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("shuffle with exited lanes: %v", err)
	}
	if err := run("emu_selftest_deadlock"); err == nil || !strings.Contains(err.Error(), "deadlock") {
		t.Fatalf("divergent barriers: %v", err)
	}
}

func TestEmulatorChecksTensorCoreAlignment(t *testing.T) {
	out := gpu.Alloc(tensor.F32, 64).(*buffer)
	defer gpu.Free(out)
	for _, c := range []struct{ kernel, want string }{
		{"emu_selftest_cp_async_misaligned", "cp.async: destination"},
		{"emu_selftest_ldmatrix_misaligned", "ldmatrix: row address"},
	} {
		gpu.args().ptr(out.ptr)
		err := gpu.drv.launch(gpu.fns[c.kernel], [3]int{1, 1, 1}, 32, 0, &gpu.a)
		if err == nil || !strings.Contains(err.Error(), c.kernel+": thread ") ||
			!strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not 16-byte aligned") {
			t.Errorf("%s: %v, want an error naming the kernel, the thread and %q", c.kernel, err, c.want)
		}
	}
}

// cp.async lands at the wait for its group, not before, and a copy never committed is never
// waited for: a kernel that reads early reads the stale -1.
func TestEmulatorDefersAsyncCopies(t *testing.T) {
	const n = 64
	in := make([]float32, 4*n)
	for i := range in {
		in[i] = float32(i)
	}
	src := gpu.Alloc(tensor.F32, len(in)).(*buffer)
	out := gpu.Alloc(tensor.F32, 5*n).(*buffer)
	defer gpu.Free(src)
	defer gpu.Free(out)
	gpu.Write(src, 0, in)
	gpu.args().ptr(out.ptr).ptr(src.ptr)
	if err := gpu.drv.launch(gpu.fns["emu_selftest_cp_async_order"], [3]int{1, 1, 1}, n, 0, &gpu.a); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 5*n)
	gpu.Read(out, 0, got)
	for th := range n {
		copied := float32(4 * th)
		want := []float32{-1, copied, -1, copied, -1}
		for i, w := range want {
			if got[i*n+th] != w {
				t.Fatalf("thread %d, read %d: %v, want %v (reads: before the wait, after wait_group 1 for the first and the second group, after wait_all for the second and the uncommitted copy)",
					th, i, got[i*n+th], w)
			}
		}
	}
}

// With TF32 on, an f32 GEMM sees its inputs rounded to 10 mantissa bits, as on the tensor
// cores: 1 + 2^-12 becomes 1, 1 + 3·2^-12 becomes 1 + 2^-10 (to nearest, ties away).
func TestEmulatorRoundsGemmInputsToTF32(t *testing.T) {
	defer gpu.SetTF32(os.Getenv(EnvTF32) != "0")
	a := gpu.Alloc(tensor.F32, 2)
	b := gpu.Alloc(tensor.F32, 2)
	c := gpu.Alloc(tensor.F32, 1)
	defer func() { gpu.Free(a); gpu.Free(b); gpu.Free(c) }()
	gpu.Write(a, 0, []float32{1 + 0x1p-12, 1 + 3*0x1p-12})
	gpu.Write(b, 0, []float32{1, 0x1p-3})
	product := func(tf32 bool) float32 {
		gpu.SetTF32(tf32)
		gpu.Gemm(&tensor.GemmArgs{M: 1, N: 1, K: 2, Batch: 1, Alpha: 1, A: a, LdA: 2, B: b, LdB: 1, C: c, LdC: 1})
		v := make([]float32, 1)
		gpu.Read(c, 0, v)
		return v[0]
	}
	if got, want := product(false), float32(1+0x1p-12)+float32(1+3*0x1p-12)*0x1p-3; got != want {
		t.Errorf("fp32: %v, want %v", got, want)
	}
	if got, want := product(true), float32(1)+float32(1+0x1p-10)*0x1p-3; got != want {
		t.Errorf("tf32: %v, want %v", got, want)
	}
}
