//go:build cuda || cudaemu

package cuda

import "fmt"

const maxRank = 8 // AR_MAX_RANK of common.cuh; tensor.MaxRank

// dims is the Go side of the Dims struct of common.cuh: a strided walk over shape for up to
// three operands.
type dims struct {
	rank  int
	n     int
	shape [maxRank]int
	st    [3][maxRank]int
}

// makeDims describes a walk over shape for the operands' strides (one to three), with the
// axes simplified: axes of extent 1 dropped, and neighbouring axes merged wherever every
// operand steps over them as over one axis (st[j] == st[j+1]*shape[j+1]). The walk's order —
// row-major over shape — is unchanged, so a contiguous operand stays contiguous in the
// linear index. A walk over nothing has n == 0.
func makeDims(shape []int, strides ...[]int) (dims, error) {
	var d dims
	if len(shape) > maxRank {
		return d, fmt.Errorf("rank %d over the maximum %d", len(shape), maxRank)
	}
	if len(strides) == 0 || len(strides) > 3 {
		return d, fmt.Errorf("%d operands (1 to 3)", len(strides))
	}
	for k, s := range strides {
		if len(s) != len(shape) {
			return d, fmt.Errorf("operand %d has %d strides for %d axes", k, len(s), len(shape))
		}
	}
	d.n = 1
	for _, e := range shape {
		if e < 0 {
			return d, fmt.Errorf("negative extent in shape %v", shape)
		}
		d.n *= e
	}
	if d.n == 0 {
		return d, nil
	}
	for j, e := range shape {
		if e == 1 {
			continue
		}
		r := d.rank
		if r > 0 && mergeable(&d, r-1, e, strides, j) {
			d.shape[r-1] *= e
			for k := range strides {
				d.st[k][r-1] = strides[k][j]
			}
			continue
		}
		d.shape[r] = e
		for k := range strides {
			d.st[k][r] = strides[k][j]
		}
		d.rank++
	}
	if d.rank == 0 { // every extent 1: one element
		d.rank = 1
		d.shape[0] = 1
	}
	return d, nil
}

// mergeable reports whether the simplified axis r can absorb the next axis j (extent e):
// every operand must step over axis r exactly as over e steps of axis j.
func mergeable(d *dims, r, e int, strides [][]int, j int) bool {
	for k := range strides {
		if d.st[k][r] != strides[k][j]*e {
			return false
		}
	}
	return true
}
