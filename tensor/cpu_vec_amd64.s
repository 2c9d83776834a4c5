//go:build amd64 && !purego

#include "textflag.h"

// Vector kernels with AVX2 and FMA (see cpu_vec.go). The exponentials
// widen 4 float32 values at a time to float64 lanes and compute with the
// same formulas as the scalar code in cpu_math.go, so their accuracy is that
// of the float64 math, rounded once to float32 at the end.

// Each constant is stored four times, a full YMM vector, so that it can be a
// memory operand of a 256-bit instruction.
#define CONST4(name, v) DATA name<>+0(SB)/8, v; DATA name<>+8(SB)/8, v; DATA name<>+16(SB)/8, v; DATA name<>+24(SB)/8, v; GLOBL name<>(SB), RODATA|NOPTR, $32

CONST4(expLo, $-708.0)
CONST4(expHi, $709.0)
CONST4(roundMagic, $6755399441055744.0)
CONST4(log2E, $1.4426950408889634)
CONST4(ln2Hi, $6.93147180369123816490e-01)
CONST4(ln2Lo, $1.90821492927058770002e-10)
CONST4(c1, $1.0)
CONST4(c2, $0.5)
CONST4(c3, $0.16666666666666666)
CONST4(c4, $0.041666666666666664)
CONST4(c5, $0.008333333333333333)
CONST4(c6, $0.001388888888888889)
CONST4(c7, $0.0001984126984126984)
CONST4(c8, $2.48015873015873e-05)

DATA expBias<>+0(SB)/8, $1023
DATA expBias<>+8(SB)/8, $1023
DATA expBias<>+16(SB)/8, $1023
DATA expBias<>+24(SB)/8, $1023
GLOBL expBias<>(SB), RODATA|NOPTR, $32

// EXP sets X = e^X for four float64 lanes, using K and P as scratch: X is
// clamped to [-708, 709] (NaN passes through), split as k·ln2 + r, and e^r
// is the degree-8 Taylor polynomial, scaled by 2^k built in the exponent
// bits. Same method and constants as expF64.
#define EXP(X, K, P) \
	VMOVUPD expLo<>(SB), K; \
	VMAXPD X, K, X; \
	VMOVUPD expHi<>(SB), K; \
	VMINPD X, K, X; \
	VMOVUPD roundMagic<>(SB), K; \
	VFMADD231PD log2E<>(SB), X, K; \
	VSUBPD roundMagic<>(SB), K, P; \
	VFNMADD231PD ln2Hi<>(SB), P, X; \
	VFNMADD231PD ln2Lo<>(SB), P, X; \
	VMOVUPD c8<>(SB), P; \
	VFMADD213PD c7<>(SB), X, P; \
	VFMADD213PD c6<>(SB), X, P; \
	VFMADD213PD c5<>(SB), X, P; \
	VFMADD213PD c4<>(SB), X, P; \
	VFMADD213PD c3<>(SB), X, P; \
	VFMADD213PD c2<>(SB), X, P; \
	VFMADD213PD c1<>(SB), X, P; \
	VFMADD213PD c1<>(SB), X, P; \
	VPSUBQ roundMagic<>(SB), K, K; \
	VPADDQ expBias<>(SB), K, K; \
	VPSLLQ $52, K, K; \
	VMULPD K, P, X

// func expSumAVX2(dst, src *float32, n int, shift float64) float64
// dst[i] = float32(e^(src[i] − shift)) for n a multiple of 8; returns the
// float64 sum of the unrounded exponentials, lane by lane, then the lanes in
// a fixed order.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSD shift+24(FP), Y15
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14

expsum_loop:
	CMPQ CX, $8
	JLT  expsum_done
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y3
	VSUBPD Y15, Y0, Y0
	VSUBPD Y15, Y3, Y3
	EXP(Y0, Y1, Y2)
	EXP(Y3, Y4, Y5)
	VADDPD Y0, Y13, Y13
	VADDPD Y3, Y14, Y14
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y3, X3
	VMOVUPS X0, (DI)
	VMOVUPS X3, 16(DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  expsum_loop

expsum_done:
	VADDPD       Y14, Y13, Y13
	VEXTRACTF128 $1, Y13, X14
	VADDPD       X14, X13, X13
	VPERMILPD    $1, X13, X14
	VADDSD       X14, X13, X13
	MOVSD        X13, ret+32(FP)
	VZEROUPPER
	RET

// func sumExpAVX2(src *float32, n int, shift float64) float64
// Σ e^(src[i] − shift) in float64 for n a multiple of 8, summed like
// expSumAVX2 (lane by lane, then the lanes in a fixed order), storing nothing.
TEXT ·sumExpAVX2(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD shift+16(FP), Y15
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14

sumexp_loop:
	CMPQ CX, $8
	JLT  sumexp_done
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y3
	VSUBPD Y15, Y0, Y0
	VSUBPD Y15, Y3, Y3
	EXP(Y0, Y1, Y2)
	EXP(Y3, Y4, Y5)
	VADDPD Y0, Y13, Y13
	VADDPD Y3, Y14, Y14
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  sumexp_loop

sumexp_done:
	VADDPD       Y14, Y13, Y13
	VEXTRACTF128 $1, Y13, X14
	VADDPD       X14, X13, X13
	VPERMILPD    $1, X13, X14
	VADDSD       X14, X13, X13
	MOVSD        X13, ret+24(FP)
	VZEROUPPER
	RET

// func maxNaNAVX2(x *float32, n int) (m float32, nan bool)
// The largest of x[0:n] (n a multiple of 8, ≥ 8) and whether any is NaN.
// NaNs leave the running maximum as it was (VMAXPS returns its second
// source, the accumulator, when either is NaN) and are flagged apart.
TEXT ·maxNaNAVX2(SB), NOSPLIT, $0-21
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VMOVUPS      (SI), Y0
	VCMPPS       $3, Y0, Y0, Y1
	ADDQ         $32, SI
	SUBQ         $8, CX

maxnan_loop:
	CMPQ    CX, $8
	JLT     maxnan_done
	VMOVUPS (SI), Y2
	VCMPPS  $3, Y2, Y2, Y3
	VORPS   Y3, Y1, Y1
	VMAXPS  Y0, Y2, Y0
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     maxnan_loop

maxnan_done:
	VEXTRACTF128 $1, Y0, X4
	VMAXPS       X0, X4, X0
	VPERMILPS    $0x4E, X0, X4
	VMAXPS       X0, X4, X0
	VPERMILPS    $0xB1, X0, X4
	VMAXPS       X0, X4, X0
	MOVSS        X0, m+16(FP)
	VMOVMSKPS    Y1, AX
	TESTL        AX, AX
	SETNE        nan+20(FP)
	VZEROUPPER
	RET

// func addF32AVX2(dst, x, v *float32, n int)
// dst[i] = x[i] + v[i] for n a multiple of 8 (≥ 8): one float32 add per
// element, the same rounding as the scalar x[i] + v[i]. dst may be x.
TEXT ·addF32AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ n+24(FP), CX

addf32_loop32:
	CMPQ    CX, $32
	JLT     addf32_loop8
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  64(DX), Y2, Y2
	VADDPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     addf32_loop32

addf32_loop8:
	CMPQ    CX, $8
	JLT     addf32_done
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     addf32_loop8

addf32_done:
	VZEROUPPER
	RET

// func adamwAVX2(param, grad, m, v *float32, n int, k *adamwConsts)
// One AdamW step on n elements (a multiple of 8), operation by operation in
// float32 as cpu_adamw.go's scalar loop does it for w1 < ½, each product,
// sum, quotient and square root rounded once (no FMA), so the results are
// bit for bit the scalar ones:
//
//	p ← p·decay;  m ← m + w1·(g − m);  v ← v·β2 + (w2·g)·g
//	p ← p + (−stepSize·m) / (√v / bc2Sqrt + eps)
//
// (√ of a float32 rounded once equals float32(math.Sqrt(float64(v)))).
TEXT ·adamwAVX2(SB), NOSPLIT, $0-48
	MOVQ param+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), BX
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // decay
	VBROADCASTSS 4(AX), Y9   // w1
	VBROADCASTSS 8(AX), Y10  // β2
	VBROADCASTSS 12(AX), Y11 // w2
	VBROADCASTSS 16(AX), Y12 // bc2Sqrt
	VBROADCASTSS 20(AX), Y13 // eps
	VBROADCASTSS 24(AX), Y14 // −stepSize

adamw_loop:
	CMPQ    CX, $8
	JLT     adamw_done
	VMOVUPS (SI), Y0         // g
	VMOVUPS (DI), Y1
	VMULPS  Y8, Y1, Y1       // p·decay
	VMOVUPS (DX), Y2         // m
	VSUBPS  Y2, Y0, Y3       // g − m
	VMULPS  Y9, Y3, Y3       // w1·(g − m)
	VADDPS  Y3, Y2, Y2       // m + w1·(g − m)
	VMOVUPS Y2, (DX)
	VMOVUPS (BX), Y4         // v
	VMULPS  Y10, Y4, Y4      // v·β2
	VMULPS  Y11, Y0, Y5      // w2·g
	VMULPS  Y0, Y5, Y5       // (w2·g)·g
	VADDPS  Y5, Y4, Y4
	VMOVUPS Y4, (BX)
	VSQRTPS Y4, Y6
	VDIVPS  Y12, Y6, Y6      // √v / bc2Sqrt
	VADDPS  Y13, Y6, Y6      // + eps
	VMULPS  Y14, Y2, Y7      // −stepSize·m
	VDIVPS  Y6, Y7, Y7
	VADDPS  Y7, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, BX
	SUBQ    $8, CX
	JMP     adamw_loop

adamw_done:
	VZEROUPPER
	RET

// func indexEqAVX2(x *float32, n int, v float32) int
// The first i < n (n a multiple of 8) with x[i] == v, or n: eight
// comparisons a step (equal, ordered: a NaN equals nothing, −0 equals +0, as
// Go's ==), stopping at the first step with a match.
TEXT ·indexEqAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS v+16(FP), Y1
	XORQ         AX, AX

indexeq_loop:
	CMPQ      AX, CX
	JGE       indexeq_none
	VCMPPS    $0, (SI)(AX*4), Y1, Y2
	VMOVMSKPS Y2, DX
	TESTL     DX, DX
	JNZ       indexeq_found
	ADDQ      $8, AX
	JMP       indexeq_loop

indexeq_found:
	BSFL DX, DX
	ADDQ DX, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

indexeq_none:
	MOVQ CX, ret+24(FP)
	VZEROUPPER
	RET

// func scaleF64AVX2(x *float32, n int, s float64)
// x[i] = float32(float64(x[i])·s) for n a multiple of 8: the product in
// float64, rounded once, as the scalar loop.
TEXT ·scaleF64AVX2(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSD s+16(FP), Y15

scalef64_loop:
	CMPQ       CX, $8
	JLT        scalef64_done
	VCVTPS2PD  (DI), Y0
	VCVTPS2PD  16(DI), Y1
	VMULPD     Y15, Y0, Y0
	VMULPD     Y15, Y1, Y1
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y1, X1
	VMOVUPS    X0, (DI)
	VMOVUPS    X1, 16(DI)
	ADDQ       $32, DI
	SUBQ       $8, CX
	JMP        scalef64_loop

scalef64_done:
	VZEROUPPER
	RET

// func subMulAVX2(d, p *float32, n int, s float32)
// d[i] = p[i]·(d[i] − s) for n a multiple of 8, in float32: a difference
// and a product, each rounded once, as the scalar loop.
TEXT ·subMulAVX2(SB), NOSPLIT, $0-28
	MOVQ         d+0(FP), DI
	MOVQ         p+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Y15

submul_loop:
	CMPQ    CX, $16
	JLT     submul_loop8
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y1, Y1
	VMULPS  (SI), Y0, Y0
	VMULPS  32(SI), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     submul_loop

submul_loop8:
	CMPQ    CX, $8
	JLT     submul_done
	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0
	VMULPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     submul_loop8

submul_done:
	VZEROUPPER
	RET

// func lnOutAVX2(out, x, gamma, beta *float32, n int, mu, inv float64)
// LayerNorm's output for one row, n a multiple of 4: out[j] =
// float32((x[j] − mu)·inv·gamma[j] (+ beta[j])) in float64, the operations
// in the scalar loop's order, each rounded once; beta may be nil.
TEXT ·lnOutAVX2(SB), NOSPLIT, $0-56
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         gamma+16(FP), DX
	MOVQ         beta+24(FP), BX
	MOVQ         n+32(FP), CX
	VBROADCASTSD mu+40(FP), Y14
	VBROADCASTSD inv+48(FP), Y15

lnout_loop:
	CMPQ      CX, $4
	JLT       lnout_done
	VCVTPS2PD (SI), Y0
	VSUBPD    Y14, Y0, Y0 // x − mu
	VMULPD    Y15, Y0, Y0 // ·inv
	VCVTPS2PD (DX), Y1
	VMULPD    Y1, Y0, Y0  // ·gamma
	TESTQ     BX, BX
	JZ        lnout_store
	VCVTPS2PD (BX), Y2
	VADDPD    Y2, Y0, Y0  // + beta
	ADDQ      $16, BX

lnout_store:
	VCVTPD2PSY Y0, X0
	VMOVUPS    X0, (DI)
	ADDQ       $16, DI
	ADDQ       $16, SI
	ADDQ       $16, DX
	SUBQ       $4, CX
	JMP        lnout_loop

lnout_done:
	VZEROUPPER
	RET

// func lnDxAVX2(dx, x, dy, gamma *float32, n int, mu, inv, sg, sgx float64)
// LayerNorm's dx for one row, n a multiple of 4, in float64 in the scalar
// loop's order: g = dy·gamma, x̂ = (x − mu)·inv,
// dx = float32(dx + inv·((g − sg) − x̂·sgx)).
TEXT ·lnDxAVX2(SB), NOSPLIT, $0-72
	MOVQ         dx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         dy+16(FP), DX
	MOVQ         gamma+24(FP), BX
	MOVQ         n+32(FP), CX
	VBROADCASTSD mu+40(FP), Y12
	VBROADCASTSD inv+48(FP), Y13
	VBROADCASTSD sg+56(FP), Y14
	VBROADCASTSD sgx+64(FP), Y15

lndx_loop:
	CMPQ       CX, $4
	JLT        lndx_done
	VCVTPS2PD  (DX), Y0
	VCVTPS2PD  (BX), Y1
	VMULPD     Y1, Y0, Y0  // g = dy·gamma
	VCVTPS2PD  (SI), Y2
	VSUBPD     Y12, Y2, Y2 // x − mu
	VMULPD     Y13, Y2, Y2 // x̂
	VSUBPD     Y14, Y0, Y0 // g − sg
	VMULPD     Y15, Y2, Y2 // x̂·sgx
	VSUBPD     Y2, Y0, Y0
	VMULPD     Y13, Y0, Y0 // inv·(…)
	VCVTPS2PD  (DI), Y3
	VADDPD     Y0, Y3, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS    X3, (DI)
	ADDQ       $16, DI
	ADDQ       $16, SI
	ADDQ       $16, DX
	ADDQ       $16, BX
	SUBQ       $4, CX
	JMP        lndx_loop

lndx_done:
	VZEROUPPER
	RET

// func lnColsAVX2(accG, accB *float64, x, dy *float32, n int, mu, inv float64)
// One row's terms of LayerNorm's dgamma and dbeta sums over columns, n a
// multiple of 4: accG[j] += (dy[j]·(x[j] − mu))·inv, accB[j] += dy[j] in
// float64, the scalar loop's operations in its order (each column's sum
// stays a sum over the rows in order); accB may be nil.
TEXT ·lnColsAVX2(SB), NOSPLIT, $0-56
	MOVQ         accG+0(FP), DI
	MOVQ         accB+8(FP), BX
	MOVQ         x+16(FP), SI
	MOVQ         dy+24(FP), DX
	MOVQ         n+32(FP), CX
	VBROADCASTSD mu+40(FP), Y14
	VBROADCASTSD inv+48(FP), Y15

lncols_loop:
	CMPQ      CX, $4
	JLT       lncols_done
	VCVTPS2PD (DX), Y0
	VCVTPS2PD (SI), Y1
	VSUBPD    Y14, Y1, Y1 // x − mu
	VMULPD    Y1, Y0, Y1  // dy·(x − mu)
	VMULPD    Y15, Y1, Y1 // ·inv
	VADDPD    (DI), Y1, Y1
	VMOVUPD   Y1, (DI)
	TESTQ     BX, BX
	JZ        lncols_next
	VADDPD    (BX), Y0, Y0
	VMOVUPD   Y0, (BX)
	ADDQ      $32, BX

lncols_next:
	ADDQ $32, DI
	ADDQ $16, SI
	ADDQ $16, DX
	SUBQ $4, CX
	JMP  lncols_loop

lncols_done:
	VZEROUPPER
	RET

// func ropeAVX2(y, x, cs, sn *float32, heads, d, half int)
// RoPE's rotation of one row's first heads heads (each d wide, its first
// 2·half coordinates rotated, half a multiple of 8): for each head and
// k < half, with a = x[k], b = x[k+half], c = cs[k], s = sn[k],
// y[k] = a·c − b·s and y[k+half] = b·c + a·s in float32, each product and
// sum rounded once, as the scalar loop.
TEXT ·ropeAVX2(SB), NOSPLIT, $0-56
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ heads+32(FP), R8
	MOVQ d+40(FP), R9
	MOVQ half+48(FP), R10
	SHLQ $2, R9  // bytes per head
	SHLQ $2, R10 // bytes per half

rope_head:
	TESTQ R8, R8
	JZ    rope_done
	MOVQ  cs+16(FP), AX
	MOVQ  sn+24(FP), BX
	XORQ  CX, CX

rope_k:
	CMPQ    CX, R10
	JGE     rope_next
	LEAQ    (SI)(CX*1), DX
	VMOVUPS (DX), Y0         // a
	VMOVUPS (DX)(R10*1), Y1  // b
	VMOVUPS (AX)(CX*1), Y2   // c
	VMOVUPS (BX)(CX*1), Y3   // s
	VMULPS  Y2, Y0, Y4       // a·c
	VMULPS  Y3, Y1, Y5       // b·s
	VSUBPS  Y5, Y4, Y4
	VMULPS  Y2, Y1, Y6       // b·c
	VMULPS  Y3, Y0, Y7       // a·s
	VADDPS  Y7, Y6, Y6
	LEAQ    (DI)(CX*1), DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y6, (DX)(R10*1)
	ADDQ    $32, CX
	JMP     rope_k

rope_next:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ R8
	JMP  rope_head

rope_done:
	VZEROUPPER
	RET

// func ropeBackAVX2(gx, gy, cs, sn *float32, heads, d, half int)
// RoPE's backward for one row's first heads heads, half a multiple of 8:
// with a = gy[k], b = gy[k+half], gx[k] += a·c + b·s and
// gx[k+half] += b·c − a·s in float32, as the scalar loop.
TEXT ·ropeBackAVX2(SB), NOSPLIT, $0-56
	MOVQ gx+0(FP), DI
	MOVQ gy+8(FP), SI
	MOVQ heads+32(FP), R8
	MOVQ d+40(FP), R9
	MOVQ half+48(FP), R10
	SHLQ $2, R9
	SHLQ $2, R10

ropeb_head:
	TESTQ R8, R8
	JZ    ropeb_done
	MOVQ  cs+16(FP), AX
	MOVQ  sn+24(FP), BX
	XORQ  CX, CX

ropeb_k:
	CMPQ    CX, R10
	JGE     ropeb_next
	LEAQ    (SI)(CX*1), DX
	VMOVUPS (DX), Y0         // a
	VMOVUPS (DX)(R10*1), Y1  // b
	VMOVUPS (AX)(CX*1), Y2   // c
	VMOVUPS (BX)(CX*1), Y3   // s
	VMULPS  Y2, Y0, Y4       // a·c
	VMULPS  Y3, Y1, Y5       // b·s
	VADDPS  Y5, Y4, Y4
	VMULPS  Y2, Y1, Y6       // b·c
	VMULPS  Y3, Y0, Y7       // a·s
	VSUBPS  Y7, Y6, Y6
	LEAQ    (DI)(CX*1), DX
	VADDPS  (DX), Y4, Y4     // gx[k] + (a·c + b·s)
	VMOVUPS Y4, (DX)
	VADDPS  (DX)(R10*1), Y6, Y6
	VMOVUPS Y6, (DX)(R10*1)
	ADDQ    $32, CX
	JMP     ropeb_k

ropeb_next:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ R8
	JMP  ropeb_head

ropeb_done:
	VZEROUPPER
	RET
