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
