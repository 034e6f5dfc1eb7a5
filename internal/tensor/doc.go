// Package tensor is the training core behind gpt/train.go: n-dimensional
// float tensors on a device, define-by-run autograd and the ops a small GPT
// and its optimizer need. It plays the part PyTorch plays for the original
// train.py.
//
// Terms:
//
//   - Backend: a device, the complete list of kernels it must provide (see
//     backend.go). The CPU backend (pure Go, float32, parallel over the cores)
//     is built in and is the reference; the CUDA backend registers itself from
//     autoresearch/internal/tensor/cuda under the cuda build tag.
//   - Device: a Backend plus the bookkeeping above it (scopes, parameters,
//     grad mode). Open(name) makes one; "" means cpu.
//   - Tensor: a shape and a contiguous row-major buffer on a device. Reshape
//     is a view sharing the buffer; every other op makes a new tensor.
//   - Parameter: a named tensor that requires a gradient and outlives scopes.
//   - Graph, node: while grad mode is on, every op on tensors that require
//     gradients records a node (op name, inputs, saved values) on its output.
//   - VJP (vector-Jacobian product): an op's backward rule; it maps the
//     gradient of the output (the adjoint) to gradients of the inputs. All
//     rules live in one table in autograd.go.
//   - Scope: a set of tensors freed together. Every tensor made while a scope
//     is open belongs to it; Close frees them all except those handed back to
//     the enclosing scope. A GPU cannot wait for Go's garbage collector, so
//     memory is released this way, deterministically.
//   - Activation dtype: the device's mixed-precision policy (autocast decided
//     by the device, see Device.ActivationDType): F32 on the CPU; BF16 on the
//     GPU, where activations and product inputs are bf16 while parameters,
//     gradients of parameters and optimizer state stay f32.
//   - Fused nodes: where one op's output feeds a known partner (Softcap into
//     CrossEntropy, Rotary into RMSNorm) the partner records one node over
//     both, whose backward is one kernel; the inner op keeps its own node.
//   - Counter: a Backend wrapper that counts kernels by kind and the host
//     time in each, for measuring a training step on any device.
//   - Setup tensor: one made while only the root scope is open (before the
//     training loop): never freed by a scope, and remembered by where it was
//     made, so that Device.Inspect can name a weight that will not train.
//   - Inspection (Device.Inspect): one micro-step's graph read before
//     training: its FLOPs by the original's convention, and warnings for
//     setup tensors that feed it without being parameters, gradients that
//     no optimizer will use, and parameters no gradient reaches.
//
// A training program uses it like this:
//
//	dev, err := tensor.Open(os.Getenv(harness.EnvDevice)) // "cpu" or "cuda"
//	rng := tensor.NewRNG(42)
//	w := dev.Parameter("lm_head", dev.Normal(rng, 0, 0.001, vocab, dim))
//	opt := ...                              // optimizer state, made in setup: the root scope, never freed
//	for !budget.Done() {
//		loss := dev.Step(func() *tensor.Tensor { // everything made inside is freed when it returns
//			var train *tensor.Tensor
//			for each micro-step {
//				l := model(x, y)                     // ops record the graph
//				train = l.Detach()                   // Backward frees l; keep a copy
//				l.MulScalar(1 / accum).Backward()    // adds into each parameter's Grad
//			}
//			dev.NoGrad(func() { opt.Step() })    // AdamWStep, Nesterov, AddMatMul, MuonUpdate
//			dev.ZeroGrad()
//			return train
//		})
//		fmt.Println(loss)
//	}
//	dev.Eval(func() { /* evaluation: no graph, its own scope */ })
//
// Step and Eval open a scope (see Scope) and close it when f returns.
// Tensors made before any scope opens (the model, optimizer state, constant
// tables) belong to the root scope, which never closes: they live for the
// whole program without Keep. Keep is for a tensor made inside a scope that
// must outlive it.
// The device's peak memory (Device.Memory) and peak FLOP/s
// (Device.PeakFLOPS) feed the summary's peak_vram_mb and mfu_percent.
//
// The CPU backend computes in float32 with GEMMs on an AVX-512 (or AVX2)
// micro-kernel where the CPU has one, plain Go elsewhere; "cpu64" is the
// same backend in float64, the reference for the gradient checks. BF16 is a
// dtype for GPU backends; the CPU refuses it with an error. Tensor.To
// converts explicitly; a BF16 device converts where its policy says.
//
// Shape legend used throughout: B batch, T time, H query heads, KVH key/value
// heads, D head dim, C channels, V vocabulary, N rows.
//
// Ops panic on misuse (mismatched shapes, a freed tensor) with a message that
// names the op, as PyTorch raises; a training program that panics is a crash
// the experiment loop reports.
package tensor
