package tensor

import (
	"fmt"
	"math"
)

// The CPU's fused layers and optimizer updates, each forward above its
// backward. Shapes and math are in the Backend interface's comments.

func (c *cpuBackend[T]) Embedding(dst, table, ids Buffer, n, ch int) {
	d, tb, id := c.f(dst), c.f(table), c.ints(ids)
	parallel(n, ch, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := int(id[i])
			copy(d[i*ch:(i+1)*ch], tb[row*ch:(row+1)*ch])
		}
	})
}

// EmbeddingBackward scatter-adds; the work splits by table column range
// so no two goroutines touch one element.
func (c *cpuBackend[T]) EmbeddingBackward(dtable, dout, ids Buffer, n, ch int) {
	dt, g, id := c.f(dtable), c.f(dout), c.ints(ids)
	parallel(ch, n, func(lo, hi int) {
		for i := range n {
			row := int(id[i])
			dst := dt[row*ch+lo : row*ch+hi]
			src := g[i*ch+lo : i*ch+hi]
			for j := range dst {
				dst[j] += src[j]
			}
		}
	})
}

func (c *cpuBackend[T]) RMSNorm(dst, rstd, x Buffer, n, ch int, eps float32) {
	d, r, xs := c.f(dst), c.f(rstd), c.f(x)
	parallel(n, ch, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := xs[i*ch : (i+1)*ch]
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			rs := T(1 / math.Sqrt(ss/float64(ch)+float64(eps)))
			r[i] = rs
			out := d[i*ch : (i+1)*ch]
			for j, v := range row {
				out[j] = v * rs
			}
		}
	})
}

func (c *cpuBackend[T]) RMSNormBackward(dx, dy, x, rstd Buffer, n, ch int) {
	dxs, dys, xs, r := c.f(dx), c.f(dy), c.f(x), c.f(rstd)
	parallel(n, ch, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, gr, out := xs[i*ch:(i+1)*ch], dys[i*ch:(i+1)*ch], dxs[i*ch:(i+1)*ch]
			var dot float64
			for j, v := range xr {
				dot += float64(v) * float64(gr[j])
			}
			rs := r[i]
			k := rs * rs * rs * T(dot/float64(ch))
			for j, v := range xr {
				out[j] = rs*gr[j] - k*v
			}
		}
	})
}

func (c *cpuBackend[T]) Rotary(dst, x, cos, sin Buffer, b, t, h, d int, inverse bool) {
	ds, xs, cs, ss := c.f(dst), c.f(x), c.f(cos), c.f(sin)
	half := d / 2
	sign := T(1)
	if inverse {
		sign = -1
	}
	parallel(b*t, h*d, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			pos := bt % t
			cr, sr := cs[pos*half:(pos+1)*half], ss[pos*half:(pos+1)*half]
			for hh := range h {
				base := (bt*h + hh) * d
				in, out := xs[base:base+d], ds[base:base+d]
				for j := range half {
					x1, x2 := in[j], in[j+half]
					co, si := cr[j], sign*sr[j]
					out[j] = x1*co + x2*si
					out[j+half] = -x1*si + x2*co
				}
			}
		}
	})
}

func (c *cpuBackend[T]) RotaryRMSNormBackward(dx, dy, x, rstd, cos, sin Buffer, b, t, h, d int) {
	// The composition itself: y = Rotary(x) into dx, the norm's backward in place, the
	// inverse rotation in place (each kernel allows dst == its input).
	n := b * t * h
	c.Rotary(dx, x, cos, sin, b, t, h, d, false)
	dxs, dys, r := c.f(dx), c.f(dy), c.f(rstd)
	parallel(n, d, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yr, gr := dxs[i*d:(i+1)*d], dys[i*d:(i+1)*d]
			var dot float64
			for j, v := range yr {
				dot += float64(v) * float64(gr[j])
			}
			rs := r[i]
			k := rs * rs * rs * T(dot/float64(d))
			for j, v := range yr {
				yr[j] = rs*gr[j] - k*v
			}
		}
	})
	c.Rotary(dx, dx, cos, sin, b, t, h, d, true)
}

func dot[T float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy[T float](alpha T, x, y []T) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// visible returns the first key position query t sees.
func visible(t, window int) int {
	if window < 0 || window >= t {
		return 0
	}
	return t - window
}

func (c *cpuBackend[T]) checkAttention(a *AttentionArgs) {
	if a.KVH <= 0 || a.H%a.KVH != 0 {
		panic(fmt.Sprintf("tensor: cpu Attention: %d query heads for %d key/value heads", a.H, a.KVH))
	}
}

// Attention runs float32 through blocked GEMMs (cpu_attention.go) and
// float64 through the naive reference below.
func (c *cpuBackend[T]) Attention(a *AttentionArgs) {
	c.checkAttention(a)
	q, k, v, out, lse := c.f(a.Q), c.f(a.K), c.f(a.V), c.f(a.Out), c.f(a.LSE)
	if q32, ok := any(q).([]float32); ok {
		attention32(a, q32, any(k).([]float32), any(v).([]float32), any(out).([]float32), any(lse).([]float32))
		return
	}
	attentionNaive(a, q, k, v, out, lse)
}

// attentionNaive is the reference: one (batch, head) pair per task; each
// query row computes its scores, softmax and weighted sum of values.
func attentionNaive[T float](a *AttentionArgs, q, k, v, out, lse []T) {
	B, T_, H, KVH, D := a.B, a.T, a.H, a.KVH, a.D
	group := H / KVH
	scale := T(a.Scale)
	parallel(B*H, T_*T_*D, func(lo, hi int) {
		scores := make([]T, T_)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			kh := h / group
			for t := range T_ {
				qr := q[((b*T_+t)*H+h)*D:][:D]
				s0 := visible(t, a.Window)
				sc := scores[:t-s0+1]
				m := T(math.Inf(-1))
				for s := s0; s <= t; s++ {
					x := scale * dot(qr, k[((b*T_+s)*KVH+kh)*D:][:D])
					sc[s-s0] = x
					m = max(m, x)
				}
				for i := range sc {
					sc[i] -= m
				}
				expSlice(sc, sc)
				var sum T
				for _, p := range sc {
					sum += p
				}
				lse[(b*H+h)*T_+t] = m + T(math.Log(float64(sum)))
				o := out[((b*T_+t)*H+h)*D:][:D]
				clear(o)
				inv := 1 / sum
				for s := s0; s <= t; s++ {
					axpy(sc[s-s0]*inv, v[((b*T_+s)*KVH+kh)*D:][:D], o)
				}
			}
		}
	})
}

func (c *cpuBackend[T]) AttentionBackward(a *AttentionArgs) {
	c.checkAttention(a)
	q, k, v, out, lse := c.f(a.Q), c.f(a.K), c.f(a.V), c.f(a.Out), c.f(a.LSE)
	dout, dq, dk, dv := c.f(a.DOut), c.f(a.DQ), c.f(a.DK), c.f(a.DV)
	if q32, ok := any(q).([]float32); ok {
		f := func(x []T) []float32 { return any(x).([]float32) }
		attentionBackward32(a, q32, f(k), f(v), f(out), f(lse), f(dout), f(dq), f(dk), f(dv))
		return
	}
	attentionBackwardNaive(a, q, k, v, out, lse, dout, dq, dk, dv)
}

// attentionBackwardNaive: one (batch, key/value head) pair per task, so the
// task owns its DK and DV rows and the DQ rows of its query heads.
func attentionBackwardNaive[T float](a *AttentionArgs, q, k, v, out, lse, dout, dq, dk, dv []T) {
	B, T_, H, KVH, D := a.B, a.T, a.H, a.KVH, a.D
	group := H / KVH
	scale := T(a.Scale)
	parallel(B*KVH, group*T_*T_*D, func(lo, hi int) {
		p := make([]T, T_)
		for bk := lo; bk < hi; bk++ {
			b, kh := bk/KVH, bk%KVH
			for t := range T_ {
				clear(dk[((b*T_+t)*KVH+kh)*D:][:D])
				clear(dv[((b*T_+t)*KVH+kh)*D:][:D])
			}
			for h := kh * group; h < (kh+1)*group; h++ {
				for t := range T_ {
					row := ((b*T_+t)*H + h) * D
					qr, dor, or, dqr := q[row:][:D], dout[row:][:D], out[row:][:D], dq[row:][:D]
					s0 := visible(t, a.Window)
					l := lse[(b*H+h)*T_+t]
					pr := p[:t-s0+1]
					for s := s0; s <= t; s++ {
						pr[s-s0] = scale*dot(qr, k[((b*T_+s)*KVH+kh)*D:][:D]) - l
					}
					expSlice(pr, pr)
					delta := dot(dor, or)
					clear(dqr)
					for s := s0; s <= t; s++ {
						kv := ((b*T_+s)*KVH + kh) * D
						ps := pr[s-s0]
						axpy(ps, dor, dv[kv:][:D])
						ds := ps * (dot(dor, v[kv:][:D]) - delta) * scale
						axpy(ds, k[kv:][:D], dqr)
						axpy(ds, qr, dk[kv:][:D])
					}
				}
			}
		}
	})
}

func (c *cpuBackend[T]) CrossEntropy(losses, lse, logits, targets Buffer, n, v int) {
	ls, lz, lg, tg := c.f(losses), c.f(lse), c.f(logits), c.ints(targets)
	parallel(n, v, func(lo, hi int) {
		tmp := make([]T, v)
		for i := lo; i < hi; i++ {
			row := lg[i*v : (i+1)*v]
			m := row[0]
			for _, x := range row[1:] {
				m = max(m, x)
			}
			for j, x := range row {
				tmp[j] = x - m
			}
			expSlice(tmp, tmp)
			var sum float64
			for _, e := range tmp {
				sum += float64(e)
			}
			l := m + T(math.Log(sum))
			lz[i] = l
			if t := tg[i]; t >= 0 {
				ls[i] = l - row[t]
			} else {
				ls[i] = 0
			}
		}
	})
}

func (c *cpuBackend[T]) CrossEntropyBackward(dlogits, dlosses, logits, lse Buffer, targets Buffer, n, v int, softcap float32) {
	dl, g, lg, lz, tg := c.f(dlogits), c.f(dlosses), c.f(logits), c.f(lse), c.ints(targets)
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
				tanhSlice(y, row, T(softcap)) // y = c*tanh(x/c); row may be out
				row = y
			}
			l := lz[i]
			for j, x := range row {
				out[j] = x - l
			}
			expSlice(out, out)
			gi := g[i]
			for j := range out {
				out[j] *= gi
			}
			out[t] -= gi
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

func (c *cpuBackend[T]) AdamW(p, g, m, v Buffer, n int, h AdamWArgs) {
	ps, gs, ms, vs := c.f(p)[:n], c.f(g)[:n], c.f(m)[:n], c.f(v)[:n]
	decay := T(1 - float64(h.LR)*float64(h.WeightDecay))
	b1, b2 := T(h.Beta1), T(h.Beta2)
	bias1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bias2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	stepSize := T(float64(h.LR) / bias1)
	invBias2 := T(1 / bias2)
	eps := T(h.Eps)
	parallel(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := gs[i]
			mi := ms[i] + (1-b1)*(gi-ms[i])
			vi := vs[i] + (1-b2)*(gi*gi-vs[i])
			ms[i], vs[i] = mi, vi
			denom := T(math.Sqrt(float64(vi*invBias2))) + eps
			ps[i] = ps[i]*decay - stepSize*mi/denom
		}
	})
}

func (c *cpuBackend[T]) Nesterov(g, buf Buffer, n int, momentum float32) {
	gs, bs := c.f(g)[:n], c.f(buf)[:n]
	mu := T(momentum)
	parallel(n, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			b := bs[i] + (1-mu)*(gs[i]-bs[i])
			bs[i] = b
			gs[i] += mu * (b - gs[i])
		}
	})
}

func (c *cpuBackend[T]) Lerp(a, b Buffer, n int, w float32) {
	as, bs := c.f(a)[:n], c.f(b)[:n]
	tw := T(w)
	parallel(n, 2, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			as[i] += tw * (bs[i] - as[i])
		}
	})
}

func (c *cpuBackend[T]) MuonUpdate(p, g, s Buffer, np, r, cols int, perRow bool, lr, wd float32) {
	ps, gs, ss := c.f(p), c.f(g), c.f(s)
	l, lw := T(lr), T(lr)*T(wd)
	parallel(np*r, cols, func(lo, hi int) {
		for pr := lo; pr < hi; pr++ {
			pi := pr / r
			row, grow := ps[pr*cols:(pr+1)*cols], gs[pr*cols:(pr+1)*cols]
			for j := range row {
				var sc T
				if perRow {
					sc = ss[pr]
				} else {
					sc = ss[pi*cols+j]
				}
				u := grow[j] * sc
				pv := row[j]
				if u*pv >= 0 {
					row[j] = pv - l*u - lw*pv
				} else {
					row[j] = pv - l*u
				}
			}
		}
	})
}
