package tensor

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// Counter is a Backend that hands every call to another backend and counts
// it: how many kernels a training step issues, of which kinds, and how much
// host time each kind takes. On a GPU a kernel call returns once the kernel
// is queued, so the host time is the launch overhead; on the CPU it is the
// work itself. Wrap a backend to measure a step:
//
//	c := tensor.NewCounter(be)
//	dev := tensor.NewDevice(c)
//	... one step ...
//	c.Report(os.Stdout)
//
// A kind is the Backend method, with the op for the elementwise and reduction
// kernels ("unary relu_square", "binary add"); a GEMM that adds into its
// output (Beta != 0) counts as "gemm+=". One call is one kernel on the CPU;
// a GPU backend may issue more than one for some calls (see its own count).
type Counter struct {
	be    Backend
	stats map[string]*OpStat
}

// OpStat is what a Counter knows of one kind of call.
type OpStat struct {
	Kind  string
	Calls int
	Host  time.Duration
}

// NewCounter wraps be.
func NewCounter(be Backend) *Counter { return &Counter{be: be, stats: map[string]*OpStat{}} }

// Inner is the wrapped backend.
func (c *Counter) Inner() Backend { return c.be }

// Reset forgets everything counted so far.
func (c *Counter) Reset() { clear(c.stats) }

// Stats lists the kinds seen, most calls first (then by name).
func (c *Counter) Stats() []OpStat {
	out := make([]OpStat, 0, len(c.stats))
	for _, s := range c.stats {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Calls != out[j].Calls {
			return out[i].Calls > out[j].Calls
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Calls is the number of calls of kind counted so far.
func (c *Counter) Calls(kind string) int {
	if s := c.stats[kind]; s != nil {
		return s.Calls
	}
	return 0
}

// Total is the number of kernel calls and the host time spent in them. Memory
// calls (Alloc, Free, Write, Read, Sync, Memory) are not kernels: they pass
// through uncounted.
func (c *Counter) Total() (calls int, host time.Duration) {
	for _, s := range c.stats {
		calls += s.Calls
		host += s.Host
	}
	return calls, host
}

// Report writes a table of the counts, most calls first, and the totals.
func (c *Counter) Report(w io.Writer) {
	calls, host := c.Total()
	fmt.Fprintf(w, "%-28s %7s %10s %9s\n", "kernel", "calls", "host ms", "µs/call")
	for _, s := range c.Stats() {
		fmt.Fprintf(w, "%-28s %7d %10.3f %9.2f\n", s.Kind, s.Calls, s.Host.Seconds()*1e3,
			s.Host.Seconds()*1e6/float64(s.Calls))
	}
	fmt.Fprintf(w, "%-28s %7d %10.3f\n", "total", calls, host.Seconds()*1e3)
}

// count runs f as one call of kind.
func (c *Counter) count(kind string, f func()) {
	start := time.Now()
	f()
	el := time.Since(start)
	s := c.stats[kind]
	if s == nil {
		s = &OpStat{Kind: kind}
		c.stats[kind] = s
	}
	s.Calls++
	s.Host += el
}

// ---- optional interfaces of the wrapped backend ----

// PeakFLOPS is the wrapped backend's, 0 when it says nothing.
func (c *Counter) PeakFLOPS() float64 {
	if p, ok := c.be.(interface{ PeakFLOPS() float64 }); ok {
		return p.PeakFLOPS()
	}
	return 0
}

// ActivationDType is the wrapped backend's, F32 when it says nothing.
func (c *Counter) ActivationDType() DType {
	if p, ok := c.be.(interface{ ActivationDType() DType }); ok {
		return p.ActivationDType()
	}
	return F32
}

// Read64 reads at the wrapped backend's full precision where it has more
// than float32.
func (c *Counter) Read64(src Buffer, off int, dst []float64) {
	if io, ok := c.be.(float64IO); ok {
		io.Read64(src, off, dst)
		return
	}
	tmp := make([]float32, len(dst))
	c.be.Read(src, off, tmp)
	for i, v := range tmp {
		dst[i] = float64(v)
	}
}

// Write64 writes at the wrapped backend's full precision where it has more
// than float32.
func (c *Counter) Write64(dst Buffer, off int, src []float64) {
	if io, ok := c.be.(float64IO); ok {
		io.Write64(dst, off, src)
		return
	}
	tmp := make([]float32, len(src))
	for i, v := range src {
		tmp[i] = float32(v)
	}
	c.be.Write(dst, off, tmp)
}

// ---- Backend ----

func (c *Counter) Name() string                                { return c.be.Name() }
func (c *Counter) Alloc(dt DType, n int) Buffer                { return c.be.Alloc(dt, n) }
func (c *Counter) Free(b Buffer)                               { c.be.Free(b) }
func (c *Counter) Write(dst Buffer, off int, src []float32)    { c.be.Write(dst, off, src) }
func (c *Counter) WriteInt32(dst Buffer, off int, src []int32) { c.be.WriteInt32(dst, off, src) }
func (c *Counter) Read(src Buffer, off int, dst []float32)     { c.be.Read(src, off, dst) }
func (c *Counter) Sync() error                                 { return c.be.Sync() }
func (c *Counter) Memory() (inUse, peak int64)                 { return c.be.Memory() }

func (c *Counter) Fill(dst Buffer, off, n int, v float32) {
	c.count("fill", func() { c.be.Fill(dst, off, n, v) })
}

func (c *Counter) Copy(shape []int, dst Buffer, dstOff int, dstStrides []int, src Buffer, srcOff int, srcStrides []int, accumulate bool) {
	kind := "copy"
	if dst.DType() != src.DType() {
		kind = "convert"
	}
	c.count(kind, func() { c.be.Copy(shape, dst, dstOff, dstStrides, src, srcOff, srcStrides, accumulate) })
}

func (c *Counter) Unary(op UnaryOp, dst, x Buffer, n int, a, b float32) {
	c.count("unary "+op.String(), func() { c.be.Unary(op, dst, x, n, a, b) })
}

func (c *Counter) UnaryBackward(op UnaryOp, dx, dy, x, y Buffer, n int, a, b float32) {
	c.count("unary_backward "+op.String(), func() { c.be.UnaryBackward(op, dx, dy, x, y, n, a, b) })
}

func (c *Counter) Binary(op BinaryOp, shape []int, dst, x Buffer, xStrides []int, y Buffer, yStrides []int) {
	c.count("binary "+op.String(), func() { c.be.Binary(op, shape, dst, x, xStrides, y, yStrides) })
}

func (c *Counter) Where(shape []int, dst, cond Buffer, condStrides []int, x Buffer, xStrides []int, y Buffer, yStrides []int) {
	c.count("where", func() { c.be.Where(shape, dst, cond, condStrides, x, xStrides, y, yStrides) })
}

func (c *Counter) Reduce(op ReduceOp, dst, src Buffer, outer, n, inner int, alpha float32) {
	c.count("reduce "+op.String(), func() { c.be.Reduce(op, dst, src, outer, n, inner, alpha) })
}

func (c *Counter) Gemm(g *GemmArgs) {
	kind := "gemm"
	if g.Beta != 0 {
		kind = "gemm+="
	}
	c.count(kind, func() { c.be.Gemm(g) })
}

func (c *Counter) Embedding(dst, table, ids Buffer, n, ch int) {
	c.count("embedding", func() { c.be.Embedding(dst, table, ids, n, ch) })
}

func (c *Counter) EmbeddingBackward(dtable, dout, ids Buffer, n, ch int) {
	c.count("embedding_backward", func() { c.be.EmbeddingBackward(dtable, dout, ids, n, ch) })
}

func (c *Counter) RMSNorm(dst, rstd, x Buffer, n, ch int, eps float32) {
	c.count("rms_norm", func() { c.be.RMSNorm(dst, rstd, x, n, ch, eps) })
}

func (c *Counter) RMSNormBackward(dx, dy, x, rstd Buffer, n, ch int) {
	c.count("rms_norm_backward", func() { c.be.RMSNormBackward(dx, dy, x, rstd, n, ch) })
}

func (c *Counter) Rotary(dst, x, cos, sin Buffer, b, t, h, d int, inverse bool) {
	kind := "rotary"
	if inverse {
		kind = "rotary_inverse"
	}
	c.count(kind, func() { c.be.Rotary(dst, x, cos, sin, b, t, h, d, inverse) })
}

func (c *Counter) RotaryRMSNormBackward(dx, dy, x, rstd, cos, sin Buffer, b, t, h, d int) {
	c.count("rotary_rms_norm_backward", func() { c.be.RotaryRMSNormBackward(dx, dy, x, rstd, cos, sin, b, t, h, d) })
}

func (c *Counter) Attention(a *AttentionArgs) {
	c.count("attention", func() { c.be.Attention(a) })
}

func (c *Counter) AttentionBackward(a *AttentionArgs) {
	c.count("attention_backward", func() { c.be.AttentionBackward(a) })
}

func (c *Counter) CrossEntropy(losses, lse, logits, targets Buffer, n, v int) {
	c.count("cross_entropy", func() { c.be.CrossEntropy(losses, lse, logits, targets, n, v) })
}

func (c *Counter) CrossEntropyBackward(dlogits, dlosses, logits, lse, targets Buffer, n, v int, softcap float32) {
	c.count("cross_entropy_backward", func() {
		c.be.CrossEntropyBackward(dlogits, dlosses, logits, lse, targets, n, v, softcap)
	})
}

func (c *Counter) AdamW(p, g, m, v Buffer, n int, h AdamWArgs) {
	c.count("adamw", func() { c.be.AdamW(p, g, m, v, n, h) })
}

func (c *Counter) Nesterov(g, buf Buffer, n int, momentum float32) {
	c.count("nesterov", func() { c.be.Nesterov(g, buf, n, momentum) })
}

func (c *Counter) Lerp(a, b Buffer, n int, w float32) {
	c.count("lerp", func() { c.be.Lerp(a, b, n, w) })
}

func (c *Counter) MuonUpdate(p, g, s Buffer, np, r, cols int, perRow bool, lr, wd float32) {
	c.count("muon_update", func() { c.be.MuonUpdate(p, g, s, np, r, cols, perRow, lr, wd) })
}

var _ Backend = (*Counter)(nil)

func (c *Counter) LayerNorm(dst, mean, rstd, x, w, b Buffer, n, ch int, eps float32, center bool) {
	c.count("layer_norm", func() { c.be.LayerNorm(dst, mean, rstd, x, w, b, n, ch, eps, center) })
}

func (c *Counter) LayerNormBackward(dx, dw, db, dy, x, mean, rstd, w Buffer, n, ch int, center bool) {
	c.count("layer_norm_backward", func() { c.be.LayerNormBackward(dx, dw, db, dy, x, mean, rstd, w, n, ch, center) })
}

func (c *Counter) Dropout(dst, x Buffer, n int, p float32, seed uint64) {
	c.count("dropout", func() { c.be.Dropout(dst, x, n, p, seed) })
}

func (c *Counter) CrossEntropyOpts(losses, lse, logits, targets Buffer, n, v int, smoothing, zloss float32) {
	c.count("cross_entropy_opts", func() { c.be.CrossEntropyOpts(losses, lse, logits, targets, n, v, smoothing, zloss) })
}

func (c *Counter) CrossEntropyOptsBackward(dlogits, dlosses, logits, lse, targets Buffer, n, v int, softcap, smoothing, zloss float32) {
	c.count("cross_entropy_opts_backward", func() {
		c.be.CrossEntropyOptsBackward(dlogits, dlosses, logits, lse, targets, n, v, softcap, smoothing, zloss)
	})
}

func (c *Counter) TopK(idx, x Buffer, n, ch, k int) {
	c.count("topk", func() { c.be.TopK(idx, x, n, ch, k) })
}

func (c *Counter) Gather(dst, x, idx Buffer, n, ch, k int) {
	c.count("gather", func() { c.be.Gather(dst, x, idx, n, ch, k) })
}

func (c *Counter) ScatterAdd(dst, src, idx Buffer, n, ch, k int) {
	c.count("scatter_add", func() { c.be.ScatterAdd(dst, src, idx, n, ch, k) })
}
