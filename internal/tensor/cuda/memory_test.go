//go:build cuda || cudaemu

package cuda

// How much device memory gpt/train.go's default step needs (the depth-8 model, device batch 128
// of 2048 tokens, two micro-steps, MuonAdamW), measured without a GPU: a backend that runs no
// kernel but allocates like this one (the caching allocator's buckets) replays the step's
// allocations and frees at full size in a second.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"autoresearch/internal/tensor"
)

// dryBackend keeps the books of an allocator and does nothing else: every kernel returns at
// once and reads give zeros. Its activation dtype is bf16 or f32, as the CUDA backend's.
type dryBackend struct {
	act                 tensor.DType
	inUse, peak         int64 // bytes of live requests, as the pool accounts them
	reserved, peakReser int64 // bytes of the pool's blocks, live and cached
	free                map[int64]int
}

type dryBuf struct {
	n    int
	dt   tensor.DType
	size int64
}

func (b *dryBuf) Len() int            { return b.n }
func (b *dryBuf) DType() tensor.DType { return b.dt }

func newDry(act tensor.DType) *dryBackend { return &dryBackend{act: act, free: map[int64]int{}} }

func (d *dryBackend) Name() string                  { return "dry" }
func (d *dryBackend) ActivationDType() tensor.DType { return d.act }
func (d *dryBackend) Alloc(dt tensor.DType, n int) tensor.Buffer {
	want := int64(n) * int64(dt.Size())
	size := bucketSize(want)
	if d.free[size] > 0 {
		d.free[size]--
	} else {
		d.reserved += size
		d.peakReser = max(d.peakReser, d.reserved)
	}
	d.inUse += accounted(want)
	d.peak = max(d.peak, d.inUse)
	return &dryBuf{n: n, dt: dt, size: size}
}
func (d *dryBackend) Free(b tensor.Buffer) {
	bb := b.(*dryBuf)
	d.inUse -= accounted(int64(bb.n) * int64(bb.dt.Size()))
	d.free[bb.size]++
}
func (d *dryBackend) Write(tensor.Buffer, int, []float32)    {}
func (d *dryBackend) WriteInt32(tensor.Buffer, int, []int32) {}
func (d *dryBackend) Read(_ tensor.Buffer, _ int, dst []float32) {
	clear(dst)
}
func (d *dryBackend) Sync() error                                                               { return nil }
func (d *dryBackend) Memory() (int64, int64)                                                    { return d.inUse, d.peak }
func (d *dryBackend) Fill(tensor.Buffer, int, int, float32)                                     {}
func (d *dryBackend) Unary(tensor.UnaryOp, tensor.Buffer, tensor.Buffer, int, float32, float32) {}
func (d *dryBackend) UnaryBackward(tensor.UnaryOp, tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, float32, float32) {
}
func (d *dryBackend) Copy([]int, tensor.Buffer, int, []int, tensor.Buffer, int, []int, bool) {}
func (d *dryBackend) Binary(tensor.BinaryOp, []int, tensor.Buffer, tensor.Buffer, []int, tensor.Buffer, []int) {
}
func (d *dryBackend) Where([]int, tensor.Buffer, tensor.Buffer, []int, tensor.Buffer, []int, tensor.Buffer, []int) {
}
func (d *dryBackend) Reduce(tensor.ReduceOp, tensor.Buffer, tensor.Buffer, int, int, int, float32) {}
func (d *dryBackend) Gemm(*tensor.GemmArgs)                                                        {}
func (d *dryBackend) Embedding(tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int)              {}
func (d *dryBackend) EmbeddingBackward(tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int)      {}
func (d *dryBackend) RMSNorm(tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int, float32)       {}
func (d *dryBackend) RMSNormBackward(tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int) {
}
func (d *dryBackend) Rotary(tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int, int, int, bool) {
}
func (d *dryBackend) RotaryRMSNormBackward(tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int, int, int) {
}
func (d *dryBackend) Attention(*tensor.AttentionArgs) {}
func (d *dryBackend) AttentionBackward(a *tensor.AttentionArgs) {
	d.Free(d.Alloc(tensor.F32, a.B*a.H*a.T)) // the delta scratch
}
func (d *dryBackend) CrossEntropy(tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int) {
}
func (d *dryBackend) CrossEntropyBackward(tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int, float32) {
}
func (d *dryBackend) AdamW(tensor.Buffer, tensor.Buffer, tensor.Buffer, tensor.Buffer, int, tensor.AdamWArgs) {
}
func (d *dryBackend) Nesterov(tensor.Buffer, tensor.Buffer, int, float32) {}
func (d *dryBackend) Lerp(tensor.Buffer, tensor.Buffer, int, float32)     {}
func (d *dryBackend) MuonUpdate(tensor.Buffer, tensor.Buffer, tensor.Buffer, int, int, int, bool, float32, float32) {
}

var _ tensor.Backend = (*dryBackend)(nil)

// dryStep replays one training step of model in 2^19-token steps on a dry backend and returns
// its peak bytes of live buffers and of the pool's blocks.
func dryStep(act tensor.DType, model gptConfig) (peak, reserved int64) {
	be := newDry(act)
	d := tensor.NewDevice(be)
	m := newGPT(d, 1, model)
	tr := newTrainer(d, m)
	r := rand.New(rand.NewPCG(1, 2))
	accum := max(1, (1<<19)/(model.B*model.T))
	batches := make([][2]*tensor.Tensor, accum)
	for i := range batches {
		x, y := randomBatch(d, r, model)
		batches[i] = [2]*tensor.Tensor{x, y}
	}
	for range 2 { // the second step is the steady state: gradients and optimizer state exist
		tr.stepOn(m, batches)
	}
	return be.peak, be.peakReser
}

// gpt/train.go's default (device batch 128) must fit an 80 GB H100 with bf16 activations: the
// live buffers at their peak, and the pool's blocks (live plus cached, up to 12.5 % larger) too,
// with room for the CUDA context and cuBLAS.
func TestMemoryOfTheDefaultStep(t *testing.T) {
	const gib = 1 << 30
	peak, reserved := dryStep(tensor.BF16, depth8(128))
	fmt.Printf("depth 8, device batch 128, bf16 activations: peak %.1f GiB live, %.1f GiB of pool blocks\n",
		float64(peak)/gib, float64(reserved)/gib)
	peak32, reserved32 := dryStep(tensor.F32, depth8(128))
	fmt.Printf("depth 8, device batch 128, f32 activations: peak %.1f GiB live, %.1f GiB of pool blocks\n",
		float64(peak32)/gib, float64(reserved32)/gib)
	if reserved > 76*gib {
		t.Errorf("the default step needs %.1f GiB of pool blocks with bf16 activations: over an H100's 80 GB", float64(reserved)/gib)
	}
	if !(peak32 > peak) {
		t.Errorf("f32 activations peak at %d bytes, bf16 at %d: bf16 should need less", peak32, peak)
	}
}

// BenchmarkHostStep is the host's own work in one training step of the default model (device
// batch 128, two micro-steps and the optimizer): the tensor layer's bookkeeping for every op,
// with a backend that does nothing. What a GPU step cannot go below on the host side, before
// the driver's launch cost; reported per step and per kernel call.
func BenchmarkHostStep(b *testing.B) {
	c := tensor.NewCounter(newDry(tensor.BF16))
	d := tensor.NewDevice(c)
	model := depth8(128)
	m := newGPT(d, 1, model)
	tr := newTrainer(d, m)
	r := rand.New(rand.NewPCG(1, 2))
	batches := make([][2]*tensor.Tensor, 2)
	for i := range batches {
		x, y := randomBatch(d, r, model)
		batches[i] = [2]*tensor.Tensor{x, y}
	}
	tr.stepOn(m, batches)
	c.Reset()
	for b.Loop() {
		tr.stepOn(m, batches)
	}
	calls, _ := c.Total()
	perStep := float64(calls) / float64(b.N)
	b.ReportMetric(perStep, "kernels/step")
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(calls), "µs/kernel")
}
