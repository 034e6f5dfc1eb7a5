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

// microKernel computes C[mr×nr] += alpha * Apanel·Bpanel over k steps, with
// C's rows ldc elements apart.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c *float32, ldc int, alpha float32)
}

// sgemmKernels lists the usable micro-kernels, best first (the amd64 init
// prepends the AVX-512 one when the CPU has it).
var sgemmKernels = []microKernel{{name: "go-4x16", mr: 4, nr: 16, fn: goKernel4x16}}

// Blocking: a KC×nr B panel stays in L1, an MC×KC A block in L2 and the
// KC×NC B block in L3.
const (
	gemmKC = 256
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

var packPool sync.Pool // *[]float32 A-block buffers

func sgemm(kr microKernel, g *GemmArgs, a, b, c []float32) {
	mr, nr := kr.mr, kr.nr
	rsA, csA := opStrides(g.TransA, g.LdA)
	rsB, csB := opStrides(g.TransB, g.LdB)
	M, N, K := g.M, g.N, g.K
	bpack := make([]float32, ((min(gemmNC, N)+nr-1)/nr)*nr*min(gemmKC, max(K, 1)))
	// MC shrinks for small M so every core gets blocks.
	mc := gemmMC
	if per := (M + 4 - 1) / 4; per < mc {
		mc = max(mr, (per+mr-1)/mr*mr)
	}
	for bi := range g.Batch {
		oa, ob, oc := g.OffA+bi*g.StrideA, g.OffB+bi*g.StrideB, g.OffC+bi*g.StrideC
		scaleC(c, oc, M, N, g.LdC, g.Beta)
		if K == 0 || N == 0 || M == 0 || g.Alpha == 0 {
			continue
		}
		for jc := 0; jc < N; jc += gemmNC {
			nb := min(gemmNC, N-jc)
			npan := (nb + nr - 1) / nr
			for pc := 0; pc < K; pc += gemmKC {
				kb := min(gemmKC, K-pc)
				parallel(npan, kb*nr, func(lo, hi int) {
					for p := lo; p < hi; p++ {
						packB(bpack[p*kb*nr:(p+1)*kb*nr], b, ob+pc*rsB+(jc+p*nr)*csB, rsB, csB, kb, min(nr, nb-p*nr), nr)
					}
				})
				nblk := (M + mc - 1) / mc
				parallel(nblk, mc*kb*nb, func(lo, hi int) {
					ap := packPool.Get()
					if ap == nil || cap(*ap.(*[]float32)) < mc*gemmKC {
						s := make([]float32, (mc+mr)*gemmKC)
						ap = &s
					}
					apack := *ap.(*[]float32)
					var tile [32 * 32]float32
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
									kr.fn(kb, apan, bp, &c[co], g.LdC, g.Alpha)
									continue
								}
								t := tile[:mr*nr]
								clear(t)
								kr.fn(kb, apan, bp, &t[0], nr, g.Alpha)
								for i := range mm {
									crow := c[co+i*g.LdC : co+i*g.LdC+nn]
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
// columns, the rest zero): dst[k*nr + j] = B[off + k*rs + j*cs].
func packB(dst, b []float32, off, rs, cs, kb, nn, nr int) {
	for k := range kb {
		row := dst[k*nr : (k+1)*nr]
		src := off + k*rs
		if cs == 1 {
			copy(row[:nn], b[src:src+nn])
		} else {
			for j := range nn {
				row[j] = b[src+j*cs]
			}
		}
		clear(row[nn:])
	}
}

// packA writes a kb×mr panel of op(A) starting at element off (mm valid
// rows, the rest zero): dst[k*mr + i] = A[off + i*rs + k*cs].
func packA(dst, a []float32, off, rs, cs, kb, mm, mr int) {
	if mm < mr {
		clear(dst[:kb*mr])
	}
	for i := range mm {
		src := off + i*rs
		if cs == 1 {
			row := a[src : src+kb]
			for k, v := range row {
				dst[k*mr+i] = v
			}
		} else {
			for k := range kb {
				dst[k*mr+i] = a[src+k*cs]
			}
		}
	}
}

// goKernel4x16 is the portable micro-kernel.
func goKernel4x16(k int, a, b, c *float32, ldc int, alpha float32) {
	as := unsafe.Slice(a, 4*k)
	bs := unsafe.Slice(b, 16*k)
	var acc [4][16]float32
	for p := range k {
		bp := (*[16]float32)(bs[p*16 : p*16+16])
		ap := as[p*4 : p*4+4]
		for i := range 4 {
			ai := ap[i]
			r := &acc[i]
			for j := range 16 {
				r[j] += ai * bp[j]
			}
		}
	}
	cs := unsafe.Slice(c, 3*ldc+16)
	for i := range 4 {
		row := cs[i*ldc : i*ldc+16]
		for j := range 16 {
			row[j] += alpha * acc[i][j]
		}
	}
}
