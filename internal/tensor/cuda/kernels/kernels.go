// Package kernels holds the CUDA C sources of the GPU backend, the one place both the backend
// (which compiles them with NVRTC at start-up) and the PTX checker of `make cuda-check` read
// them from. It is plain Go with no cgo, so it builds everywhere.
//
// Terms:
//   - Source: one .cu file, compiled by NVRTC as one program into one module.
//   - Header: a .cuh file that sources include; handed to NVRTC in memory, so the only
//     headers looked up on disk are CUDA's own (cuda_bf16.h).
//   - Kernel: an extern "C" __global__ function of a source, looked up by its plain name.
package kernels

import (
	"embed"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

//go:embed *.cu *.cuh
var files embed.FS

// File is one embedded source or header.
type File struct {
	Name string // file name, e.g. "nn.cu"
	Code string
}

func read(ext string) []File {
	names, err := fs.Glob(files, "*"+ext)
	if err != nil {
		panic(err) // the pattern is constant and valid
	}
	sort.Strings(names)
	out := make([]File, 0, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			panic(err) // embedded files are always readable
		}
		out = append(out, File{Name: n, Code: string(b)})
	}
	return out
}

// Sources returns every .cu file, sorted by name.
func Sources() []File { return read(".cu") }

// Headers returns every .cuh file, sorted by name.
func Headers() []File { return read(".cuh") }

// Stem is a source's name without its extension ("nn" for "nn.cu").
func Stem(name string) string { return strings.TrimSuffix(name, path.Ext(name)) }

var registered = regexp.MustCompile(`(?m)^AR_KERNEL\((\w+)\)`)

// Kernels lists the kernels a source declares: the names given to AR_KERNEL, in order.
// Every kernel is followed by AR_KERNEL(name), which the CPU emulator needs; the PTX checker
// verifies that the compiled module's entries are exactly these.
func Kernels(f File) []string {
	var names []string
	for _, m := range registered.FindAllStringSubmatch(f.Code, -1) {
		names = append(names, m[1])
	}
	return names
}
