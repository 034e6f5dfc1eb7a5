//go:build cuda

package ptx

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"autoresearch/internal/tensor/cuda/kernels"
)

func options(t *testing.T) Options {
	t.Helper()
	inc, err := FindInclude()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Arch: "compute_90", IncludeDir: inc, CacheDir: t.TempDir()}
}

const scale = `#include <cuda_bf16.h>
extern "C" __global__ void scale(float* x, long long n, float a) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i < n) x[i] = __bfloat162float(__float2bfloat16(a * x[i]));
}
`

func TestCompileCachesByContent(t *testing.T) {
	o := options(t)
	src := kernels.File{Name: "scale.cu", Code: scale}
	first, err := Compile(src, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if first.Cached {
		t.Fatal("first compile reported a cache hit")
	}
	if !slices.Equal(first.Entries, []string{"scale"}) {
		t.Fatalf("entries = %v, want [scale]", first.Entries)
	}
	if !strings.Contains(first.PTX, ".target sm_90") {
		t.Fatalf("PTX is not for sm_90:\n%.300s", first.PTX)
	}
	second, err := Compile(src, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || second.PTX != first.PTX {
		t.Fatalf("second compile: cached=%v, same PTX=%v", second.Cached, second.PTX == first.PTX)
	}
	files, _ := filepath.Glob(filepath.Join(o.CacheDir, "scale-compute_90-*.ptx"))
	if len(files) != 1 {
		t.Fatalf("cache files = %v, want one", files)
	}

	// Another source or another architecture is another cache entry.
	changed := kernels.File{Name: "scale.cu", Code: strings.Replace(scale, "a * x[i]", "a * x[i] + 1.0f", 1)}
	third, err := Compile(changed, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if third.Cached || third.PTX == first.PTX {
		t.Fatal("a changed source was served from the cache")
	}
	o.Arch = "compute_80"
	fourth, err := Compile(src, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Cached || !strings.Contains(fourth.PTX, ".target sm_80") {
		t.Fatal("another architecture was served from the cache")
	}
}

func TestCompileErrorNamesSourceAndLine(t *testing.T) {
	o := options(t)
	_, err := Compile(kernels.File{Name: "broken.cu", Code: "extern \"C\" __global__ void k() { undefined_thing(); }\n"}, nil, o)
	if err == nil {
		t.Fatal("a broken kernel compiled")
	}
	msg := err.Error()
	if !strings.Contains(msg, "broken.cu") || !strings.Contains(msg, "undefined_thing") {
		t.Fatalf("error does not name the source and the problem: %v", err)
	}
	if entries, _ := os.ReadDir(o.CacheDir); len(entries) != 0 {
		t.Fatalf("a failed compile left %d cache files", len(entries))
	}
}

func TestHeadersComeFromMemory(t *testing.T) {
	o := options(t)
	src := kernels.File{Name: "user.cu", Code: "#include \"mine.cuh\"\nextern \"C\" __global__ void k(float* x) { x[0] = MINE; }\n"}
	m, err := Compile(src, []kernels.File{{Name: "mine.cuh", Code: "#define MINE 2.5f\n"}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.PTX, "1075838976") { // 2.5f stored as its bits
		t.Fatalf("header constant not in PTX:\n%s", m.PTX)
	}
}

func TestEntries(t *testing.T) {
	text := ".visible .entry a(\n.param .u64 x\n)\n.weak .entry b (\n"
	if got := Entries(text); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Entries = %v", got)
	}
}

func TestFindIncludeHonoursCUDAHome(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "include"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "include", "cuda_bf16.h"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUDA_HOME", dir)
	got, err := FindInclude()
	if err != nil || got != filepath.Join(dir, "include") {
		t.Fatalf("FindInclude = %q, %v", got, err)
	}
	t.Setenv("CUDA_HOME", filepath.Join(dir, "missing"))
	t.Setenv("CUDA_PATH", "")
	t.Setenv("CUDA_SDK", "")
	t.Setenv("HOME", dir)
	if _, err := os.Stat("/usr/local/cuda/include/cuda_bf16.h"); err == nil {
		t.Skip("a system toolkit is installed")
	}
	if _, err := FindInclude(); err == nil || !strings.Contains(err.Error(), "CUDA_HOME") {
		t.Fatalf("missing headers: error %v does not name the fix", err)
	}
}
