package tensor

import (
	"fmt"
	"sync"
	"unsafe"
)

// GEMM on the CPU, the trainer's hot loop. float32 uses the Goto/BLIS
// scheme: op(B) is packed into panels of nr columns for a block of KC steps
// (shared by the cores), each core packs a block of MC rows of op(A) into
// panels of mr rows, and a register-blocked micro-kernel multiplies one A
// panel by one B panel into an mr×nr tile of C. Packing absorbs the
// transposes, so all four TransA/TransB cases run the same kernel. The
// micro-kernel is AVX-512 assembly where the CPU has it and plain Go
// elsewhere (arm64 laptops, old x86); float64 (the gradient checks) uses the
// plain reference loop.

// microKernel computes C[mr×nr] = alpha * Apanel·Bpanel + beta*C over k
// steps, with C's rows ldc elements apart. beta is 0 (C is only written,
// so it needs no clearing) or 1.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c *float32, ldc int, alpha, beta float32)
}

// sgemmKernels lists the usable micro-kernels, best first (the amd64 init
// prepends the AVX-512 one when the CPU has it).
var sgemmKernels = []microKernel{{name: "go-4x4", mr: 4, nr: 4, fn: goKernel4x4}}

// Blocking: a KC×nr B panel stays in L1, an MC×KC A block in L2 and the
// KC×NC B block in L3.
const (
	gemmKC = 384
	gemmMC = 192
	gemmNC = 3072
)

func (c *cpuBackend[T]) Gemm(g *GemmArgs) {
	if g.M < 0 || g.N < 0 || g.K < 0 || g.Batch < 1 {
		panic(fmt.Sprintf("tensor: cpu Gemm: bad sizes M=%d N=%d K=%d Batch=%d", g.M, g.N, g.K, g.Batch))
	}
	a, b, cc := c.f(g.A), c.f(g.B), c.f(g.C)
	if a32, ok := any(a).([]float32); ok {
		sgemm(sgemmKernels[0], g, a32, any(b).([]float32), any(cc).([]float32))
		return
	}
	gemmRef(g, a, b, cc)
}

// operand strides: op(A)[m, k] = A[m*rs + k*cs].
func opStrides(trans bool, ld int) (rs, cs int) {
	if trans {
		return 1, ld
	}
	return ld, 1
}

// scaleC applies beta to C_i (beta = 0 overwrites, so NaNs in C vanish).
func scaleC[T float](c []T, off, m, n, ldc int, beta T) {
	scaleCWith(c, off, m, n, ldc, beta, parallel)
}

func scaleCWith[T float](c []T, off, m, n, ldc int, beta T, parallel func(n, cost int, f func(lo, hi int))) {
	if beta == 1 {
		return
	}
	parallel(m, n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := c[off+i*ldc : off+i*ldc+n]
			if beta == 0 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] *= beta
			}
		}
	})
}

// gemmRef is the plain reference: C row by row, i-k-j order.
func gemmRef[T float](g *GemmArgs, a, b, c []T) {
	rsA, csA := opStrides(g.TransA, g.LdA)
	rsB, csB := opStrides(g.TransB, g.LdB)
	alpha := T(g.Alpha)
	for bi := range g.Batch {
		oa, ob, oc := g.OffA+bi*g.StrideA, g.OffB+bi*g.StrideB, g.OffC+bi*g.StrideC
		scaleC(c, oc, g.M, g.N, g.LdC, T(g.Beta))
		if g.K == 0 || g.N == 0 {
			continue
		}
		parallel(g.M, g.N*g.K, func(lo, hi int) {
			brow := make([]T, g.N)
			for i := lo; i < hi; i++ {
				crow := c[oc+i*g.LdC : oc+i*g.LdC+g.N]
				for k := range g.K {
					aik := alpha * a[oa+i*rsA+k*csA]
					if aik == 0 {
						continue
					}
					if csB == 1 {
						axpy(aik, b[ob+k*rsB:ob+k*rsB+g.N], crow)
						continue
					}
					for j := range brow {
						brow[j] = b[ob+k*rsB+j*csB]
					}
					axpy(aik, brow, crow)
				}
			}
		})
	}
}

var packPool, bpackPool sync.Pool // *[]float32 packing buffers

// getBuf takes a buffer of at least n floats from pool.
func getBuf(pool *sync.Pool, n int) *[]float32 {
	if p, ok := pool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// serial runs a parallel loop on the calling goroutine: for GEMMs issued
// from inside an already parallel kernel (attention).
func serial(n, cost int, f func(lo, hi int)) { f(0, n) }

// sgemm runs g spread over the cores.
func sgemm(kr microKernel, g *GemmArgs, a, b, c []float32) { sgemmWith(kr, g, a, b, c, parallel) }

func sgemmWith(kr microKernel, g *GemmArgs, a, b, c []float32, parallel func(n, cost int, f func(lo, hi int))) {
	mr, nr := kr.mr, kr.nr
	rsA, csA := opStrides(g.TransA, g.LdA)
	rsB, csB := opStrides(g.TransB, g.LdB)
	M, N, K := g.M, g.N, g.K
	bp := getBuf(&bpackPool, ((min(gemmNC, N)+nr-1)/nr)*nr*min(gemmKC, max(K, 1)))
	defer bpackPool.Put(bp)
	bpack := *bp
	// MC shrinks for small M so every core gets blocks.
	mc := gemmMC
	if per := (M + 4 - 1) / 4; per < mc {
		mc = max(mr, (per+mr-1)/mr*mr)
	}
	for bi := range g.Batch {
		oa, ob, oc := g.OffA+bi*g.StrideA, g.OffB+bi*g.StrideB, g.OffC+bi*g.StrideC
		beta := g.Beta
		if K == 0 || N == 0 || M == 0 || g.Alpha == 0 {
			scaleCWith(c, oc, M, N, g.LdC, beta, parallel)
			continue
		}
		if beta != 0 && beta != 1 {
			// The kernels take beta 0 or 1: scale C once up front.
			scaleCWith(c, oc, M, N, g.LdC, beta, parallel)
			beta = 1
		}
		for jc := 0; jc < N; jc += gemmNC {
			nb := min(gemmNC, N-jc)
			npan := (nb + nr - 1) / nr
			for pc := 0; pc < K; pc += gemmKC {
				kb := min(gemmKC, K-pc)
				kbeta := float32(1) // later K blocks add to the first one's result
				if pc == 0 {
					kbeta = beta
				}
				parallel(npan, kb*nr, func(lo, hi int) {
					for p := lo; p < hi; p++ {
						packB(bpack[p*kb*nr:(p+1)*kb*nr], b, ob+pc*rsB+(jc+p*nr)*csB, rsB, csB, kb, min(nr, nb-p*nr), nr)
					}
				})
				nblk := (M + mc - 1) / mc
				parallel(nblk, mc*kb*nb, func(lo, hi int) {
					// The packed A panels, then room for one edge tile (a
					// local array would escape to the heap through the
					// assembly kernel and be allocated on every call).
					ap := getBuf(&packPool, (mc+mr)*gemmKC+mr*nr)
					apack := *ap
					tile := apack[(mc+mr)*gemmKC:]
					for blk := lo; blk < hi; blk++ {
						ic := blk * mc
						mb := min(mc, M-ic)
						mpan := (mb + mr - 1) / mr
						for p := range mpan {
							packA(apack[p*kb*mr:(p+1)*kb*mr], a, oa+(ic+p*mr)*rsA+pc*csA, rsA, csA, kb, min(mr, mb-p*mr), mr)
						}
						for jr := range npan {
							nn := min(nr, nb-jr*nr)
							bp := &bpack[jr*kb*nr]
							for ir := range mpan {
								mm := min(mr, mb-ir*mr)
								apan := &apack[ir*kb*mr]
								co := oc + (ic+ir*mr)*g.LdC + jc + jr*nr
								if mm == mr && nn == nr {
									kr.fn(kb, apan, bp, &c[co], g.LdC, g.Alpha, kbeta)
									continue
								}
								t := tile[:mr*nr]
								kr.fn(kb, apan, bp, &t[0], nr, g.Alpha, 0)
								for i := range mm {
									crow := c[co+i*g.LdC : co+i*g.LdC+nn]
									if kbeta == 0 {
										copy(crow, t[i*nr:i*nr+nn])
										continue
									}
									for j := range crow {
										crow[j] += t[i*nr+j]
									}
								}
							}
						}
					}
					packPool.Put(ap)
				})
			}
		}
	}
}

// packB writes a kb×nr panel of op(B) starting at element off (nn valid
// columns, the rest zero): dst[k*nr + j] = B[off + k*rs + j*cs]. Reads go
// along whichever axis is contiguous in memory.
func packB(dst, b []float32, off, rs, cs, kb, nn, nr int) {
	dst = dst[:kb*nr]
	switch {
	case cs == 1:
		for k := range kb {
			row := dst[k*nr : (k+1)*nr]
			copy(row[:nn], b[off+k*rs:off+k*rs+nn])
			clear(row[nn:])
		}
	case rs == 1:
		if nn < nr {
			clear(dst)
		}
		for j := range nn {
			col := b[off+j*cs : off+j*cs+kb]
			for k, v := range col {
				dst[k*nr+j] = v
			}
		}
	default:
		for k := range kb {
			row := dst[k*nr : (k+1)*nr]
			for j := range nn {
				row[j] = b[off+k*rs+j*cs]
			}
			clear(row[nn:])
		}
	}
}

// packA writes a kb×mr panel of op(A) starting at element off (mm valid
// rows, the rest zero): dst[k*mr + i] = A[off + i*rs + k*cs]. Reads go
// along whichever axis is contiguous in memory.
func packA(dst, a []float32, off, rs, cs, kb, mm, mr int) {
	dst = dst[:kb*mr]
	switch {
	case rs == 1:
		for k := range kb {
			p := dst[k*mr : (k+1)*mr]
			copy(p[:mm], a[off+k*cs:off+k*cs+mm])
			clear(p[mm:])
		}
	case cs == 1 && mm == 12 && mr == 12:
		packA12(dst, a, off, rs, kb)
	case cs == 1:
		if mm < mr {
			clear(dst)
		}
		for i := range mm {
			row := a[off+i*rs : off+i*rs+kb]
			for k, v := range row {
				dst[k*mr+i] = v
			}
		}
	default:
		if mm < mr {
			clear(dst)
		}
		for i := range mm {
			for k := range kb {
				dst[k*mr+i] = a[off+i*rs+k*cs]
			}
		}
	}
}

// packA12 packs 12 contiguous rows, reading them side by side so every
// store is sequential.
func packA12(dst, a []float32, off, rs, kb int) {
	r0 := a[off : off+kb]
	r1, r2, r3 := a[off+rs:][:len(r0)], a[off+2*rs:][:len(r0)], a[off+3*rs:][:len(r0)]
	r4, r5, r6 := a[off+4*rs:][:len(r0)], a[off+5*rs:][:len(r0)], a[off+6*rs:][:len(r0)]
	r7, r8, r9 := a[off+7*rs:][:len(r0)], a[off+8*rs:][:len(r0)], a[off+9*rs:][:len(r0)]
	r10, r11 := a[off+10*rs:][:len(r0)], a[off+11*rs:][:len(r0)]
	dst = dst[:12*len(r0)]
	for k := range r0 {
		p := (*[12]float32)(dst[k*12:])
		p[0], p[1], p[2], p[3] = r0[k], r1[k], r2[k], r3[k]
		p[4], p[5], p[6], p[7] = r4[k], r5[k], r6[k], r7[k]
		p[8], p[9], p[10], p[11] = r8[k], r9[k], r10[k], r11[k]
	}
}

// goKernel4x4 is the portable micro-kernel; its 16 accumulators stay in
// registers (a 4x16 tile in an array measured 2-3x slower).
func goKernel4x4(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, 4*k)
	bs := unsafe.Slice(b, 4*k)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < 4*k; p += 4 {
		ap := (*[4]float32)(as[p : p+4])
		bp := (*[4]float32)(bs[p : p+4])
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range 4 {
		r := (*[4]float32)(cs[i*ldc : i*ldc+4])
		for j := range 4 {
			if beta == 0 {
				r[j] = alpha * acc[i][j]
			} else {
				r[j] += alpha * acc[i][j]
			}
		}
	}
}
