package runner

import (
	"autoresearch/internal/testfs"
	"path/filepath"
	"slices"
	"testing"
)

func TestCUDAHomeSearchOrder(t *testing.T) {
	root := t.TempDir()
	dir := func(name string) string { return filepath.Join(root, name) }
	for _, name := range []string{"home", "path", "local", "opt", "cuda-11.8", "cuda-12.4", "cuda-12.10"} {
		testfs.Toolkit(t, dir(name), true)
	}
	testfs.Toolkit(t, dir("empty"), false)
	versioned := filepath.Join(root, "cuda-*")
	roots := []string{dir("local"), dir("opt")}
	for _, c := range []struct {
		name            string
		home, path      string
		roots           []string
		versioned, want string
	}{
		{"CUDA_HOME first", dir("home"), dir("path"), roots, versioned, dir("home")},
		{"CUDA_PATH next", "", dir("path"), roots, versioned, dir("path")},
		{"a CUDA_HOME without cuda.h is passed over", dir("empty"), dir("path"), roots, versioned, dir("path")},
		{"a missing CUDA_PATH is passed over", "", filepath.Join(root, "missing"), roots, versioned, dir("local")},
		{"/usr/local/cuda", "", "", roots, versioned, dir("local")},
		{"/opt/cuda", "", "", []string{dir("empty"), dir("opt")}, versioned, dir("opt")},
		{"the highest versioned install", "", "", []string{dir("empty")}, versioned, dir("cuda-12.10")},
		{"nothing", dir("empty"), "", []string{dir("empty")}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"CUDA_HOME": c.home, "CUDA_PATH": c.path}
			if got := findCUDAHome(func(k string) string { return env[k] }, c.roots, c.versioned); got != c.want {
				t.Errorf("found %q, want %q", got, c.want)
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	dirs := []string{"/u/cuda-12.10", "/u/cuda-11.8", "/u/cuda-12.4", "/u/cuda-12", "/u/cuda-13.0"}
	slices.SortFunc(dirs, func(a, b string) int {
		if versionLess(a, b) {
			return -1
		}
		if versionLess(b, a) {
			return 1
		}
		return 0
	})
	want := []string{"/u/cuda-11.8", "/u/cuda-12", "/u/cuda-12.4", "/u/cuda-12.10", "/u/cuda-13.0"}
	if !slices.Equal(dirs, want) {
		t.Errorf("sorted %v, want %v", dirs, want)
	}
}
