//go:build amd64 && !purego

#include "textflag.h"

// func expAVX512(dst, src *float32, n int)
//
// dst[i] = e^src[i] for i < n, n a multiple of 16: Cephes' expf in 16
// lanes. e^x = 2^f * e^r with f = round(x*log2 e), r = x - f*ln 2 (in two
// parts), e^r by a degree-6 polynomial, and VSCALEFPS multiplying by 2^f
// (it also saturates to 0 and +Inf far out of range).
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JEQ  done
	MOVL $0x3fb8aa3b, AX // log2(e)
	VPBROADCASTD AX, Z16
	MOVL $0x3f318000, AX // c1 = 0.693359375
	VPBROADCASTD AX, Z17
	MOVL $0xb95e8083, AX // c2 = -2.12194440e-4
	VPBROADCASTD AX, Z18
	MOVL $0x39506967, AX // p0 = 1.9875691500e-4
	VPBROADCASTD AX, Z19
	MOVL $0x3ab743ce, AX // p1 = 1.3981999507e-3
	VPBROADCASTD AX, Z20
	MOVL $0x3c088908, AX // p2 = 8.3334519073e-3
	VPBROADCASTD AX, Z21
	MOVL $0x3d2aa9c1, AX // p3 = 4.1665795894e-2
	VPBROADCASTD AX, Z22
	MOVL $0x3e2aaaaa, AX // p4 = 1.6666665459e-1
	VPBROADCASTD AX, Z23
	MOVL $0x3f000000, AX // p5 = 0.5
	VPBROADCASTD AX, Z24
	MOVL $0x3f800000, AX // 1
	VPBROADCASTD AX, Z25
	MOVL $0xc2b0c0a5, AX // -88.376 (below it e^x underflows anyway)
	VPBROADCASTD AX, Z26
	MOVL $0x42b20000, AX // 89: above 88.72 the result saturates to +Inf
	VPBROADCASTD AX, Z27

loop:
	VMOVUPS (SI), Z0
	VMAXPS Z0, Z26, Z0       // clamp; a NaN in x survives
	VMINPS Z0, Z27, Z0
	VMULPS Z16, Z0, Z1
	VRNDSCALEPS $0, Z1, Z1   // f = round(x*log2e)
	VFNMADD231PS Z17, Z1, Z0 // r = x - f*c1
	VFNMADD231PS Z18, Z1, Z0 // r -= f*c2
	VMOVAPS Z19, Z2
	VFMADD213PS Z20, Z0, Z2  // p = p*r + p1
	VFMADD213PS Z21, Z0, Z2
	VFMADD213PS Z22, Z0, Z2
	VFMADD213PS Z23, Z0, Z2
	VFMADD213PS Z24, Z0, Z2
	VMULPS Z0, Z0, Z3        // r²
	VADDPS Z25, Z0, Z4       // r + 1
	VFMADD231PS Z3, Z2, Z4   // p*r² + r + 1
	VSCALEFPS Z1, Z4, Z4     // * 2^f
	VMOVUPS Z4, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE  loop

done:
	VZEROUPPER
	RET

// func tanhAVX512(dst, src *float32, n int, c float32)
//
// dst[i] = c*tanh(src[i]/c) for i < n, n a multiple of 16, as
// sign(z) * (1 - 2/(e^{2|z|} + 1)) with the exp above.
TEXT ·tanhAVX512(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JEQ  tdone
	MOVL $0x3fb8aa3b, AX // log2(e)
	VPBROADCASTD AX, Z16
	MOVL $0x3f318000, AX // c1 = 0.693359375
	VPBROADCASTD AX, Z17
	MOVL $0xb95e8083, AX // c2 = -2.12194440e-4
	VPBROADCASTD AX, Z18
	MOVL $0x39506967, AX // p0 = 1.9875691500e-4
	VPBROADCASTD AX, Z19
	MOVL $0x3ab743ce, AX // p1 = 1.3981999507e-3
	VPBROADCASTD AX, Z20
	MOVL $0x3c088908, AX // p2 = 8.3334519073e-3
	VPBROADCASTD AX, Z21
	MOVL $0x3d2aa9c1, AX // p3 = 4.1665795894e-2
	VPBROADCASTD AX, Z22
	MOVL $0x3e2aaaaa, AX // p4 = 1.6666665459e-1
	VPBROADCASTD AX, Z23
	MOVL $0x3f000000, AX // p5 = 0.5
	VPBROADCASTD AX, Z24
	MOVL $0x3f800000, AX // 1
	VPBROADCASTD AX, Z25
	MOVL $0xc2b0c0a5, AX // -88.376 (below it e^x underflows anyway)
	VPBROADCASTD AX, Z26
	MOVL $0x42b20000, AX // 89: above 88.72 the result saturates to +Inf
	VPBROADCASTD AX, Z27

	VBROADCASTSS c+24(FP), Z28
	VDIVPS Z28, Z25, Z29     // 1/c
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z30     // abs mask
	VADDPS Z25, Z25, Z31     // 2

tloop:
	VMOVUPS (SI), Z5
	VMULPS Z29, Z5, Z5       // z = x/c
	VPANDD Z30, Z5, Z0       // |z|
	VADDPS Z0, Z0, Z0        // 2|z|
	VMINPS Z0, Z27, Z0       // clamp above (NaN survives)
	VMULPS Z16, Z0, Z1
	VRNDSCALEPS $0, Z1, Z1
	VFNMADD231PS Z17, Z1, Z0
	VFNMADD231PS Z18, Z1, Z0
	VMOVAPS Z19, Z2
	VFMADD213PS Z20, Z0, Z2
	VFMADD213PS Z21, Z0, Z2
	VFMADD213PS Z22, Z0, Z2
	VFMADD213PS Z23, Z0, Z2
	VFMADD213PS Z24, Z0, Z2
	VMULPS Z0, Z0, Z3
	VADDPS Z25, Z0, Z4
	VFMADD231PS Z3, Z2, Z4
	VSCALEFPS Z1, Z4, Z4     // e = e^{2|z|}
	VADDPS Z25, Z4, Z4       // e + 1
	VDIVPS Z4, Z31, Z4       // 2/(e+1)
	VSUBPS Z4, Z25, Z4       // t = 1 - 2/(e+1) = tanh|z|
	VPANDND Z5, Z30, Z6      // sign bit of z
	VPORD Z6, Z4, Z4         // copysign
	VMULPS Z28, Z4, Z4       // * c
	VMOVUPS Z4, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE  tloop

tdone:
	VZEROUPPER
	RET
