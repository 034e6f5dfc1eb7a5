//go:build cuda || cudaemu

package cuda

import "autoresearch/internal/tensor"

// The dry backend's kernels of layers.go: nothing to do.

type buf = tensor.Buffer

func (d *dryBackend) LayerNorm(buf, buf, buf, buf, buf, buf, int, int, float32, bool)          {}
func (d *dryBackend) LayerNormBackward(buf, buf, buf, buf, buf, buf, buf, buf, int, int, bool) {}
func (d *dryBackend) Dropout(buf, buf, int, float32, uint64)                                   {}
func (d *dryBackend) CrossEntropyOpts(buf, buf, buf, buf, int, int, float32, float32)          {}
func (d *dryBackend) CrossEntropyOptsBackward(buf, buf, buf, buf, buf, int, int, float32, float32, float32) {
}
func (d *dryBackend) TopK(buf, buf, int, int, int)            {}
func (d *dryBackend) Gather(buf, buf, buf, int, int, int)     {}
func (d *dryBackend) ScatterAdd(buf, buf, buf, int, int, int) {}
