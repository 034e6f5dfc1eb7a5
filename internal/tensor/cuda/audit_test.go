//go:build cuda || cudaemu

package cuda

// The audit of a depth-8 training step at batch 128, the gpu profile's device batch, where
// the logits hold B·T·V = 128·2048·8192 = 2^31 elements, one past the largest int32: every
// kernel launch and cuBLAS call the step issues is recorded by a driver that has no memory
// (shapeDriver: allocations are addresses only, copies do nothing, launches run nothing) and
// checked against the limits of its types: grid dimensions against CUDA's (x < 2^31, y and z
// < 2^16), blocks against 1024 threads, every kernel argument against its C parameter type
// (read from the kernel sources), and cuBLAS's int arguments against int32. The kernels index
// with i64 (common.cuh: AR_FOR, Dims); a 32-bit scalar parameter would be checked here too.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"testing"

	"autoresearch/internal/tensor"
	"autoresearch/internal/tensor/cuda/kernels"
)

// shapeDriver is a deviceDriver without a device: memory is a counter of addresses, launches
// and GEMMs are recorded, not run.
type shapeDriver struct {
	next     devptr
	names    map[kfunc]string
	launches []launchRecord
	gemms    []gemmCall
}

type launchRecord struct {
	kernel      string
	grid        [3]int
	block, smem int
	args        [][]uint64 // each argument's words
}

func newShapeDriver() *shapeDriver { return &shapeDriver{next: 1 << 40, names: map[kfunc]string{}} }

func (d *shapeDriver) String() string     { return "shape-only driver" }
func (d *shapeDriver) deviceName() string { return "shape-only driver" }
func (d *shapeDriver) close()             {}
func (d *shapeDriver) malloc(n int64) (devptr, error) {
	p := d.next
	d.next += devptr((n + 255) / 256 * 256)
	return p, nil
}
func (d *shapeDriver) free(devptr)                         {}
func (d *shapeDriver) upload(devptr, []byte) error         { return nil }
func (d *shapeDriver) download(dst []byte, _ devptr) error { clear(dst); return nil }
func (d *shapeDriver) loadKernels() (map[string]kfunc, error) {
	fns := map[string]kfunc{}
	for _, s := range kernels.Sources() {
		for _, k := range kernels.Kernels(s) {
			fns[k] = kfunc(len(fns) + 1)
			d.names[fns[k]] = k
		}
	}
	return fns, nil
}
func (d *shapeDriver) maxDynamicSmem() int { return 227 * 1024 } // an H100's or H200's opt-in limit
func (d *shapeDriver) launch(k kfunc, grid [3]int, block, smem int, a *kargs) error {
	r := launchRecord{kernel: d.names[k], grid: grid, block: block, smem: smem}
	for i := range a.na {
		end := int32(a.nw)
		if i+1 < a.na {
			end = a.offs[i+1]
		}
		r.args = append(r.args, append([]uint64(nil), a.words[a.offs[i]:end]...))
	}
	d.launches = append(d.launches, r)
	return nil
}
func (d *shapeDriver) gemm(c *gemmCall) error              { d.gemms = append(d.gemms, *c); return nil }
func (d *shapeDriver) sync() error                         { return nil }
func (d *shapeDriver) computeCapability() int              { return 90 }
func (d *shapeDriver) newEvent() (event, error)            { var e event; return e, nil }
func (d *shapeDriver) record(event) error                  { return nil }
func (d *shapeDriver) elapsed(_, _ event) (float64, error) { return 0, nil }

// kernelParams reads every kernel's parameter types from the sources: "ptr" for a pointer,
// else the type's name (i64, float, Dims, ...).
func kernelParams(t *testing.T) map[string][]string {
	t.Helper()
	sig := regexp.MustCompile(`extern "C" __global__ void (\w+)\(([^)]*)\)`)
	params := map[string][]string{}
	for _, s := range kernels.Sources() {
		for _, m := range sig.FindAllStringSubmatch(s.Code, -1) {
			var types []string
			for _, p := range strings.Split(m[2], ",") {
				p = strings.Join(strings.Fields(p), " ")
				if strings.Contains(p, "*") {
					types = append(types, "ptr")
					continue
				}
				f := strings.Fields(strings.TrimPrefix(p, "const "))
				types = append(types, strings.Join(f[:len(f)-1], " "))
			}
			params[m[1]] = types
		}
	}
	for _, s := range kernels.Sources() {
		for _, k := range kernels.Kernels(s) {
			if _, ok := params[k]; !ok {
				t.Fatalf("no signature found for kernel %s of %s", k, s.Name)
			}
		}
	}
	return params
}

// The words of the argument structs (common.cuh, attention.cu, flash.cu): all i64.
var structWords = map[string]int{"Dims": 2 + maxRank + 3*maxRank, "AttDims": 6, "FlashDims": 6}

// checkArg checks one argument's words against its C type and returns what is wrong, if
// anything.
func checkArg(typ string, words []uint64) string {
	if n, ok := structWords[typ]; ok {
		if len(words) != n {
			return fmt.Sprintf("%s of %d words, want %d", typ, len(words), n)
		}
		if typ == "Dims" {
			rank, n := int64(words[0]), int64(words[1])
			prod := int64(1)
			for j := range rank {
				prod *= int64(words[2+j])
			}
			if rank < 1 || rank > maxRank || n != prod {
				return fmt.Sprintf("Dims rank %d, n %d, shape product %d", rank, n, prod)
			}
		}
		return ""
	}
	if len(words) != 1 {
		return fmt.Sprintf("%s passed as %d words", typ, len(words))
	}
	w := words[0]
	switch typ {
	case "ptr":
		if w == 0 {
			return "null pointer"
		}
	case "i64", "long long":
	case "float":
		if w>>32 != 0 {
			return fmt.Sprintf("float word %#x has a high half", w)
		}
	case "int", "int32_t":
		if v := int64(w); v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Sprintf("%d does not fit a 32-bit int", v)
		}
	case "unsigned", "unsigned int", "u32", "uint32_t":
		if w > math.MaxUint32 {
			return fmt.Sprintf("%d does not fit a 32-bit unsigned", w)
		}
	default:
		return "a parameter type the audit does not know: teach it"
	}
	return ""
}

func TestAuditDepth8Batch128(t *testing.T) {
	params := kernelParams(t)
	for _, mode := range []struct {
		name string
		bf16 bool
	}{{"bf16 activations, flash attention", true}, {"f32 activations, tiled attention", false}} {
		t.Run(mode.name, func(t *testing.T) {
			drv := newShapeDriver()
			fns, _ := drv.loadKernels()
			b := &Backend{drv: drv, fns: fns, tf32: true, bf16: mode.bf16, flash: true}
			b.pool = newPool(drv.malloc, drv.free)
			cfg := depth8(128)
			if n := cfg.B * cfg.T * cfg.V; n != 1<<31 {
				t.Fatalf("logits of %d elements, want 2^31", n)
			}
			d := tensor.NewDevice(b)
			m := newGPT(d, 1, cfg)
			tr := newTrainer(d, m)
			x, y := randomBatch(d, rand.New(rand.NewPCG(1, 2)), cfg)
			tr.stepOn(m, [][2]*tensor.Tensor{{x, y}})
			if len(drv.launches) == 0 || len(drv.gemms) == 0 {
				t.Fatalf("%d launches and %d GEMMs recorded", len(drv.launches), len(drv.gemms))
			}

			problems := map[string]int{} // distinct problem -> how often
			report := func(format string, args ...any) { problems[fmt.Sprintf(format, args...)]++ }
			var maxGrid [3]int
			maxThreads := 0
			for _, l := range drv.launches {
				types := params[l.kernel]
				if len(types) != len(l.args) {
					report("%s: %d arguments for %d parameters", l.kernel, len(l.args), len(types))
					continue
				}
				for i, typ := range types {
					if msg := checkArg(typ, l.args[i]); msg != "" {
						report("%s: argument %d (%s): %s", l.kernel, i, typ, msg)
					}
				}
				for j, g := range l.grid {
					limit := 65535
					if j == 0 {
						limit = math.MaxInt32
					}
					if g < 1 || g > limit {
						report("%s: grid %v: dimension %d outside [1, %d]", l.kernel, l.grid, j, limit)
					}
					maxGrid[j] = max(maxGrid[j], g)
				}
				if l.block < 32 || l.block > 1024 || l.block%32 != 0 {
					report("%s: block of %d threads", l.kernel, l.block)
				}
				// blockIdx.x * blockDim.x + threadIdx.x is computed in 32 bits before any cast.
				if threads := l.grid[0] * l.block; threads > math.MaxInt32 {
					report("%s: %d threads along x overflow a 32-bit index", l.kernel, threads)
				} else {
					maxThreads = max(maxThreads, threads)
				}
				if l.smem > drv.maxDynamicSmem() {
					report("%s: %d bytes of shared memory", l.kernel, l.smem)
				}
			}
			largest := 0
			for _, g := range drv.gemms {
				for _, v := range []struct {
					name string
					v    int
				}{{"m", g.m}, {"n", g.n}, {"k", g.k}, {"lda", g.lda}, {"ldb", g.ldb}, {"ldc", g.ldc}, {"batch", g.batch}} {
					if v.v < 0 || v.v > math.MaxInt32 {
						report("cuBLAS: %s = %d does not fit its int", v.name, v.v)
					}
				}
				largest = max(largest, g.m*g.n*g.batch)
			}
			var list []string
			for p, n := range problems {
				list = append(list, fmt.Sprintf("%s (%d launches)", p, n))
			}
			sort.Strings(list)
			for _, p := range list {
				t.Error(p)
			}
			t.Logf("%d kernel launches, %d cuBLAS calls; largest grid %v, most threads along x %d; largest GEMM output %d elements (%.2f × 2^31)",
				len(drv.launches), len(drv.gemms), maxGrid, maxThreads, largest, float64(largest)/(1<<31))
		})
	}
}

// The argument checks catch what they are for.
func TestAuditArgumentChecks(t *testing.T) {
	for _, c := range []struct {
		typ   string
		words []uint64
		bad   bool
	}{
		{"int", []uint64{uint64(math.MaxInt32)}, false},
		{"int", []uint64{1 << 31}, true},
		{"int", []uint64{uint64(0xffffffffffffffff)}, false}, // -1
		{"unsigned", []uint64{1 << 32}, true},
		{"float", []uint64{uint64(math.Float32bits(1.5))}, false},
		{"float", []uint64{1 << 40}, true},
		{"ptr", []uint64{0}, true},
		{"i64", []uint64{1 << 40}, false},
		{"AttDims", make([]uint64, 5), true},
		{"Dims", append([]uint64{2, 6, 2, 3}, make([]uint64, 30)...), false},
		{"Dims", append([]uint64{2, 7, 2, 3}, make([]uint64, 30)...), true},
		{"short", []uint64{1}, true},
	} {
		if msg := checkArg(c.typ, c.words); (msg != "") != c.bad {
			t.Errorf("checkArg(%s, %v) = %q, want a problem: %v", c.typ, c.words, msg, c.bad)
		}
	}
}
