// Package gofast holds the function autoresearch makes faster: Sort. Edit
// anything in this file; sort_test.go is the fixed evaluation (it checks that
// Sort still sorts, then times it).
package gofast

// The knobs of the sort.
const (
	// InsertionCutoff: partitions shorter than this are insertion-sorted.
	InsertionCutoff = 4
	// PivotSamples is how many evenly spaced elements the pivot is the
	// median of (1: the middle element).
	PivotSamples = 3
	// ThreeWay partitions into less, equal and greater, which pays off
	// when values repeat.
	ThreeWay = false
	// BinaryInsertion finds each element's place in the insertion sort by
	// binary search: fewer comparisons, the same moves.
	BinaryInsertion = false
)

// Sort sorts a in increasing order, in place.
func Sort(a []uint32) {
	for len(a) > 1 {
		if len(a) < InsertionCutoff {
			insertionSort(a)
			return
		}
		p := pivot(a)
		lo, hi := partition(a, p)
		// Recurse into the smaller side and loop on the larger one, so the
		// stack stays logarithmic.
		if lo < len(a)-hi {
			Sort(a[:lo])
			a = a[hi:]
		} else {
			Sort(a[hi:])
			a = a[:lo]
		}
	}
}

// partition reorders a around p: a[:lo] < p, a[hi:] > p, and a[lo:hi] == p
// with ThreeWay; without it, a[:lo] <= p <= a[hi:] and lo == hi.
func partition(a []uint32, p uint32) (lo, hi int) {
	if ThreeWay {
		lt, i, gt := 0, 0, len(a)
		for i < gt {
			switch {
			case a[i] < p:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > p:
				gt--
				a[gt], a[i] = a[i], a[gt]
			default:
				i++
			}
		}
		return lt, gt
	}
	// Hoare's scheme; pivot put p at a[0], so both sides come out
	// non-empty.
	i, j := -1, len(a)
	for {
		for i++; a[i] < p; i++ {
		}
		for j--; a[j] > p; j-- {
		}
		if i >= j {
			return j + 1, j + 1
		}
		a[i], a[j] = a[j], a[i]
	}
}

// pivot is the median of PivotSamples evenly spaced elements of a, moved to
// a[0].
func pivot(a []uint32) uint32 {
	k := min(max(PivotSamples, 1), len(a))
	var buf [64]int
	idx := buf[:0]
	if k > len(buf) {
		idx = make([]int, 0, k)
	}
	for i := 0; i < k; i++ {
		j := (2*i + 1) * len(a) / (2 * k)
		// Insert j into idx, ordered by value.
		idx = append(idx, j)
		for m := len(idx) - 1; m > 0 && a[idx[m-1]] > a[idx[m]]; m-- {
			idx[m-1], idx[m] = idx[m], idx[m-1]
		}
	}
	m := idx[len(idx)/2]
	a[0], a[m] = a[m], a[0]
	return a[0]
}

func insertionSort(a []uint32) {
	if BinaryInsertion {
		for i := 1; i < len(a); i++ {
			v := a[i]
			lo, hi := 0, i
			for lo < hi {
				m := int(uint(lo+hi) >> 1)
				if a[m] <= v {
					lo = m + 1
				} else {
					hi = m
				}
			}
			copy(a[lo+1:i+1], a[lo:i])
			a[lo] = v
		}
		return
	}
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for j > 0 && a[j-1] > v {
			a[j] = a[j-1]
			j--
		}
		a[j] = v
	}
}
