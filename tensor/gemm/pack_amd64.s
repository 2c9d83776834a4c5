//go:build amd64 && !purego

#include "textflag.h"

// func transpose8(dst *float32, w int, rows *[8]*float32, kb int)
//
// For p < kb rounded down to 8, stores (rows[0][p], ..., rows[7][p]) as 8
// floats at dst + p·w: eight source rows become kb groups of a packed panel.
// Eight columns at a time are loaded (one YMM per row) and transposed in
// registers with the usual unpack / shuffle / lane-permute steps. When w < 8
// or the group is the last of a panel, a store runs past the group into the
// next one; the caller orders its calls so that later stores fix that up.
TEXT ·transpose8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), DX
	SHLQ $2, DX // group stride in bytes
	MOVQ kb+24(FP), CX
	SHRQ $3, CX
	JZ   done
	MOVQ rows+16(FP), SI
	MOVQ 0(SI), R8
	MOVQ 8(SI), R9
	MOVQ 16(SI), R10
	MOVQ 24(SI), R11
	MOVQ 32(SI), R12
	MOVQ 40(SI), R13
	MOVQ 48(SI), BX
	MOVQ 56(SI), SI
	XORQ AX, AX // byte offset of column p in every row

loop:
	VMOVUPS (R8)(AX*1), Y0
	VMOVUPS (R9)(AX*1), Y1
	VMOVUPS (R10)(AX*1), Y2
	VMOVUPS (R11)(AX*1), Y3
	VMOVUPS (R12)(AX*1), Y4
	VMOVUPS (R13)(AX*1), Y5
	VMOVUPS (BX)(AX*1), Y6
	VMOVUPS (SI)(AX*1), Y7

	// Pairs of rows interleaved: Y8 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5].
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	// Quads: Y0 = r0[0] r1[0] r2[0] r3[0] | r0[4] r1[4] r2[4] r3[4].
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	// Lanes joined: column j of the 8 rows.
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	VMOVUPS Y8, (DI)
	ADDQ    DX, DI
	VMOVUPS Y9, (DI)
	ADDQ    DX, DI
	VMOVUPS Y10, (DI)
	ADDQ    DX, DI
	VMOVUPS Y11, (DI)
	ADDQ    DX, DI
	VMOVUPS Y12, (DI)
	ADDQ    DX, DI
	VMOVUPS Y13, (DI)
	ADDQ    DX, DI
	VMOVUPS Y14, (DI)
	ADDQ    DX, DI
	VMOVUPS Y15, (DI)
	ADDQ    DX, DI

	ADDQ $32, AX
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET

// func copyGroupsAVX(dst, src *float32, ld, n, w int)
//
// Copies n groups of w ≥ 4 floats, group i from src + i·ld to dst + i·w,
// with 32-byte moves (16-byte for w < 8); the last move of a group overlaps
// the one before it instead of stepping down to smaller sizes.
TEXT ·copyGroupsAVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	SHLQ $2, DX
	MOVQ n+24(FP), CX
	MOVQ w+32(FP), BX
	SHLQ $2, BX
	TESTQ CX, CX
	JZ    done
	CMPQ  BX, $32
	JLT   small
	LEAQ  -32(BX), R8 // offset of each group's last 32 bytes

big:
	XORQ AX, AX

chunk:
	CMPQ    AX, R8
	JGE     last
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     chunk

last:
	VMOVUPS (SI)(R8*1), Y0
	VMOVUPS Y0, (DI)(R8*1)
	ADDQ    DX, SI
	ADDQ    BX, DI
	DECQ    CX
	JNZ     big
	JMP     done

small:
	LEAQ -16(BX), R8

smallloop:
	VMOVUPS (SI), X0
	VMOVUPS (SI)(R8*1), X1
	VMOVUPS X0, (DI)
	VMOVUPS X1, (DI)(R8*1)
	ADDQ    DX, SI
	ADDQ    BX, DI
	DECQ    CX
	JNZ     smallloop

done:
	VZEROUPPER
	RET

// func widenAVX2(dst *float32, src *uint16, n int)
// Widens n bfloat16 (n a multiple of 8) to float32: zero-extend each
// 16-bit value to 32 bits and shift it into the top half.
TEXT ·widenAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   widen_done

widen_loop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       widen_loop

widen_done:
	VZEROUPPER
	RET
