//go:build cuda

// Package ptx compiles the backend's CUDA C sources (package kernels) to PTX with NVRTC and
// keeps the results in a disk cache keyed by source hash and architecture, so only the first
// start-up after a kernel change pays for compilation.
//
// It uses gorgonia.org/cu/nvrtc, which links libnvrtc but not the driver API: NVRTC needs no
// GPU, so this package (and the checker of make cuda-check built on it) runs anywhere the
// CUDA headers and NVRTC are installed.
//
// Terms:
//   - Arch: a virtual GPU architecture, "compute_90" for sm_90 (H100, H200). PTX for it is
//     compiled to machine code by the driver when the module loads.
//   - Include dir: CUDA's own headers (cuda_bf16.h), passed to NVRTC with -I.
//   - Entry: a kernel of the compiled module (a ".entry" of the PTX).
package ptx

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"autoresearch/internal/atomicfile"
	"autoresearch/internal/tensor/cuda/kernels"

	"gorgonia.org/cu/nvrtc"
)

// Options configure a compilation.
type Options struct {
	Arch       string   // virtual architecture, e.g. "compute_90"
	IncludeDir string   // CUDA include dir holding cuda_bf16.h
	CacheDir   string   // where compiled PTX is kept; "" compiles every time
	Extra      []string // more NVRTC options
}

// Module is one compiled source.
type Module struct {
	Name    string // source file name
	PTX     string
	Entries []string      // kernels in the PTX, in order
	Cached  bool          // read from the disk cache, not compiled
	Log     string        // NVRTC's warnings, if any
	Elapsed time.Duration // compile (or cache read) time
}

// Version is NVRTC's version as "major.minor".
func Version() (string, error) {
	maj, min, err := nvrtc.Version()
	if err != nil {
		return "", fmt.Errorf("nvrtc: %v", err)
	}
	return fmt.Sprintf("%d.%d", maj, min), nil
}

func (o Options) flags() []string {
	f := []string{"--gpu-architecture=" + o.Arch, "--std=c++17"}
	if o.IncludeDir != "" {
		f = append(f, "-I"+o.IncludeDir)
	}
	return append(f, o.Extra...)
}

// key hashes everything that changes the PTX: NVRTC's version, the options, the source and
// every header.
func key(version string, src kernels.File, headers []kernels.File, flags []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "nvrtc %s\n", version)
	for _, f := range flags {
		fmt.Fprintf(h, "flag %q\n", f)
	}
	for _, f := range append([]kernels.File{src}, headers...) {
		fmt.Fprintf(h, "file %q %d\n%s", f.Name, len(f.Code), f.Code)
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

// CachePath is where the PTX of src compiled with o is kept.
func CachePath(o Options, version string, src kernels.File, headers []kernels.File) string {
	return filepath.Join(o.CacheDir, fmt.Sprintf("%s-%s-%s.ptx", kernels.Stem(src.Name), o.Arch,
		key(version, src, headers, o.flags())))
}

// Compile compiles one source, or reads it from the cache.
func Compile(src kernels.File, headers []kernels.File, o Options) (*Module, error) {
	if o.Arch == "" {
		return nil, errors.New("ptx: no architecture given (e.g. compute_90)")
	}
	start := time.Now()
	version, err := Version()
	if err != nil {
		return nil, err
	}
	path := ""
	if o.CacheDir != "" {
		path = CachePath(o, version, src, headers)
		if b, err := os.ReadFile(path); err == nil {
			text := string(b)
			return &Module{Name: src.Name, PTX: text, Entries: Entries(text), Cached: true,
				Elapsed: time.Since(start)}, nil
		}
	}
	text, log, err := compile(src, headers, o.flags())
	if err != nil {
		return nil, fmt.Errorf("nvrtc: compiling %s for %s: %w\n%s", src.Name, o.Arch, err, log)
	}
	if path != "" {
		// A cache that cannot be written costs only time: compile again next start-up.
		if err := os.MkdirAll(o.CacheDir, 0o755); err == nil {
			_ = atomicfile.Write(path, []byte(text), 0o644)
		}
	}
	return &Module{Name: src.Name, PTX: text, Entries: Entries(text), Log: log, Elapsed: time.Since(start)}, nil
}

func compile(src kernels.File, headers []kernels.File, flags []string) (text, log string, err error) {
	incs := make([]nvrtc.Include, len(headers))
	for i, h := range headers {
		incs[i] = nvrtc.Include{Source: h.Code, Name: h.Name}
	}
	prog, err := nvrtc.CreateProgram(src.Code, src.Name, incs...)
	if err != nil {
		return "", "", err
	}
	defer prog.Destroy()
	cerr := prog.Compile(flags...)
	log, _ = prog.GetLog()
	log = strings.TrimSpace(strings.TrimRight(log, "\x00"))
	if cerr != nil {
		return "", log, cerr
	}
	text, err = prog.GetPTX()
	// NVRTC's PTX ends with a NUL that the driver does not need.
	for len(text) > 0 && text[len(text)-1] == 0 {
		text = text[:len(text)-1]
	}
	return text, log, err
}

// CompileAll compiles every source of package kernels, in parallel, and returns the modules in
// source order, or the errors of every source that failed, joined.
func CompileAll(o Options) ([]*Module, error) {
	srcs, headers := kernels.Sources(), kernels.Headers()
	mods := make([]*Module, len(srcs))
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mods[i], errs[i] = Compile(s, headers, o)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return mods, nil
}

var entryRE = regexp.MustCompile(`(?m)^\.(?:visible|weak)\s+\.entry\s+(\w+)\s*\(`)

// Entries lists the kernels of a PTX text.
func Entries(ptx string) []string {
	var names []string
	for _, m := range entryRE.FindAllStringSubmatch(ptx, -1) {
		names = append(names, m[1])
	}
	return names
}

// DefaultCacheDir is the user's cache dir + autoresearch/ptx.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "autoresearch", "ptx")
}
