//go:build amd64 && !purego

#include "textflag.h"

// Float32 vector kernels for exp and GELU with AVX2 and FMA, eight lanes at
// a time (see cpu_vec32.go; their scalar twins are in cpu_math32.go, the same
// method and constants, and their measured errors are asserted by
// cpu_math32_test.go).

// Each constant is stored eight times, a full YMM vector, so that it can be
// a memory operand of a 256-bit instruction. Values are float32 bit patterns.
#define CONST8(name, v) DATA name<>+0(SB)/4, v; DATA name<>+4(SB)/4, v; DATA name<>+8(SB)/4, v; DATA name<>+12(SB)/4, v; DATA name<>+16(SB)/4, v; DATA name<>+20(SB)/4, v; DATA name<>+24(SB)/4, v; DATA name<>+28(SB)/4, v; GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(f32ExpLo, $0xc2b00000)    // -88
CONST8(f32ExpHi, $0x42b1999a)    // 88.8
CONST8(f32Magic, $0x4b400000)    // 1.5·2²³
CONST8(f32KBias, $0x4b3fff81)    // bits(1.5·2²³) − 127
CONST8(f32Log2E, $0x3fb8aa3b)    // 1/ln 2
CONST8(f32Ln2Hi, $0x3f318000)    // 0.693359375
CONST8(f32Ln2Lo, $0xb95e8083)    // ln 2 − 0.693359375
CONST8(f32C7, $0x39500d01)       // 1/7!
CONST8(f32C6, $0x3ab60b61)       // 1/6!
CONST8(f32C5, $0x3c088889)       // 1/5!
CONST8(f32C4, $0x3d2aaaab)       // 1/4!
CONST8(f32C3, $0x3e2aaaab)       // 1/3!
CONST8(f32One, $0x3f800000)      // 1
CONST8(f32Half, $0x3f000000)     // 1/2
CONST8(f32Sqrt1_2, $0x3f3504f3)  // 1/√2
CONST8(f32InvS2Pi, $0x3ecc422a)  // 1/√(2π)
CONST8(f32Clamp, $0x41600000)    // 14
CONST8(f32NClamp, $0xc1600000)   // -14
CONST8(f32Abs, $0x7fffffff)
CONST8(f32Sign, $0x80000000)
CONST8(f32NegInf, $0xff800000)
CONST8(f32E0, $0xbfa1fc4e)
CONST8(f32E1, $0x3f8000c7)
CONST8(f32E2, $0x3ebf88fb)
CONST8(f32E3, $0x3dc636c9)
CONST8(f32E4, $0xbe3ec24c)
CONST8(f32E5, $0x3e8ec7cc)
CONST8(f32E6, $0xbf914e5d)
CONST8(f32E7, $0x3fbe87b0)
CONST8(f32E8, $0xbf527892)
CONST8(f32E9, $0x3e2ef945)

// tailMask<>+32−4r holds r lanes of all ones then zeros: the lane mask of
// a tail of r < 8 elements, for VMASKMOVPS (masked-off lanes read 0, are not
// written, and never fault).
DATA tailMask<>+0(SB)/8, $-1
DATA tailMask<>+8(SB)/8, $-1
DATA tailMask<>+16(SB)/8, $-1
DATA tailMask<>+24(SB)/8, $-1
DATA tailMask<>+32(SB)/8, $0
DATA tailMask<>+40(SB)/8, $0
DATA tailMask<>+48(SB)/8, $0
DATA tailMask<>+56(SB)/8, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// TAILMASK sets M to the lane mask of the last CX < 8 elements (AX scratch).
#define TAILMASK(M) \
	LEAQ tailMask<>+32(SB), AX; \
	SHLQ $2, CX; \
	SUBQ CX, AX; \
	VMOVUPS (AX), M

// EXPR finishes e^X for eight lanes from the reduced argument: P holds
// k + 1.5·2²³ (k the integer nearest X·log2 e) and R = X − k·ln2, |R| ≲
// ln2/2. It evaluates e^R as its Taylor polynomial to degree 7 into K and
// leaves K·2^k in X. k = −127 gives the scale +0 (the result is 0), k = 128
// gives +Inf.
#define EXPR(X, R, K, P) \
	VMOVUPS f32C7<>(SB), K; \
	VFMADD213PS f32C6<>(SB), R, K; \
	VFMADD213PS f32C5<>(SB), R, K; \
	VFMADD213PS f32C4<>(SB), R, K; \
	VFMADD213PS f32C3<>(SB), R, K; \
	VFMADD213PS f32Half<>(SB), R, K; \
	VFMADD213PS f32One<>(SB), R, K; \
	VFMADD213PS f32One<>(SB), R, K; \
	VPSUBD f32KBias<>(SB), P, P; \
	VPSLLD $23, P, P; \
	VMULPS P, K, X

// EXP32 sets X = e^X for eight float32 lanes, K and P scratch. X is clamped
// to [−88, 88.8] (a NaN passes through), then split as k·ln2 + r.
#define EXP32(X, K, P) \
	VMOVUPS f32ExpLo<>(SB), K; \
	VMAXPS X, K, X; \
	VMOVUPS f32ExpHi<>(SB), K; \
	VMINPS X, K, X; \
	VMOVUPS f32Magic<>(SB), P; \
	VFMADD231PS f32Log2E<>(SB), X, P; \
	VSUBPS f32Magic<>(SB), P, K; \
	VFNMADD231PS f32Ln2Hi<>(SB), K, X; \
	VFNMADD231PS f32Ln2Lo<>(SB), K, X; \
	EXPR(X, X, K, P)

// EXPHL sets X = e^(X + L) for eight lanes, where X + L is not above 88 and
// L is small beside X's rounding (L carries the low part of X): k is taken
// from X + L clamped below at −88, and r = ((X − k·ln2hi) + L) − k·ln2lo.
// K and P are scratch.
#define EXPHL(X, L, K, P) \
	VADDPS L, X, K; \
	VMOVUPS f32ExpLo<>(SB), P; \
	VMAXPS K, P, K; \
	VMOVUPS f32Magic<>(SB), P; \
	VFMADD231PS f32Log2E<>(SB), K, P; \
	VSUBPS f32Magic<>(SB), P, K; \
	VFNMADD231PS f32Ln2Hi<>(SB), K, X; \
	VADDPS L, X, X; \
	VFNMADD231PS f32Ln2Lo<>(SB), K, X; \
	EXPR(X, X, K, P)

// PHI32 sets C = Φ(X), the standard normal distribution, for eight lanes,
// and XC = X clamped to [−14, 14]; T, K, P, S are scratch. With a = |XC|/√2
// and t = 1/(1 + a/2), erfc(a) = t·exp(−a² + P(t)) (Numerical Recipes'
// Chebyshev fit, section 6.2), where a² = XC²/2 is carried exactly as a
// float32 pair hi + lo, so the large exponent of the tails loses nothing to
// rounding; Φ = erfc(a)/2 for X < 0, 1 − erfc(a)/2 else. It leaves H = −hi
// and L = −lo, for φ(X).
#define PHI32(X, XC, C, H, L, T, K, P, S) \
	VMOVUPS f32NClamp<>(SB), K; \
	VMAXPS X, K, XC; \
	VMOVUPS f32Clamp<>(SB), K; \
	VMINPS XC, K, XC; \
	VMULPS XC, XC, H; \
	VMOVAPS H, L; \
	VFMSUB231PS XC, XC, L; \
	VXORPS f32Sign<>(SB), H, H; \
	VMULPS f32Half<>(SB), H, H; \
	VXORPS f32Sign<>(SB), L, L; \
	VMULPS f32Half<>(SB), L, L; \
	VANDPS f32Abs<>(SB), XC, T; \
	VMULPS f32Sqrt1_2<>(SB), T, T; \
	VMOVUPS f32One<>(SB), C; \
	VFMADD231PS f32Half<>(SB), T, C; \
	VMOVUPS f32One<>(SB), T; \
	VDIVPS C, T, T; \
	VMOVUPS f32E9<>(SB), C; \
	VFMADD213PS f32E8<>(SB), T, C; \
	VFMADD213PS f32E7<>(SB), T, C; \
	VFMADD213PS f32E6<>(SB), T, C; \
	VFMADD213PS f32E5<>(SB), T, C; \
	VFMADD213PS f32E4<>(SB), T, C; \
	VFMADD213PS f32E3<>(SB), T, C; \
	VFMADD213PS f32E2<>(SB), T, C; \
	VFMADD213PS f32E1<>(SB), T, C; \
	VFMADD213PS f32E0<>(SB), T, C; \
	VADDPS L, C, C; \
	VMOVAPS H, K; \
	EXPHL(K, C, S, P); \
	VMULPS T, K, K; \
	VMULPS f32Half<>(SB), K, K; \
	VMOVUPS f32One<>(SB), C; \
	VSUBPS K, C, C; \
	VBLENDVPS X, K, C, C

// SLOPE32 sets E = GELU'(X) = C + XC·φ(XC) from PHI32's C, XC, H, L
// (H and L are consumed); K and P are scratch.
#define SLOPE32(E, C, XC, H, L, K, P) \
	VMOVAPS H, E; \
	EXPHL(E, L, K, P); \
	VMULPS f32InvS2Pi<>(SB), E, E; \
	VFMADD213PS C, XC, E

// Every kernel below takes any n ≥ 0: the last n mod 8 elements run
// through the same instructions in masked lanes, so an element's result does
// not depend on its position or on the length (and a sum's lanes are those
// of the slice padded to a multiple of 8 with zeros).

// func exp32AVX2(dst, src *float32, n int, shift float32)
// dst[i] = e^(src[i] − shift), the difference rounded to float32 first.
// dst may be src.
TEXT ·exp32AVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15

exp32_loop:
	CMPQ CX, $8
	JLT  exp32_tail
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	EXP32(Y0, Y1, Y2)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  exp32_loop

exp32_tail:
	TESTQ CX, CX
	JEQ   exp32_done
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VSUBPS Y15, Y0, Y0
	EXP32(Y0, Y1, Y2)
	VMASKMOVPS Y0, Y11, (DI)

exp32_done:
	VZEROUPPER
	RET

// func expSum32AVX2(dst, src *float32, n int, shift float32) float64
// As exp32AVX2, and returns the float64 sum of the float32 exponentials,
// lane by lane, then the lanes in a fixed order (the tail's masked lanes
// read −Inf, adding 0).
TEXT ·expSum32AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	VXORPD Y13, Y13, Y13
	VXORPD Y14, Y14, Y14

expsum32_loop:
	CMPQ CX, $8
	JLT  expsum32_tail
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	EXP32(Y0, Y1, Y2)
	VMOVUPS Y0, (DI)
	VCVTPS2PD X0, Y3
	VEXTRACTF128 $1, Y0, X4
	VCVTPS2PD X4, Y4
	VADDPD Y3, Y13, Y13
	VADDPD Y4, Y14, Y14
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  expsum32_loop

expsum32_tail:
	TESTQ CX, CX
	JEQ   expsum32_done
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VMOVUPS f32NegInf<>(SB), Y1
	VBLENDVPS Y11, Y0, Y1, Y0
	VSUBPS Y15, Y0, Y0
	EXP32(Y0, Y1, Y2)
	VMASKMOVPS Y0, Y11, (DI)
	VCVTPS2PD X0, Y3
	VEXTRACTF128 $1, Y0, X4
	VCVTPS2PD X4, Y4
	VADDPD Y3, Y13, Y13
	VADDPD Y4, Y14, Y14

expsum32_done:
	VADDPD       Y14, Y13, Y13
	VEXTRACTF128 $1, Y13, X14
	VADDPD       X14, X13, X13
	VPERMILPD    $1, X13, X14
	VADDSD       X14, X13, X13
	MOVSD        X13, ret+32(FP)
	VZEROUPPER
	RET

// func addExp32AVX2(acc, x *float32, n int, shift, a float32, write bool)
// acc[i] = acc[i] + a·e^(x[i] − shift) in one fused multiply-add; with
// write, acc[i] = a·e^(x[i] − shift) (the same multiply-add on 0, acc not
// read).
TEXT ·addExp32AVX2(SB), NOSPLIT, $0-33
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y15
	VBROADCASTSS a+28(FP), Y14
	MOVBQZX write+32(FP), R10

addexp32_loop:
	CMPQ CX, $8
	JLT  addexp32_tail
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	EXP32(Y0, Y1, Y2)
	VXORPS Y3, Y3, Y3
	TESTQ R10, R10
	JNE  addexp32_fma
	VMOVUPS (DI), Y3

addexp32_fma:
	VFMADD231PS Y14, Y0, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  addexp32_loop

addexp32_tail:
	TESTQ CX, CX
	JEQ   addexp32_done
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VSUBPS Y15, Y0, Y0
	EXP32(Y0, Y1, Y2)
	VXORPS Y3, Y3, Y3
	TESTQ R10, R10
	JNE  addexp32_tailfma
	VMASKMOVPS (DI), Y11, Y3

addexp32_tailfma:
	VFMADD231PS Y14, Y0, Y3
	VMASKMOVPS Y3, Y11, (DI)

addexp32_done:
	VZEROUPPER
	RET

// func gelu32AVX2(y, x *float32, n int)
// y[i] = x[i]·Φ(x[i]). y may be x.
TEXT ·gelu32AVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX

gelu32_loop:
	CMPQ CX, $8
	JLT  gelu32_tail
	VMOVUPS (SI), Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	VMULPS Y2, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  gelu32_loop

gelu32_tail:
	TESTQ CX, CX
	JEQ   gelu32_done
	TAILMASK(Y13)
	VMASKMOVPS (SI), Y13, Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	VMULPS Y2, Y0, Y0
	VMASKMOVPS Y0, Y13, (DI)

gelu32_done:
	VZEROUPPER
	RET

// func geluBack32AVX2(dx, x, dy *float32, n int)
// dx[i] = dx[i] + dy[i]·GELU'(x[i]) in one fused multiply-add.
TEXT ·geluBack32AVX2(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX

gelub32_loop:
	CMPQ CX, $8
	JLT  gelub32_tail
	VMOVUPS (SI), Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	SLOPE32(Y8, Y2, Y1, Y3, Y4, Y6, Y7)
	VMOVUPS (DI), Y9
	VFMADD231PS (DX), Y8, Y9
	VMOVUPS Y9, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  gelub32_loop

gelub32_tail:
	TESTQ CX, CX
	JEQ   gelub32_done
	TAILMASK(Y13)
	VMASKMOVPS (SI), Y13, Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	SLOPE32(Y8, Y2, Y1, Y3, Y4, Y6, Y7)
	VMASKMOVPS (DI), Y13, Y9
	VMASKMOVPS (DX), Y13, Y10
	VFMADD231PS Y10, Y8, Y9
	VMASKMOVPS Y9, Y13, (DI)

gelub32_done:
	VZEROUPPER
	RET

// func geglu32AVX2(o, u, gate *float32, n int)
// o[i] = (u[i]·Φ(u[i]))·g[i], each product rounded.
TEXT ·geglu32AVX2(SB), NOSPLIT, $0-32
	MOVQ o+0(FP), DI
	MOVQ u+8(FP), SI
	MOVQ gate+16(FP), DX
	MOVQ n+24(FP), CX

geglu32_loop:
	CMPQ CX, $8
	JLT  geglu32_tail
	VMOVUPS (SI), Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	VMULPS Y2, Y0, Y0
	VMULPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	SUBQ $8, CX
	JMP  geglu32_loop

geglu32_tail:
	TESTQ CX, CX
	JEQ   geglu32_done
	TAILMASK(Y13)
	VMASKMOVPS (SI), Y13, Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	VMULPS Y2, Y0, Y0
	VMASKMOVPS (DX), Y13, Y8
	VMULPS Y8, Y0, Y0
	VMASKMOVPS Y0, Y13, (DI)

geglu32_done:
	VZEROUPPER
	RET

// func gegluBack32AVX2(du, dg, u, gate, dy *float32, n int, write bool)
// With y = GELU(u)·gate: du[i] += (dy[i]·gate[i])·GELU'(u[i]) and
// dg[i] += dy[i]·GELU(u[i]), each sum one fused multiply-add; with write,
// the same multiply-adds on 0 (du and dg not read).
TEXT ·gegluBack32AVX2(SB), NOSPLIT, $0-49
	MOVQ du+0(FP), DI
	MOVQ dg+8(FP), R8
	MOVQ u+16(FP), SI
	MOVQ gate+24(FP), R9
	MOVQ dy+32(FP), DX
	MOVQ n+40(FP), CX
	MOVBQZX write+48(FP), R10

geglub32_loop:
	CMPQ CX, $8
	JLT  geglub32_tail
	VMOVUPS (SI), Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	VMULPS Y2, Y0, Y10
	SLOPE32(Y8, Y2, Y1, Y3, Y4, Y6, Y7)
	VMOVUPS (DX), Y11
	VXORPS Y9, Y9, Y9
	VXORPS Y14, Y14, Y14
	TESTQ R10, R10
	JNE  geglub32_fma
	VMOVUPS (R8), Y9
	VMOVUPS (DI), Y14

geglub32_fma:
	VFMADD231PS Y10, Y11, Y9
	VMOVUPS Y9, (R8)
	VMULPS (R9), Y11, Y11
	VFMADD231PS Y8, Y11, Y14
	VMOVUPS Y14, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JMP  geglub32_loop

geglub32_tail:
	TESTQ CX, CX
	JEQ   geglub32_done
	TAILMASK(Y13)
	VMASKMOVPS (SI), Y13, Y0
	PHI32(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y12)
	VMULPS Y2, Y0, Y10
	SLOPE32(Y8, Y2, Y1, Y3, Y4, Y6, Y7)
	VMASKMOVPS (DX), Y13, Y11
	VXORPS Y9, Y9, Y9
	VXORPS Y14, Y14, Y14
	TESTQ R10, R10
	JNE  geglub32_tailfma
	VMASKMOVPS (R8), Y13, Y9
	VMASKMOVPS (DI), Y13, Y14

geglub32_tailfma:
	VFMADD231PS Y10, Y11, Y9
	VMASKMOVPS Y9, Y13, (R8)
	VMASKMOVPS (R9), Y13, Y10
	VMULPS Y10, Y11, Y11
	VFMADD231PS Y8, Y11, Y14
	VMASKMOVPS Y14, Y13, (DI)

geglub32_done:
	VZEROUPPER
	RET
