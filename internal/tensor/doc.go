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
//
// Shape legend used throughout: B batch, T time, H query heads, KVH key/value
// heads, D head dim, C channels, V vocabulary, N rows.
//
// Ops panic on misuse (mismatched shapes, a freed tensor) with a message that
// names the op, as PyTorch raises; a training program that panics is a crash
// the experiment loop reports.
package tensor
