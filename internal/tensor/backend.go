package tensor

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// This file is the complete list of what a device must do. Everything above
// it (Tensor, autograd, every op) is device-agnostic Go that calls these
// kernels, so a new device implements Backend and nothing else.
//
// Conventions shared by every kernel:
//
//   - A Buffer is an opaque allocation of Len() elements of one DType. Element
//     offsets, strides and lengths are counted in elements, never bytes.
//   - Float data is F32 (or BF16 where the backend supports it); token ids and
//     targets are I32. A kernel's float buffers all have one dtype unless its
//     comment says otherwise; arithmetic is in float32 at least, whatever
//     the storage. A backend that stores BF16 gets mixed dtypes only where a
//     comment allows them (a backend without BF16 never sees any).
//   - "Contiguous [A, B, C]" means row-major: element (a, b, c) is at
//     a*B*C + b*C + c from the start of the buffer.
//   - A shape has at most MaxRank axes. A stride of 0 repeats (broadcasts) one
//     element along that axis; negative strides are never used.
//   - Output buffers are overwritten unless the kernel says it accumulates.
//     An output may alias an input only where the comment allows it.
//   - Kernels are asynchronous on devices that can be: they return before the
//     work is done and run in issue order. Read and Sync wait. A kernel that
//     meets an impossible argument or a device failure panics with an error
//     that names the kernel; Sync reports failures of work already issued.
//
// Shape legend for the fused kernels: B batch, T time (sequence position),
// H query heads, KVH key/value heads (H is a multiple of KVH), D head dim,
// C channels, V vocabulary, N rows.

// MaxRank is the largest number of axes a kernel's shape may have.
const MaxRank = 8

// DType is the element type of a Buffer.
type DType uint8

const (
	F32  DType = iota // IEEE float32
	BF16              // bfloat16 storage, float32 arithmetic; CPU refuses it
	I32               // int32: token ids and targets
)

func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case BF16:
		return "bf16"
	case I32:
		return "i32"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the number of bytes of one element.
func (d DType) Size() int {
	if d == BF16 {
		return 2
	}
	return 4
}

// Buffer is a device allocation. Only the backend that made it may use it.
type Buffer interface {
	Len() int
	DType() DType
}

// UnaryOp names an elementwise function y = f(x; a, b) of one input and two
// scalar parameters a and b (unused ones are ignored). UnaryBackward computes
// dx = dy * f'(x) for the same op.
type UnaryOp uint8

const (
	Affine     UnaryOp = iota // y = a*x + b;           dy/dx = a
	Exp                       // y = exp(x);            dy/dx = y
	Log                       // y = ln(x);             dy/dx = 1/x
	Sqrt                      // y = sqrt(x);           dy/dx = 1/(2y)
	Rsqrt                     // y = 1/sqrt(x);         dy/dx = -y^3/2
	Recip                     // y = 1/x;               dy/dx = -y^2
	Square                    // y = x^2;               dy/dx = 2x
	Abs                       // y = |x|;               dy/dx = sign(x) (0 at 0)
	Relu                      // y = max(x, 0);         dy/dx = 1 if x > 0 else 0
	ReluSquare                // y = max(x, 0)^2;       dy/dx = 2*max(x, 0)
	Sigmoid                   // y = 1/(1+exp(-x));     dy/dx = y*(1-y)
	Tanh                      // y = tanh(x);           dy/dx = 1-y^2
	Softcap                   // y = a*tanh(x/a);       dy/dx = 1-(y/a)^2
	ClampMin                  // y = max(x, a);         dy/dx = 1 if x >= a else 0
	ClampMax                  // y = min(x, a);         dy/dx = 1 if x <= a else 0
	StepGE                    // y = 1 if x >= a else 0; dy/dx = 0
	PowScalar                 // y = x^a (x > 0);       dy/dx = a*x^(a-1)
	GELU                      // y = x*Φ(x), Φ(x) = (1+erf(x/√2))/2; dy/dx = Φ(x) + x*e^(-x²/2)/√(2π)
	GELUTanh                  // y = x/2*(1+tanh u), u = √(2/π)*(x+0.044715x³) (see geluTanhGrad)
	SiLU                      // y = x*σ(x);            dy/dx = σ(x)*(1+x*(1-σ(x)))
	Softplus                  // y = ln(1+e^x) (x above 20); dy/dx = σ(x)
	Mish                      // y = x*tanh(softplus(x)); dy/dx = tanh(sp) + x*(1-tanh²(sp))*σ(x)
	numUnaryOps
)

var unaryNames = [...]string{"affine", "exp", "log", "sqrt", "rsqrt", "recip", "square", "abs", "relu",
	"relu_square", "sigmoid", "tanh", "softcap", "clamp_min", "clamp_max", "step_ge", "pow_scalar",
	"gelu", "gelu_tanh", "silu", "softplus", "mish"}

func (o UnaryOp) String() string {
	if int(o) < len(unaryNames) {
		return unaryNames[o]
	}
	return fmt.Sprintf("unary(%d)", uint8(o))
}

// BinaryOp names an elementwise function z = f(x, y).
type BinaryOp uint8

const (
	Add BinaryOp = iota // z = x + y
	Sub                 // z = x - y
	Mul                 // z = x * y
	Div                 // z = x / y
	Max                 // z = max(x, y)
	Min                 // z = min(x, y)
	Eq                  // z = 1 if x == y else 0
	GE                  // z = 1 if x >= y else 0
	numBinaryOps
)

var binaryNames = [...]string{"add", "sub", "mul", "div", "max", "min", "eq", "ge"}

func (o BinaryOp) String() string {
	if int(o) < len(binaryNames) {
		return binaryNames[o]
	}
	return fmt.Sprintf("binary(%d)", uint8(o))
}

// ReduceOp names a reduction over the middle axis of an [outer, n, inner] view.
type ReduceOp uint8

const (
	Sum        ReduceOp = iota // alpha * Σ x
	MaxReduce                  // alpha * max x
	SumSquares                 // alpha * Σ x²
	numReduceOps
)

var reduceNames = [...]string{"sum", "max", "sum_squares"}

func (o ReduceOp) String() string {
	if int(o) < len(reduceNames) {
		return reduceNames[o]
	}
	return fmt.Sprintf("reduce(%d)", uint8(o))
}

// GemmArgs describes Batch independent products, for i in [0, Batch):
//
//	C_i = Alpha * op(A_i) · op(B_i) + Beta * C_i
//
// with op(A_i) of shape [M, K], op(B_i) of shape [K, N] and C_i of shape
// [M, N], all row-major with leading dimensions (row pitches) LdA, LdB, LdC:
//
//	TransA false: op(A_i)[m, k] = A[OffA + i*StrideA + m*LdA + k]   (A_i stored [M, K])
//	TransA true:  op(A_i)[m, k] = A[OffA + i*StrideA + k*LdA + m]   (A_i stored [K, M])
//	TransB false: op(B_i)[k, n] = B[OffB + i*StrideB + k*LdB + n]   (B_i stored [K, N])
//	TransB true:  op(B_i)[k, n] = B[OffB + i*StrideB + n*LdB + k]   (B_i stored [N, K])
//	C_i[m, n] = C[OffC + i*StrideC + m*LdC + n]
//
// StrideA or StrideB may be 0 (one matrix shared by every batch entry).
// Beta = 0 ignores C's old contents (NaN included); Beta = 1 accumulates,
// which is how gradients add up without an extra pass. C must not overlap A
// or B. K may be 0 (then C_i = Beta*C_i). Accumulation is in float32 at
// least. A column-major library (cuBLAS) computes the same thing as
// Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands and M, N swapped.
type GemmArgs struct {
	TransA, TransB     bool
	M, N, K, Batch     int
	Alpha, Beta        float32
	A                  Buffer
	OffA, LdA, StrideA int
	B                  Buffer
	OffB, LdB, StrideB int
	C                  Buffer
	OffC, LdC, StrideC int
}

// AttentionArgs describes causal scaled-dot-product attention with grouped
// query heads and an optional sliding window, the original's
// flash_attn_func(q, k, v, causal=True, window_size=(Window, 0)):
//
//	Q, Out  contiguous [B, T, H, D]
//	K, V    contiguous [B, T, KVH, D]; query head h reads key/value head h / (H/KVH)
//	LSE     contiguous [B, H, T] float32: the log-sum-exp of each query's
//	        scaled scores, written by the forward, read by the backward
//
// Query t of batch b and head h sees key s when s <= t and (Window < 0 or
// s >= t - Window), i.e. Window+1 keys at most. With S(t, s) = Scale * q·k
// over the visible s:
//
//	LSE[b, h, t] = log Σ_s exp(S(t, s))
//	Out[b, t, h] = Σ_s exp(S(t, s) - LSE[b, h, t]) * v_s
//
// The backward, given DOut [B, T, H, D], overwrites DQ [B, T, H, D] and DK,
// DV [B, T, KVH, D] (gradients of every query head of a group are summed
// into its key/value head). With P = exp(S - LSE) and
// Δ_t = Σ_d DOut_t·Out_t:
//
//	DV_s = Σ_t P(t,s) DOut_t
//	dS(t,s) = P(t,s) * (DOut_t·v_s - Δ_t)
//	DQ_t = Scale * Σ_s dS(t,s) k_s;   DK_s = Scale * Σ_t dS(t,s) q_t
type AttentionArgs struct {
	B, T, H, KVH, D int
	Window          int // visible keys to the left of the query; < 0 for all
	Scale           float32
	Q, K, V         Buffer
	Out, LSE        Buffer
	// Backward only.
	DOut, DQ, DK, DV Buffer
}

// AdamWArgs are the hyperparameters of one AdamW step, the original's
// adamw_step_fused. Step counts from 1.
type AdamWArgs struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int
}

// Backend is a device: memory plus kernels. Implementations need not be safe
// for concurrent use; the Tensor layer calls a backend from one goroutine.
// Optionally a backend also has PeakFLOPS() float64 (see Device.PeakFLOPS)
// and ActivationDType() DType (see Device.ActivationDType: BF16 makes the
// tensor layer keep activations in BF16).
type Backend interface {
	// Name is the name the backend was opened under ("cpu", "cuda").
	Name() string

	// ---- memory ----

	// Alloc returns a buffer of n elements of dtype dt (n >= 1). Its contents
	// are undefined. It panics with a clear error when dt is unsupported or
	// memory is exhausted.
	Alloc(dt DType, n int) Buffer
	// Free returns b to the backend; b must not be used afterwards.
	Free(b Buffer)
	// Write copies len(src) float32 values into dst[off:] (converting to
	// dst's float dtype). src may be reused as soon as Write returns.
	Write(dst Buffer, off int, src []float32)
	// WriteInt32 copies len(src) values into the I32 buffer dst[off:]; src
	// may be reused as soon as it returns.
	WriteInt32(dst Buffer, off int, src []int32)
	// Read copies len(dst) values from src[off:] into dst, converting to
	// float32, after all issued work is done.
	Read(src Buffer, off int, dst []float32)
	// Sync waits for all issued work and reports any failure it met.
	Sync() error
	// Memory reports the bytes of live buffers now and the most ever live at
	// once (the summary's peak memory); memory a backend caches for reuse is
	// not counted.
	Memory() (inUse, peak int64)

	// ---- layout ----

	// Fill sets dst[off : off+n] to v; an I32 buffer gets int32(v) (v is a
	// whole number of magnitude at most 2²⁴, exact in float32).
	Fill(dst Buffer, off, n int, v float32)
	// Copy is the strided N-d copy behind transpose, permute, slice, concat,
	// stack and broadcast. For every index i over shape:
	//
	//	dst[dstOff + Σ i_j*dstStrides_j] (+)= src[srcOff + Σ i_j*srcStrides_j]
	//
	// with += when accumulate is set. dst strides never repeat an element
	// (no 0 strides where the axis has more than one element); src strides may.
	// dst and src are distinct buffers of the same dtype (F32 or I32), or of
	// two float dtypes (F32 and BF16): then the copy converts.
	Copy(shape []int, dst Buffer, dstOff int, dstStrides []int, src Buffer, srcOff int, srcStrides []int, accumulate bool)

	// ---- elementwise ----

	// Unary sets dst[i] = op(x[i]; a, b) for i < n. dst may be x.
	Unary(op UnaryOp, dst, x Buffer, n int, a, b float32)
	// UnaryBackward sets dx[i] = dy[i] * op'(x[i]) for i < n, where y is the
	// forward's output (op(x)); each op's derivative is in its UnaryOp comment.
	// dx may be dy.
	UnaryBackward(op UnaryOp, dx, dy, x, y Buffer, n int, a, b float32)
	// Binary sets, for every index i over shape, with dst contiguous in shape:
	//
	//	dst[i] = op(x[Σ i_j*xStrides_j], y[Σ i_j*yStrides_j])
	//
	// Strides of 0 broadcast. dst may be x (or y) when that input's strides
	// are dst's own contiguous strides. dst, x and y may have different float
	// dtypes (the op computes in float32 and stores in dst's).
	Binary(op BinaryOp, shape []int, dst, x Buffer, xStrides []int, y Buffer, yStrides []int)
	// Where is Binary's three-input sibling: dst[i] = cond[..] != 0 ? x[..] : y[..].
	Where(shape []int, dst, cond Buffer, condStrides []int, x Buffer, xStrides []int, y Buffer, yStrides []int)

	// ---- reductions ----

	// Reduce reads src as contiguous [outer, n, inner] and sets, for every
	// (o, j), dst[o*inner + j] = op over k < n of src[(o*n + k)*inner + j],
	// times alpha (dst is contiguous [outer, inner]). n >= 1. The sums are
	// float32 at least whatever the dtypes; dst and src may differ in float
	// dtype (the tensor layer reduces into F32, or into a broadcast input's
	// own dtype for its gradient).
	Reduce(op ReduceOp, dst, src Buffer, outer, n, inner int, alpha float32)

	// ---- matrix products ----

	// Gemm computes the strided-batched product described by g.
	Gemm(g *GemmArgs)

	// ---- fused layers, each forward above its backward ----

	// Embedding: dst [N, C] row i = table row ids[i]; table [V, C], ids I32 [N]
	// with every id in [0, V) (the Tensor layer checks). dst may have
	// another float dtype than table (the rows convert).
	Embedding(dst, table, ids Buffer, n, c int)
	// EmbeddingBackward accumulates dtable[ids[i], :] += dout[i, :] for
	// i < n (a scatter-add; ids repeat, so a GPU needs atomics or sorting).
	// dout may have another float dtype than dtable.
	EmbeddingBackward(dtable, dout, ids Buffer, n, c int)

	// RMSNorm normalises each row of x [N, C] without a weight:
	// rstd[i] = 1/sqrt(mean_j x[i,j]² + eps), dst[i,j] = x[i,j]*rstd[i].
	// rstd [N], F32 whatever x's dtype, is saved for the backward.
	RMSNorm(dst, rstd, x Buffer, n, c int, eps float32)
	// RMSNormBackward overwrites dx [N, C] (rstd F32, the others x's dtype):
	// dx[i,j] = rstd[i]*dy[i,j] - rstd[i]³/C * x[i,j] * Σ_k dy[i,k]*x[i,k].
	RMSNormBackward(dx, dy, x, rstd Buffer, n, c int)

	// Rotary applies the rotary embedding to x [B, T, H, D] (D even, d = D/2)
	// with cos, sin contiguous [T, d] (rows beyond T unused):
	//
	//	dst[..., j]   =  x[..., j]*cos[t, j] + x[..., j+d]*sin[t, j]
	//	dst[..., j+d] = -x[..., j]*sin[t, j] + x[..., j+d]*cos[t, j]
	//
	// With inverse set it rotates the other way (sin negated), which is also
	// the backward: dx = Rotary(dy, inverse). dst may be x.
	Rotary(dst, x, cos, sin Buffer, b, t, h, d int, inverse bool)

	// RotaryRMSNormBackward is the backward of RMSNorm(Rotary(x)) over rows of
	// D, QK-norm after the rotary embedding, in one pass: with y = Rotary(x)
	// recomputed from x [B, T, H, D] and cos, sin as Rotary's,
	//
	//	dx = Rotary⁻¹(RMSNormBackward(dy, y, rstd))
	//
	// dx, dy and x share a float dtype; rstd [B*T*H] is F32.
	RotaryRMSNormBackward(dx, dy, x, rstd, cos, sin Buffer, b, t, h, d int)

	// Attention runs the forward described by a (Out and LSE written).
	Attention(a *AttentionArgs)
	// AttentionBackward writes DQ, DK, DV from DOut, Q, K, V, Out and LSE.
	AttentionBackward(a *AttentionArgs)

	// CrossEntropy: logits [N, V] of any float dtype, targets I32 [N],
	// losses and lse [N] F32. For each row i, lse[i] = log Σ_v exp(logits[i, v])
	// and losses[i] = lse[i] - logits[i, targets[i]]; a negative target
	// (ignored) gives losses[i] = 0.
	CrossEntropy(losses, lse, logits, targets Buffer, n, v int)
	// CrossEntropyBackward overwrites dlogits [N, V] (logits' dtype; dlosses
	// and lse F32). With softcap = 0, y is logits and
	//
	//	dlogits[i, v] = dlosses[i] * (exp(y[i,v] - lse[i]) - [v == targets[i]]),
	//
	// and 0 for every v of an ignored row. With softcap c > 0, logits are the
	// raw logits x of a loss over y = c*tanh(x/c) (the lse is y's): y is
	// recomputed and the result is the gradient with respect to x, the
	// expression above times 1 - (y/c)², in one pass. dlogits may be logits.
	CrossEntropyBackward(dlogits, dlosses, logits, lse, targets Buffer, n, v int, softcap float32)

	// LayerNorm normalises each row of x [N, C] and applies an optional
	// elementwise affine map (F.layer_norm; with center false, F.rms_norm
	// with a weight):
	//
	//	mean[i] = center ? mean_j x[i,j] : 0
	//	rstd[i] = 1/sqrt(mean_j (x[i,j]-mean[i])² + eps)
	//	dst[i,j] = (x[i,j]-mean[i])*rstd[i]*w[j] + b[j]
	//
	// w and b [C] may be nil (1 and 0). mean, rstd [N], w and b are F32;
	// dst and x share a float dtype.
	LayerNorm(dst, mean, rstd, x, w, b Buffer, n, c int, eps float32, center bool)
	// LayerNormBackward overwrites dx [N, C] (x's dtype) and, where not nil,
	// dw and db [C] (F32). With xh = (x-mean)*rstd and gh = dy*w (dy where w
	// is nil), per row:
	//
	//	dx = rstd*(gh - mean_j gh - xh*mean_j(gh*xh))   (center)
	//	dx = rstd*(gh - xh*mean_j(gh*xh))               (not center)
	//	dw[j] = Σ_i dy[i,j]*xh[i,j];   db[j] = Σ_i dy[i,j]
	LayerNormBackward(dx, dw, db, dy, x, mean, rstd, w Buffer, n, c int, center bool)

	// Dropout sets dst[i] = x[i]/(1-p) where DropoutKeep(seed, i, p), else 0,
	// for i < n. The mask is a hash of (seed, i), so the backward is the
	// same call on dy, and every device draws the same mask. dst may be x.
	Dropout(dst, x Buffer, n int, p float32, seed uint64)

	// CrossEntropyOpts is CrossEntropy with label smoothing ε and a z-loss
	// weight z (F.cross_entropy(label_smoothing=ε) plus z*lse², PaLM's
	// z-loss). With y the logits of row i and t its target:
	//
	//	losses[i] = lse[i] - (1-ε)*y[t] - ε*mean_v y[v] + z*lse[i]²
	//
	// (0 for an ignored row); lse as CrossEntropy's.
	CrossEntropyOpts(losses, lse, logits, targets Buffer, n, v int, smoothing, zloss float32)
	// CrossEntropyOptsBackward overwrites dlogits as CrossEntropyBackward
	// does (softcap included), for the loss above:
	//
	//	dlogits[i, v] = dlosses[i] * ((1+2z*lse[i])*exp(y[v]-lse[i]) - (1-ε)[v == t] - ε/V)
	CrossEntropyOptsBackward(dlogits, dlosses, logits, lse, targets Buffer, n, v int, softcap, smoothing, zloss float32)

	// ---- gather and scatter along the last axis (top-k routing) ----

	// TopK writes into idx I32 [N, K] the columns of the K largest values of
	// each row of x [N, C], largest first (K <= C). Ties go to the lower
	// column; NaN ranks below every number.
	TopK(idx, x Buffer, n, c, k int)
	// Gather sets dst[i, j] = x[i, idx[i, j]]: x [N, C], idx I32 [N, K] with
	// every index in [0, C), dst [N, K] of x's dtype (torch.gather(x, -1, idx)).
	Gather(dst, x, idx Buffer, n, c, k int)
	// ScatterAdd accumulates dst[i, idx[i, j]] += src[i, j]: dst [N, C], src
	// [N, K] of dst's dtype (indices may repeat: a GPU needs atomics).
	ScatterAdd(dst, src, idx Buffer, n, c, k int)

	// ---- optimizer updates (in place, no autograd) ----

	// AdamW updates n elements of parameter p with gradient g and moments m,
	// v exactly as the original's adamw_step_fused:
	//
	//	p *= 1 - LR*WeightDecay
	//	m = lerp(m, g, 1-Beta1);  v = lerp(v, g², 1-Beta2)
	//	p -= LR/(1-Beta1^Step) * m / (sqrt(v/(1-Beta2^Step)) + Eps)
	AdamW(p, g, m, v Buffer, n int, h AdamWArgs)
	// Nesterov is Muon's momentum step on n elements, in place:
	//
	//	buf = lerp(buf, g, 1-momentum);  g = lerp(g, buf, momentum)
	Nesterov(g, buf Buffer, n int, momentum float32)
	// Lerp moves n elements of a toward b in place, an exponential moving
	// average (a weight EMA, Muon's second moment):
	//
	//	a = a + w*(b - a)
	//
	// a and b are F32 and distinct.
	Lerp(a, b Buffer, n int, w float32)
	// MuonUpdate is the tail of Muon on a stack of matrices p, g contiguous
	// [P, R, C] with per-row or per-column scales s: with u = g*s (s contiguous
	// [P, R] read at [p, r] when perRow, else [P, C] read at [p, c]),
	//
	//	p -= lr*u + (u*p >= 0 ? lr*wd*p : 0)      (cautious weight decay)
	MuonUpdate(p, g, s Buffer, np, r, c int, perRow bool, lr, wd float32)
}

var (
	registryMu sync.Mutex
	registry   = map[string]func() (Backend, error){}
)

// RegisterBackend makes a backend available to Open under name. Backends
// call it from an init function (the CUDA backend's package does, under the
// cuda build tag).
func RegisterBackend(name string, open func() (Backend, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("tensor: backend %q registered twice", name))
	}
	registry[name] = open
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func openBackend(name string) (Backend, error) {
	registryMu.Lock()
	open, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		hint := ""
		if name == "cuda" {
			hint = " (build the training program with -tags cuda and import autoresearch/internal/tensor/cuda)"
		}
		return nil, fmt.Errorf("unknown device %q: this binary has %s%s", name, strings.Join(Backends(), ", "), hint)
	}
	return open()
}
