//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
)

const (
	maxArgWords = 256
	maxArgs     = 32
)

// kargs collects one launch's kernel arguments without allocating: each argument is one or
// more consecutive 8-byte words, and offs[i] is the first word of argument i. The driver hands
// the kernel a pointer to each argument's first word; the kernel reads as many bytes as its
// parameter has (4 of a float's word: the low half, on little-endian machines).
type kargs struct {
	words [maxArgWords]uint64
	offs  [maxArgs]int32
	nw    int
	na    int
}

func (a *kargs) reset() { a.nw, a.na = 0, 0 }

func (a *kargs) begin() {
	if a.na == maxArgs {
		panic(fmt.Sprintf("cuda: more than %d kernel arguments", maxArgs))
	}
	a.offs[a.na] = int32(a.nw)
	a.na++
}

func (a *kargs) word(w uint64) {
	if a.nw == maxArgWords {
		panic(fmt.Sprintf("cuda: kernel arguments over %d words", maxArgWords))
	}
	a.words[a.nw] = w
	a.nw++
}

func (a *kargs) ptr(p devptr) *kargs { a.begin(); a.word(uint64(p)); return a }
func (a *kargs) i64(v int) *kargs    { a.begin(); a.word(uint64(int64(v))); return a }
func (a *kargs) f32(v float32) *kargs {
	a.begin()
	a.word(uint64(math.Float32bits(v)))
	return a
}

func (a *kargs) flag(v bool) *kargs {
	if v {
		return a.i64(1)
	}
	return a.i64(0)
}

// dims appends a Dims struct (common.cuh): rank, n, shape[8], st[3][8].
func (a *kargs) dims(d *dims) *kargs {
	a.begin()
	a.word(uint64(d.rank))
	a.word(uint64(d.n))
	for j := range maxRank {
		a.word(uint64(d.shape[j]))
	}
	for k := range 3 {
		for j := range maxRank {
			a.word(uint64(int64(d.st[k][j])))
		}
	}
	return a
}

// attDims appends an AttDims struct (attention.cu): B, T, H, KVH, D, window.
func (a *kargs) attDims(b, t, h, kvh, d, window int) *kargs {
	a.begin()
	for _, v := range [...]int{b, t, h, kvh, d, window} {
		a.word(uint64(int64(v)))
	}
	return a
}
