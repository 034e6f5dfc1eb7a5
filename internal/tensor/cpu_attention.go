package tensor

import "math"

// Attention in float32 on the CPU, as blocked GEMMs. Per (batch, head) and
// block of attnBlock queries [t0, t1), only the keys some query of the block
// can see, [visible(t0), t1), take part, so the causal mask and the sliding
// window skip most of the masked area:
//
//	S = Scale·Q Kᵀ           [rows × keys]
//	P = softmax(S masked)    (LSE saved per query)
//	O = P V
//
// and the backward recomputes P from LSE (flash-attention style):
//
//	dV += Pᵀ dO;  dP = dO Vᵀ;  dS = P∘(dP - Δ)·Scale, Δ_t = dO_t·O_t
//	dQ = dS K;    dK += dSᵀ Q
//
// GEMMs run serially inside each task; tasks spread over the cores.

const attnBlock = 64

func attnGemm(ta, tb bool, m, n, k int, alpha, beta float32, a []float32, offA, ldA int, b []float32, offB, ldB int, c []float32, offC, ldC int) {
	g := GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Batch: 1, Alpha: alpha, Beta: beta,
		OffA: offA, LdA: ldA, OffB: offB, LdB: ldB, OffC: offC, LdC: ldC}
	sgemmWith(sgemmKernels[0], &g, a, b, c, serial)
}

func attention32(a *AttentionArgs, q, k, v, out, lse []float32) {
	B, T, H, KVH, D := a.B, a.T, a.H, a.KVH, a.D
	group := H / KVH
	ldq, ldk := H*D, KVH*D
	parallel(B*H, T*T*D, func(lo, hi int) {
		s := make([]float32, attnBlock*T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/H, bh%H
			qo := b*T*ldq + h*D
			ko := b*T*ldk + (h/group)*D
			for t0 := 0; t0 < T; t0 += attnBlock {
				t1 := min(t0+attnBlock, T)
				rows, s0 := t1-t0, visible(t0, a.Window)
				keys := t1 - s0
				attnGemm(false, true, rows, keys, D, a.Scale, 0, q, qo+t0*ldq, ldq, k, ko+s0*ldk, ldk, s, 0, keys)
				for i := range rows {
					t := t0 + i
					row := s[i*keys : (i+1)*keys]
					lo, hi := visible(t, a.Window)-s0, t-s0+1
					m := float32(math.Inf(-1))
					for _, x := range row[lo:hi] {
						m = max(m, x)
					}
					for j := range row[lo:hi] {
						row[lo+j] -= m
					}
					expSlice(row[lo:hi], row[lo:hi])
					var sum float32
					for _, p := range row[lo:hi] {
						sum += p
					}
					lse[(b*H+h)*T+t] = m + float32(math.Log(float64(sum)))
					inv := 1 / sum
					clear(row[:lo])
					clear(row[hi:])
					for j := lo; j < hi; j++ {
						row[j] *= inv
					}
				}
				attnGemm(false, false, rows, D, keys, 1, 0, s, 0, keys, v, ko+s0*ldk, ldk, out, qo+t0*ldq, ldq)
			}
		}
	})
}

func attentionBackward32(a *AttentionArgs, q, k, v, out, lse, dout, dq, dk, dv []float32) {
	B, T, H, KVH, D := a.B, a.T, a.H, a.KVH, a.D
	group := H / KVH
	ldq, ldk := H*D, KVH*D
	parallel(B*KVH, group*T*T*D, func(lo, hi int) {
		p := make([]float32, attnBlock*T)
		dp := make([]float32, attnBlock*T)
		for bk := lo; bk < hi; bk++ {
			b, kh := bk/KVH, bk%KVH
			ko := b*T*ldk + kh*D
			for t := range T {
				clear(dk[ko+t*ldk : ko+t*ldk+D])
				clear(dv[ko+t*ldk : ko+t*ldk+D])
			}
			for h := kh * group; h < (kh+1)*group; h++ {
				qo := b*T*ldq + h*D
				for t0 := 0; t0 < T; t0 += attnBlock {
					t1 := min(t0+attnBlock, T)
					rows, s0 := t1-t0, visible(t0, a.Window)
					keys := t1 - s0
					attnGemm(false, true, rows, keys, D, a.Scale, 0, q, qo+t0*ldq, ldq, k, ko+s0*ldk, ldk, p, 0, keys)
					attnGemm(false, true, rows, keys, D, 1, 0, dout, qo+t0*ldq, ldq, v, ko+s0*ldk, ldk, dp, 0, keys)
					for i := range rows {
						t := t0 + i
						row, drow := p[i*keys:(i+1)*keys], dp[i*keys:(i+1)*keys]
						lo, hi := visible(t, a.Window)-s0, t-s0+1
						l := lse[(b*H+h)*T+t]
						for j := lo; j < hi; j++ {
							row[j] -= l
						}
						expSlice(row[lo:hi], row[lo:hi])
						clear(row[:lo])
						clear(row[hi:])
						delta := dot(dout[qo+t*ldq:qo+t*ldq+D], out[qo+t*ldq:qo+t*ldq+D])
						for j := range drow {
							drow[j] = row[j] * (drow[j] - delta) * a.Scale
						}
					}
					// dV += Pᵀ dO, then dQ = dS K and dK += dSᵀ Q.
					attnGemm(true, false, keys, D, rows, 1, 1, p, 0, keys, dout, qo+t0*ldq, ldq, dv, ko+s0*ldk, ldk)
					attnGemm(false, false, rows, D, keys, 1, 0, dp, 0, keys, k, ko+s0*ldk, ldk, dq, qo+t0*ldq, ldq)
					attnGemm(true, false, keys, D, rows, 1, 1, dp, 0, keys, q, qo+t0*ldq, ldq, dk, ko+s0*ldk, ldk)
				}
			}
		}
	})
}
