//go:build cuda

package ptx

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"autoresearch/internal/tensor/cuda/kernels"
)

// Usage is what the assembler reports of one kernel compiled for a real architecture: the
// registers a thread uses, its stack frame and the bytes it spills to local memory. A kernel
// that spills, or uses so many registers that few blocks fit on a multiprocessor, is slow on
// every GPU of that architecture; NVRTC finds out without one.
type Usage struct {
	Kernel       string
	Registers    int
	Stack        int // bytes of stack frame
	SpillStores  int // bytes
	SpillLoads   int // bytes
	StaticShared int // bytes of static shared memory
}

var (
	usageEntry = regexp.MustCompile(`Compiling entry function '(\w+)'`)
	usageSpill = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	usageRegs  = regexp.MustCompile(`Used (\d+) registers(?:, (\d+) bytes smem)?`)
)

// Resources compiles src to machine code for a real architecture (sm, e.g. "sm_90") with the
// assembler's verbose report and returns each kernel's usage, in the order reported.
func Resources(src kernels.File, headers []kernels.File, sm string, o Options) ([]Usage, error) {
	if !strings.HasPrefix(sm, "sm_") {
		return nil, fmt.Errorf("ptx: %q is not a real architecture (e.g. sm_90)", sm)
	}
	o.Arch = sm
	o.Extra = append(append([]string(nil), o.Extra...), "--ptxas-options=-v")
	_, log, err := compileLog(src, headers, o.flags())
	if err != nil {
		return nil, fmt.Errorf("nvrtc: compiling %s for %s: %w\n%s", src.Name, sm, err, log)
	}
	return parseUsage(log), nil
}

// parseUsage reads ptxas's -v report: per kernel an entry line, then its stack and spills,
// then its registers.
func parseUsage(log string) []Usage {
	var out []Usage
	var cur *Usage
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, line := range strings.Split(log, "\n") {
		if m := usageEntry.FindStringSubmatch(line); m != nil {
			out = append(out, Usage{Kernel: m[1]})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		if m := usageSpill.FindStringSubmatch(line); m != nil {
			cur.Stack, cur.SpillStores, cur.SpillLoads = atoi(m[1]), atoi(m[2]), atoi(m[3])
		}
		if m := usageRegs.FindStringSubmatch(line); m != nil {
			cur.Registers, cur.StaticShared = atoi(m[1]), atoi(m[2])
		}
	}
	return out
}
