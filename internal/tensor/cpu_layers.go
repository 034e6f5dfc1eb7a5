package tensor

import "math"

// The CPU's kernels for the layers beyond the baseline's: LayerNorm (and
// RMSNorm with a weight), dropout, cross-entropy with label smoothing and
// z-loss, top-k, gather and scatter-add. Shapes and math are in the Backend
// interface's comments.

func (c *cpuBackend[T]) LayerNorm(dst, mean, rstd, x, w, b Buffer, n, ch int, eps float32, center bool) {
	d, mu, r, xs := c.f(dst), c.f(mean), c.f(rstd), c.f(x)
	var ws, bs []T
	if w != nil {
		ws = c.f(w)[:ch]
	}
	if b != nil {
		bs = c.f(b)[:ch]
	}
	parallel(n, ch, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row, out := xs[i*ch:(i+1)*ch], d[i*ch:(i+1)*ch]
			var m float64
			if center {
				for _, v := range row {
					m += float64(v)
				}
				m /= float64(ch)
			}
			var ss float64
			for _, v := range row {
				dv := float64(v) - m
				ss += dv * dv
			}
			rs := 1 / math.Sqrt(ss/float64(ch)+float64(eps))
			mu[i], r[i] = T(m), T(rs)
			tm, trs := T(m), T(rs)
			for j, v := range row {
				y := (v - tm) * trs
				if ws != nil {
					y *= ws[j]
				}
				if bs != nil {
					y += bs[j]
				}
				out[j] = y
			}
		}
	})
}

func (c *cpuBackend[T]) LayerNormBackward(dx, dw, db, dy, x, mean, rstd, w Buffer, n, ch int, center bool) {
	dxs, dys, xs, mu, r := c.f(dx), c.f(dy), c.f(x), c.f(mean), c.f(rstd)
	var ws []T
	if w != nil {
		ws = c.f(w)[:ch]
	}
	parallel(n, ch, func(lo, hi int) {
		gh := make([]T, ch)
		for i := lo; i < hi; i++ {
			xr, gr, out := xs[i*ch:(i+1)*ch], dys[i*ch:(i+1)*ch], dxs[i*ch:(i+1)*ch]
			m, rs := mu[i], r[i]
			var sg, sgx float64
			for j := range gr {
				g := gr[j]
				if ws != nil {
					g *= ws[j]
				}
				gh[j] = g
				sg += float64(g)
				sgx += float64(g) * float64((xr[j]-m)*rs)
			}
			mg, mgx := T(sg/float64(ch)), T(sgx/float64(ch))
			if !center {
				mg = 0
			}
			for j := range out {
				out[j] = rs * (gh[j] - mg - (xr[j]-m)*rs*mgx)
			}
		}
	})
	// The parameter gradients sum over rows: split by column so no two
	// goroutines write one element.
	if dw == nil && db == nil {
		return
	}
	var dws, dbs []T
	if dw != nil {
		dws = c.f(dw)[:ch]
	}
	if db != nil {
		dbs = c.f(db)[:ch]
	}
	parallel(ch, n, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			var sw, sb T
			for i := range n {
				g := dys[i*ch+j]
				sw += g * (xs[i*ch+j] - mu[i]) * r[i]
				sb += g
			}
			if dws != nil {
				dws[j] = sw
			}
			if dbs != nil {
				dbs[j] = sb
			}
		}
	})
}

// DropoutKeep reports whether element i survives dropout with probability p
// under seed: a SplitMix64 hash of seed + (i+1)*φ·2⁶⁴, its top 24 bits as
// a uniform u in [0, 1), kept when u >= p. The CUDA kernel computes the
// same hash, so both devices drop the same elements.
func DropoutKeep(seed uint64, i int, p float32) bool {
	z := seed + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float32(z>>40)*(1.0/(1<<24)) >= p
}

func (c *cpuBackend[T]) Dropout(dst, x Buffer, n int, p float32, seed uint64) {
	d, s := c.f(dst)[:n], c.f(x)[:n]
	scale := T(1 / (1 - p))
	parallel(n, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if DropoutKeep(seed, i, p) {
				d[i] = s[i] * scale
			} else {
				d[i] = 0
			}
		}
	})
}

func (c *cpuBackend[T]) CrossEntropyOpts(losses, lse, logits, targets Buffer, n, v int, smoothing, zloss float32) {
	c.CrossEntropy(losses, lse, logits, targets, n, v)
	ls, lz, lg, tg := c.f(losses), c.f(lse), c.f(logits), c.ints(targets)
	eps, z := T(smoothing), T(zloss)
	parallel(n, v, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t := tg[i]
			if t < 0 {
				continue
			}
			row := lg[i*v : (i+1)*v]
			var sum float64
			for _, x := range row {
				sum += float64(x)
			}
			l := lz[i]
			ls[i] = l - (1-eps)*row[t] - eps*T(sum/float64(v)) + z*l*l
		}
	})
}

func (c *cpuBackend[T]) CrossEntropyOptsBackward(dlogits, dlosses, logits, lse, targets Buffer, n, v int, softcap, smoothing, zloss float32) {
	dl, g, lg, lz, tg := c.f(dlogits), c.f(dlosses), c.f(logits), c.f(lse), c.ints(targets)
	eps, z := T(smoothing), T(zloss)
	parallel(n, v, func(lo, hi int) {
		var y []T
		if softcap > 0 {
			y = make([]T, v)
		}
		for i := lo; i < hi; i++ {
			row, out := lg[i*v:(i+1)*v], dl[i*v:(i+1)*v]
			t := tg[i]
			if t < 0 {
				clear(out)
				continue
			}
			if softcap > 0 {
				tanhSlice(y, row, T(softcap)) // row may be out
				row = y
			}
			l := lz[i]
			for j, x := range row {
				out[j] = x - l
			}
			expSlice(out, out)
			gi := g[i]
			scale, off := gi*(1+2*z*l), gi*eps/T(v)
			for j := range out {
				out[j] = out[j]*scale - off
			}
			out[t] -= gi * (1 - eps)
			if softcap > 0 {
				inv := 1 / T(softcap)
				for j, yj := range y {
					r := yj * inv
					out[j] *= 1 - r*r
				}
			}
		}
	})
}

// topKBefore is TopK's order: a larger value first, NaN last, ties by the
// lower column.
func topKBefore[T float](a T, i int, b T, j int) bool {
	an, bn := a != a, b != b
	switch {
	case an || bn:
		if an != bn {
			return bn
		}
	case a != b:
		return a > b
	}
	return i < j
}

func (c *cpuBackend[T]) TopK(idx, x Buffer, n, ch, k int) {
	id, xs := c.ints(idx), c.f(x)
	parallel(n, ch*k, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := xs[i*ch : (i+1)*ch]
			prev := -1
			for r := range k {
				best := -1
				for j, v := range row {
					if prev >= 0 && !topKBefore(row[prev], prev, v, j) {
						continue // at or before the previous pick
					}
					if best < 0 || topKBefore(v, j, row[best], best) {
						best = j
					}
				}
				id[i*k+r] = int32(best)
				prev = best
			}
		}
	})
}

func (c *cpuBackend[T]) Gather(dst, x, idx Buffer, n, ch, k int) {
	d, xs, id := c.f(dst), c.f(x), c.ints(idx)
	parallel(n, k, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j := range k {
				d[i*k+j] = xs[i*ch+int(id[i*k+j])]
			}
		}
	})
}

func (c *cpuBackend[T]) ScatterAdd(dst, src, idx Buffer, n, ch, k int) {
	d, s, id := c.f(dst), c.f(src), c.ints(idx)
	parallel(n, k, func(lo, hi int) { // rows are disjoint
		for i := lo; i < hi; i++ {
			for j := range k {
				d[i*ch+int(id[i*k+j])] += s[i*k+j]
			}
		}
	})
}
