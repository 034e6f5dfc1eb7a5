//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// The profiler times every kernel and cuBLAS call on the GPU itself: an event recorded on the
// stream before and after each launch. The time between one launch's end event and the next
// one's start event is GPU idle time, the host's launch overhead showing through. The events
// cost the host about a microsecond each, so a profiled step runs a little slower than an
// unprofiled one: measure throughput without it.

// Phases a profiled kernel is counted in: the caller may name the step's current phase (the
// optimizer), else the kernel's kind decides.
const (
	PhaseGEMM        = "gemm"
	PhaseAttention   = "attention"
	PhaseElementwise = "elementwise"
	PhaseOptimizer   = "optimizer"
)

type profiler struct {
	on    bool
	phase string
	spans []span
	pool  []event // events made so far, reused from one profile to the next
	used  int
}

type span struct {
	kernel, phase string
	start, end    event
}

// KernelTime is the GPU time of one kind of kernel in a profile.
type KernelTime struct {
	Kernel, Phase string
	Calls         int
	Ms            float64
}

// Profile is the GPU time of the launches between StartProfile and StopProfile.
type Profile struct {
	Phases  map[string]float64 // ms of kernel time per phase
	Kernels []KernelTime       // by kernel name, most time first
	Launch  int                // launches profiled
	Busy    float64            // ms of kernel time in all
	Idle    float64            // ms between one launch's end and the next one's start
}

// StartProfile starts timing every launch on the GPU.
func (b *Backend) StartProfile() {
	if b.prof == nil {
		b.prof = &profiler{}
	}
	p := b.prof
	p.on, p.phase, p.spans, p.used = true, "", p.spans[:0], 0
}

// SetPhase names the phase the following launches count in ("" lets each kernel's kind
// decide: GEMMs, attention, the rest elementwise). The optimizer step sets PhaseOptimizer.
func (b *Backend) SetPhase(phase string) {
	if b.prof != nil {
		b.prof.phase = phase
	}
}

// StopProfile waits for the GPU and returns the times of the launches since StartProfile.
func (b *Backend) StopProfile() (Profile, error) {
	p := b.prof
	if p == nil || !p.on {
		return Profile{}, fmt.Errorf("cuda: StopProfile without StartProfile")
	}
	p.on = false
	if err := b.drv.sync(); err != nil {
		return Profile{}, fmt.Errorf("cuda: %w", err)
	}
	out := Profile{Phases: map[string]float64{}, Launch: len(p.spans)}
	byKernel := map[string]*KernelTime{}
	for i, s := range p.spans {
		ms, err := b.drv.elapsed(s.start, s.end)
		if err != nil {
			return Profile{}, fmt.Errorf("cuda: timing %s: %w", s.kernel, err)
		}
		if i > 0 {
			gap, err := b.drv.elapsed(p.spans[i-1].end, s.start)
			if err != nil {
				return Profile{}, fmt.Errorf("cuda: timing %s: %w", s.kernel, err)
			}
			out.Idle += max(0, gap)
		}
		out.Busy += ms
		out.Phases[s.phase] += ms
		k := byKernel[s.kernel]
		if k == nil {
			k = &KernelTime{Kernel: s.kernel, Phase: s.phase}
			byKernel[s.kernel] = k
		}
		k.Calls++
		k.Ms += ms
	}
	for _, k := range byKernel {
		out.Kernels = append(out.Kernels, *k)
	}
	sort.Slice(out.Kernels, func(i, j int) bool { return out.Kernels[i].Ms > out.Kernels[j].Ms })
	return out, nil
}

// Write prints the profile: the phases, then the top kernels.
func (p Profile) Write(w io.Writer, top int) {
	fmt.Fprintf(w, "%d launches: %.2f ms of kernels, %.2f ms idle between them\n", p.Launch, p.Busy, p.Idle)
	names := make([]string, 0, len(p.Phases))
	for n := range p.Phases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %9.2f ms %5.1f %%\n", n, p.Phases[n], 100*p.Phases[n]/max(p.Busy, 1e-9))
	}
	fmt.Fprintf(w, "  %-36s %-12s %6s %9s\n", "kernel", "phase", "calls", "ms")
	for i, k := range p.Kernels {
		if i == top {
			break
		}
		fmt.Fprintf(w, "  %-36s %-12s %6d %9.3f\n", k.Kernel, k.Phase, k.Calls, k.Ms)
	}
}

// phaseOf is the phase a kernel counts in when the caller named none.
func phaseOf(kernel string) string {
	switch {
	case kernel == "gemm":
		return PhaseGEMM
	case strings.HasPrefix(kernel, "attention") || strings.HasPrefix(kernel, "flash"):
		return PhaseAttention
	case strings.HasPrefix(kernel, "adamw") || strings.HasPrefix(kernel, "nesterov") || strings.HasPrefix(kernel, "muon"):
		return PhaseOptimizer
	}
	return PhaseElementwise
}

func (p *profiler) event(d deviceDriver) event {
	if p.used == len(p.pool) {
		ev, err := d.newEvent()
		if err != nil {
			panic(fmt.Errorf("cuda: profiler: %w", err))
		}
		p.pool = append(p.pool, ev)
	}
	ev := p.pool[p.used]
	p.used++
	return ev
}

// before is called just before a launch is queued, launched just after.
func (b *Backend) before() {
	if p := b.prof; p != nil && p.on {
		ev := p.event(b.drv)
		if err := b.drv.record(ev); err != nil {
			panic(fmt.Errorf("cuda: profiler: %w", err))
		}
		p.spans = append(p.spans, span{start: ev})
	}
}

func (b *Backend) launched(kernel string) {
	b.launches++
	if p := b.prof; p != nil && p.on && len(p.spans) > 0 && p.spans[len(p.spans)-1].kernel == "" {
		s := &p.spans[len(p.spans)-1]
		s.kernel, s.phase = kernel, p.phase
		if s.phase == "" {
			s.phase = phaseOf(kernel)
		}
		s.end = p.event(b.drv)
		if err := b.drv.record(s.end); err != nil {
			panic(fmt.Errorf("cuda: profiler: %w", err))
		}
	}
}
